package booth

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// expectedErrors reads the "# error: " lines at the top of a bad fixture.
func expectedErrors(data []byte) []string {
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "# error: "); ok {
			out = append(out, rest)
		}
	}
	return out
}

func TestFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Parse(name, data)
			switch {
			case strings.HasSuffix(name, ".good.yaml"):
				if err != nil {
					t.Fatalf("good fixture rejected:\n%v", err)
				}
				got, jerr := json.MarshalIndent(cfg, "", "  ")
				if jerr != nil {
					t.Fatal(jerr)
				}
				golden(t, strings.TrimSuffix(path, ".yaml")+".json", append(got, '\n'))
			case strings.HasSuffix(name, ".bad.yaml"):
				want := expectedErrors(data)
				if len(want) == 0 {
					t.Fatalf("bad fixture has no '# error: ' line")
				}
				if err == nil {
					t.Fatalf("bad fixture accepted, want %q", want)
				}
				for _, w := range want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error does not contain %q; got:\n%v", w, err)
					}
				}
				var e *Error
				if !errors.As(err, &e) || e.File != name {
					t.Errorf("error is not a *booth.Error naming %s: %#v", name, err)
				}
			default:
				t.Fatalf("fixture must end in .good.yaml or .bad.yaml")
			}
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("parsed config differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestLoad(t *testing.T) {
	if _, err := Load("testdata/missing.yaml"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Load of a missing file: %v", err)
	}
	cfg, err := Load("testdata/relay.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.File != "testdata/relay.good.yaml" {
		t.Errorf("File = %q", cfg.File)
	}
	// The example shipped in deploy/booth must always load.
	if _, err := Load("../deploy/booth/booth.yaml"); err != nil {
		t.Errorf("deploy/booth/booth.yaml: %v", err)
	}
}

func TestDerived(t *testing.T) {
	cfg, err := Load("testdata/relay.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sw := cfg.FIUSwitches()
	if len(sw) != 3 || sw[0].ActiveHigh || !sw[2].ActiveHigh || sw[1].Node != "n2" || sw[1].Pin != 27 {
		t.Errorf("FIUSwitches = %+v", sw)
	}
	lines := cfg.GPIOLines()
	// De-energised: active-low relays start high, active-high ones low.
	want := map[int]bool{5: true, 6: true, 13: false}
	if len(lines.Outputs) != len(want) {
		t.Fatalf("outputs %v, want %v", lines.Outputs, want)
	}
	for pin, high := range want {
		if lines.Outputs[pin] != high {
			t.Errorf("relay pin %d starts high=%v, want %v", pin, lines.Outputs[pin], high)
		}
	}
	if len(lines.Inputs) != 3 {
		t.Errorf("inputs %v", lines.Inputs)
	}
	if got := cfg.GPIO.PollInterval(); got != 500*time.Microsecond {
		t.Errorf("poll interval at 2000 Hz = %v", got)
	}
}

func TestSecretResolve(t *testing.T) {
	env := map[string]string{"GOOD": "0123456789abcdefXYZ", "SHORT": "abc"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		s       Secret
		want    string
		wantErr string
	}{
		{Secret{Value: "literal-token-0123456"}, "literal-token-0123456", ""},
		{Secret{Env: "GOOD"}, "0123456789abcdefXYZ", ""},
		{Secret{Env: "UNSET"}, "", "UNSET is empty or unset"},
		{Secret{Env: "SHORT"}, "", "shorter than 16"},
	}
	for _, tc := range tests {
		t.Run(tc.s.Env+tc.s.Value, func(t *testing.T) {
			got, err := tc.s.Resolve(getenv)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Resolve = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.yaml") {
					t.Fatalf("error line does not name the file: %q", line)
				}
			}
			return
		}
		// Whatever is accepted is consistent.
		nodes := map[string]bool{}
		for _, n := range cfg.Nodes {
			nodes[n.Name] = true
		}
		for _, s := range cfg.Switches {
			if !nodes[s.Node] || s.Pin < 0 || s.ID < 1 {
				t.Fatalf("accepted switch %+v", s)
			}
		}
		if cfg.GPIO.PollRate < 500 || cfg.GPIO.Debounce < time.Millisecond {
			t.Fatalf("accepted gpio %+v", cfg.GPIO)
		}
		if err := cfg.Timings.Validate(); err != nil {
			t.Fatalf("accepted timings %+v: %v", cfg.Timings, err)
		}
	})
}
