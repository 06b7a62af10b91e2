package scenarios

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// sampleResults builds results for three library scenarios: one passing,
// one failing an expectation, one whose run broke, plus one that never
// loaded.
func sampleResults(t *testing.T) []Result {
	t.Helper()
	load := func(name string) *Scenario {
		sc, err := LoadFS(Library(), name+".yaml")
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	steps := func(sc *Scenario, fail map[int]string) []StepResult {
		var out []StepResult
		for i, st := range sc.Steps {
			detail, failed := fail[i]
			out = append(out, StepResult{Line: st.Line, Text: st.String(), OK: !failed, Detail: detail})
		}
		return out
	}
	cut := load("primary-power-cut")
	wrong := load("negative-control")
	broken := load("etcd-outage")
	return []Result{
		{Scenario: cut, Steps: steps(cut, nil), Duration: 41234 * time.Millisecond,
			Measurements: map[string]float64{"failover_seconds": 5.3125, "lost_commits": 0, "rejoin_seconds": 7.25}},
		{Scenario: wrong, Steps: steps(wrong, map[int]string{2: "primary changed n1 -> n2 at +12.4s\ntimeline 1 -> 2"}),
			Duration: 33 * time.Second, Measurements: map[string]float64{"lost_commits": 3, "odd": math.NaN()}},
		{Scenario: broken, Steps: steps(broken, nil)[:2], Duration: 2 * time.Second,
			Err: errors.New("fault etcd_outage: stop etcd: <context deadline exceeded> & more")},
		{Err: errors.New("load scenario x.yaml: no such file")},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
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
		t.Errorf("%s differs from golden file (go test -update rewrites it):\n%s", name, got)
	}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, sampleResults(t)); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.txt.golden", b.Bytes())
}

func TestWriteJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, sampleResults(t)); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.junit.golden", b.Bytes())
	// Beyond the golden bytes: it must be XML a CI system can read.
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("not valid XML: %v", err)
	}
	if doc.Tests != 4 || doc.Failures != 1 || doc.Errors != 2 {
		t.Errorf("tests/failures/errors = %d/%d/%d, want 4/1/2", doc.Tests, doc.Failures, doc.Errors)
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sampleResults(t)); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json.golden", b.Bytes())
	var rep jsonReport
	if err := json.Unmarshal(b.Bytes(), &rep); err != nil {
		t.Fatalf("not valid JSON: %v", err)
	}
	if rep.Passed != 1 || rep.Failed != 3 || rep.Scenarios[1].Measurements["odd"] != nil {
		t.Errorf("passed/failed = %d/%d, odd = %v", rep.Passed, rep.Failed, rep.Scenarios[1].Measurements["odd"])
	}
}

// TestResultMarshalJSON checks that one result marshals exactly as its
// entry in the JSON report, NaN included, so an API serving a single
// result and the report agree.
func TestResultMarshalJSON(t *testing.T) {
	var b bytes.Buffer
	results := sampleResults(t)
	if err := WriteJSON(&b, results); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Scenarios []json.RawMessage `json:"scenarios"`
	}
	if err := json.Unmarshal(b.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		t.Run(r.Name(), func(t *testing.T) {
			got, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			// json.Marshal escapes "<" again where the report does not:
			// compare what the documents say, not their bytes.
			var gotV, wantV any
			if err := json.Unmarshal(got, &gotV); err != nil {
				t.Fatalf("not valid JSON: %v\n%s", err, got)
			}
			if err := json.Unmarshal(rep.Scenarios[i], &wantV); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotV, wantV) {
				t.Errorf("json.Marshal(result) =\n%s\nwant the report's entry\n%s", got, rep.Scenarios[i])
			}
			// Through a pointer, as a struct field would hold it.
			viaPtr, err := json.Marshal(&r)
			if err != nil || !bytes.Equal(viaPtr, got) {
				t.Errorf("json.Marshal(&result) = %s, %v", viaPtr, err)
			}
		})
	}
}

func TestWriteEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "0 scenario(s): 0 passed, 0 failed, 0s\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	b.Reset()
	if err := WriteJSON(&b, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "{\n  \"passed\": 0,\n  \"failed\": 0,\n  \"scenarios\": []\n}\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestPassed(t *testing.T) {
	tests := []struct {
		name string
		r    Result
		want bool
	}{
		{"no steps", Result{}, true},
		{"all ok", Result{Steps: []StepResult{{OK: true}, {OK: true}}}, true},
		{"one failed", Result{Steps: []StepResult{{OK: true}, {OK: false}}}, false},
		{"run error", Result{Steps: []StepResult{{OK: true}}, Err: errors.New("x")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Passed(); got != tt.want {
				t.Errorf("Passed() = %t, want %t", got, tt.want)
			}
		})
	}
}

func TestFormatNumber(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 3: "3", -2: "-2", 5.3125: "5.312", 1e20: "100000000000000000000.000", math.Inf(1): "+Inf"} {
		if got := formatNumber(in); got != want {
			t.Errorf("formatNumber(%v) = %q, want %q", in, got, want)
		}
	}
}

// TestJUnitHostileText checks that control characters and a CDATA
// terminator in a detail still give well-formed XML.
func TestJUnitHostileText(t *testing.T) {
	r := []Result{{Scenario: &Scenario{Name: "x", File: "x.yaml"},
		Steps: []StepResult{{Line: 1, Text: "expect", Detail: "bad \x00\x1b bytes ]]> end \xff"}}}}
	var b bytes.Buffer
	if err := WriteJUnit(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("not valid XML: %v\n%s", err, b.Bytes())
	}
	got := doc.Suites[0].Cases[0].Failure.Text
	if want := "x.yaml:1: expect: bad \uFFFD\uFFFD bytes ]]> end \uFFFD\n"; got != want {
		t.Errorf("failure text %q, want %q", got, want)
	}
}
