package rigtest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// childEnv names the machine the re-executed test binary pretends to be.
const childEnv = "REDSWITCH_RIGTEST_CHILD"

// machines are the probes a child can stand in with.
var machines = map[string]probe{
	"no-daemon": func(context.Context, string) (error, error) {
		return errors.New("cannot connect to the Docker daemon"), nil
	},
	"no-image": func(context.Context, string) (error, error) {
		return nil, errors.New("no such image")
	},
	"ready": func(context.Context, string) (error, error) { return nil, nil },
}

// TestRequire runs require in a child test process on a pretend machine,
// so that what is checked is what the testing package reports: a missing
// daemon or image fails under CI=true and skips otherwise, with the
// reason; a ready machine lets the test go on.
func TestRequire(t *testing.T) {
	if m := os.Getenv(childEnv); m != "" {
		t.Run("child", func(t *testing.T) {
			require(t, "redswitch-node:test", machines[m])
			t.Log("went on")
		})
		return
	}
	tests := []struct {
		machine  string
		ci       string // "" leaves CI unset
		wantFail bool
		want     []string
	}{
		{"no-daemon", "true", true, []string{"--- FAIL: TestRequire/child", "CI=true: needs docker: cannot connect"}},
		{"no-daemon", "", false, []string{"--- SKIP: TestRequire/child", "needs docker: cannot connect"}},
		{"no-image", "true", true, []string{"--- FAIL: TestRequire/child", "CI=true: needs docker image redswitch-node:test (make image): no such image"}},
		{"no-image", "", false, []string{"--- SKIP: TestRequire/child", "needs docker image redswitch-node:test"}},
		{"ready", "true", false, []string{"--- PASS: TestRequire/child", "went on"}},
	}
	for _, tt := range tests {
		t.Run(tt.machine+" CI="+tt.ci, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestRequire$/^child$", "-test.v", "-test.count=1")
			var env []string
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "CI=") {
					env = append(env, kv)
				}
			}
			env = append(env, childEnv+"="+tt.machine)
			if tt.ci != "" {
				env = append(env, "CI="+tt.ci)
			}
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tt.wantFail {
				t.Fatalf("child failed = %v (%v), want %v; output:\n%s", failed, err, tt.wantFail, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tt.machine != "ready" && strings.Contains(string(out), "went on") {
				t.Errorf("the test went on without its prerequisite:\n%s", out)
			}
		})
	}
}
