package prereq_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/redswitch/redswitch/prereq"
)

// childEnv marks the test binary re-executed by TestMissing: it then runs
// only the subtest that calls Missing, with the CI value under test.
const childEnv = "REDSWITCH_PREREQ_CHILD"

// TestMissing runs prereq.Missing in a child test process, so that what
// is checked is the real outcome the testing package reports: under
// CI=true the child fails with its reason, otherwise it skips.
func TestMissing(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		t.Run("child", func(t *testing.T) {
			prereq.Missing(t, "needs the %s", "frobnicator")
			t.Error("Missing returned")
		})
		return
	}
	tests := []struct {
		name     string
		ci       string // "" leaves CI unset
		wantFail bool
		want     string
	}{
		{"CI=true fails", "true", true, "--- FAIL: TestMissing/child"},
		{"CI unset skips", "", false, "--- SKIP: TestMissing/child"},
		{"CI=false skips", "false", false, "--- SKIP: TestMissing/child"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMissing$/^child$", "-test.v", "-test.count=1")
			var env []string
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "CI=") {
					env = append(env, kv)
				}
			}
			env = append(env, childEnv+"=1")
			if tt.ci != "" {
				env = append(env, "CI="+tt.ci)
			}
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tt.wantFail {
				t.Fatalf("child failed = %v (%v), want %v; output:\n%s", failed, err, tt.wantFail, out)
			}
			if _, ok := err.(*exec.ExitError); err != nil && !ok {
				t.Fatalf("child did not run: %v", err)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out)
			}
			// The reason shows either way; under CI it says why it is a failure.
			reason := "needs the frobnicator"
			if tt.wantFail {
				reason = "CI=true: " + reason
			}
			if !strings.Contains(string(out), reason) {
				t.Errorf("output lacks the reason %q:\n%s", reason, out)
			}
			if strings.Contains(string(out), "Missing returned") {
				t.Errorf("Missing returned instead of stopping the test:\n%s", out)
			}
		})
	}
}
