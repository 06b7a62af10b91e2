package scenarios

import (
	"os"
	"path"
	"strings"
	"testing"
	"testing/fstest"
)

// TestLibrary parses every built-in scenario and holds it to the
// library's conventions.
func TestLibrary(t *testing.T) {
	scs, err := LoadAll(Library(), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) < 16 {
		t.Errorf("library has %d scenarios, want at least 16", len(scs))
	}
	names := map[string]bool{}
	for _, sc := range scs {
		t.Run(sc.Name, func(t *testing.T) {
			names[sc.Name] = true
			if stem := strings.TrimSuffix(path.Base(sc.File), ".yaml"); stem != sc.Name {
				t.Errorf("file %s holds scenario %q: name it after the file", sc.File, sc.Name)
			}
			// A description must teach something, not restate the name.
			if len(sc.Description) < 150 {
				t.Errorf("description is %d characters; say what a Patroni user learns", len(sc.Description))
			}
			var disrupts, expects bool
			for _, st := range sc.Steps {
				switch st.Kind {
				case StepPower, StepSwitch, StepFault:
					disrupts = true
				case StepExpect:
					expects = true
				}
			}
			if !expects {
				t.Error("no expect step: the scenario checks nothing")
			}
			if disrupts == (sc.Name == "negative-control") {
				t.Errorf("disrupts = %t: only the negative control may leave the cluster alone", disrupts)
			}
		})
	}
	if !names["negative-control"] {
		t.Error("library lacks negative-control")
	}
}

// TestLibraryOnDisk checks the embedded library is the directory's
// content, so the binary runs what the repository shows.
func TestLibraryOnDisk(t *testing.T) {
	embedded, err := Files(Library(), ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range embedded {
		if _, err := Load(path.Join("library", f)); err != nil {
			t.Errorf("on disk: %v", err)
		}
	}
	if len(embedded) == 0 {
		t.Fatal("embedded library is empty")
	}
}

func TestWrongExpectation(t *testing.T) {
	sc, err := Load("testdata/wrong-expectation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The self-test depends on this shape: a primary cut, then a claim
	// that nothing failed over.
	var cut, claim bool
	for _, st := range sc.Steps {
		if st.Power != nil && !st.Power.On && st.Power.Targets[0].Kind == SelectPrimary {
			cut = true
		}
		if st.Expect != nil && st.Expect.NoFailover && cut {
			claim = true
		}
	}
	if !claim {
		t.Error("wrong-expectation.yaml no longer cuts the primary and then expects no failover")
	}
}

func TestLoadAllReportsEveryBadFile(t *testing.T) {
	good := "name: %s\ndescription: d\nsteps: [{wait: healthy}]\n"
	fsys := fstest.MapFS{
		"s/a.yaml":     {Data: []byte(strings.Replace(good, "%s", "a", 1))},
		"s/b.yaml":     {Data: []byte("name: b\n")},
		"s/c.yaml":     {Data: []byte(strings.Replace(good, "%s", "a", 1))},
		"s/d.yaml":     {Data: []byte("steps: 1\n")},
		"s/notes.txt":  {Data: []byte("ignored")},
		"s/sub/e.yaml": {Data: []byte("ignored")},
	}
	scs, err := LoadAll(fsys, "s")
	if len(scs) != 1 || scs[0].Name != "a" {
		t.Errorf("loaded %d scenarios, want just a", len(scs))
	}
	want := []string{
		"s/b.yaml:1:1: description: missing: say what a Patroni user learns from this scenario",
		"s/b.yaml:1:1: steps: missing: a scenario needs at least one step",
		`s/c.yaml:1: name: "a" is also the name of s/a.yaml`,
		"s/d.yaml:1:1: name: missing: every scenario needs a name such as primary-power-cut",
		"s/d.yaml:1:1: description: missing: say what a Patroni user learns from this scenario",
		"s/d.yaml:1:8: steps: want a list of steps, got the number 1",
	}
	if err == nil {
		t.Fatal("no error")
	}
	if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

// TestReadmeCoversLanguage keeps README.md in step with the parser: every
// step kind, fault kind and expectation must be documented there.
func TestReadmeCoversLanguage(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	var words []string
	for _, k := range stepKinds() {
		words = append(words, "| `"+string(k)+"`")
	}
	for _, info := range FaultKinds() {
		words = append(words, "| `"+string(info.Kind)+"`")
	}
	for _, k := range expectChecks() {
		words = append(words, "`"+k)
	}
	for _, w := range words {
		if !strings.Contains(doc, w) {
			t.Errorf("README.md does not document %s", w)
		}
	}
}
