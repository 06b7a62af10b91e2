package scenarios

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redswitch/redswitch/journal"
)

// Result is what running one scenario produced. The runner fills it in;
// the writers below only render it.
type Result struct {
	// Scenario is the scenario that ran; nil when it could not even be
	// loaded (then Err says why).
	Scenario *Scenario
	// Steps holds the steps that ran, in order.
	Steps []StepResult
	// Measurements are named numbers judged or merely recorded, such as
	// "failover_seconds" or "lost_commits".
	Measurements map[string]float64
	Duration     time.Duration
	// History is the recorded history the verdicts were judged on: the
	// events from the scenario's start to its end, after the leader key
	// event in force at the start. Empty when no cluster ran. It lets a
	// caller judge more than the scenario asked (a control's own checks,
	// the signature of a known bug) without a cluster.
	History []journal.Event
	// PatroniVersion is the version the members reported ("3.0.2"), the
	// versions joined by ", " when they differ, "" when none was seen.
	PatroniVersion string
	// Err is a failure of the run itself (no cluster, a driver error), as
	// opposed to an expectation that did not hold.
	Err error
}

// StepResult is the outcome of one step.
type StepResult struct {
	// Line is the step's line in the scenario file.
	Line int
	// Text is the step as written, usually Step.String().
	Text string
	OK   bool
	// Detail says what was observed, e.g. "failover took 12.3s".
	Detail string
	// FailedChecks names the checks of an expect step that did not hold
	// ("no_failover", "lost_commits"), in the order they were judged.
	FailedChecks []string
}

// Passed reports whether the run completed and every step held.
func (r Result) Passed() bool {
	if r.Err != nil {
		return false
	}
	for _, s := range r.Steps {
		if !s.OK {
			return false
		}
	}
	return true
}

// Name is the scenario's name, or a placeholder when it never loaded.
func (r Result) Name() string {
	if r.Scenario == nil || r.Scenario.Name == "" {
		return "(unloaded scenario)"
	}
	return r.Scenario.Name
}

func (r Result) file() string {
	if r.Scenario == nil {
		return ""
	}
	return r.Scenario.File
}

// failedSteps lists the steps that did not hold.
func (r Result) failedSteps() []StepResult {
	var out []StepResult
	for _, s := range r.Steps {
		if !s.OK {
			out = append(out, s)
		}
	}
	return out
}

// sortedKeys returns the measurement names in order, so every report is
// byte-for-byte reproducible.
func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// formatNumber renders a measurement: whole numbers without decimals,
// others with three, no exponent.
func formatNumber(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'f', -1, 64)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// seconds renders a duration in seconds with millisecond precision, as
// JUnit's time attribute wants.
func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// WriteText writes a report for a terminal: one block per scenario with
// every step and its outcome, then a summary line.
func WriteText(w io.Writer, results []Result) error {
	bw := bufio.NewWriter(w)
	passed := 0
	var total time.Duration
	for _, r := range results {
		verdict := "FAIL"
		if r.Passed() {
			verdict = "PASS"
			passed++
		}
		total += r.Duration
		fmt.Fprintf(bw, "%s  %s  %s", verdict, r.Name(), r.Duration.Round(100*time.Millisecond))
		if f := r.file(); f != "" {
			fmt.Fprintf(bw, "  (%s)", f)
		}
		bw.WriteString("\n")
		for _, s := range r.Steps {
			mark := "ok  "
			if !s.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(bw, "    %s %4d  %s\n", mark, s.Line, s.Text)
			writeIndented(bw, "               ", s.Detail)
		}
		if r.Err != nil {
			writeIndented(bw, "    ", "error: "+r.Err.Error())
		}
		if len(r.Measurements) > 0 {
			parts := make([]string, 0, len(r.Measurements))
			for _, k := range sortedKeys(r.Measurements) {
				parts = append(parts, k+"="+formatNumber(r.Measurements[k]))
			}
			fmt.Fprintf(bw, "    measurements: %s\n", strings.Join(parts, " "))
		}
	}
	fmt.Fprintf(bw, "%d scenario(s): %d passed, %d failed, %s\n",
		len(results), passed, len(results)-passed, total.Round(100*time.Millisecond))
	return bw.Flush()
}

// writeIndented writes text (possibly several lines) with a prefix on each.
func writeIndented(w *bufio.Writer, prefix, text string) {
	if text == "" {
		return
	}
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		w.WriteString(prefix + line + "\n")
	}
}

// The JUnit XML shape CI systems read (Jenkins, GitLab, GitHub actions).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name       string          `xml:"name,attr"`
	Classname  string          `xml:"classname,attr"`
	File       string          `xml:"file,attr,omitempty"`
	Time       string          `xml:"time,attr"`
	Properties *junitProps     `xml:"properties,omitempty"`
	Failure    *junitProblem   `xml:"failure,omitempty"`
	Error      *junitProblem   `xml:"error,omitempty"`
	SystemOut  *junitSystemOut `xml:"system-out,omitempty"`
}

type junitProps struct {
	Props []junitProp `xml:"property"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// Bodies are CDATA so a step log keeps its line breaks readable.
type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

type junitSystemOut struct {
	Text string `xml:",cdata"`
}

// xmlSafe replaces characters XML 1.0 cannot carry at all (most control
// characters), which CDATA would otherwise pass through into an
// unreadable file.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r == 0xFFFE, r == 0xFFFF, r >= 0xD800 && r <= 0xDFFF:
			return '\uFFFD'
		}
		return r
	}, s)
}

// WriteJUnit writes the results as JUnit XML: one testcase per scenario,
// a failure for expectations that did not hold, an error for a run that
// broke, measurements as properties and the step log as system-out.
func WriteJUnit(w io.Writer, results []Result) error {
	suite := junitSuite{Name: "redswitch.scenarios", Tests: len(results)}
	var total time.Duration
	for _, r := range results {
		total += r.Duration
		c := junitCase{Name: r.Name(), Classname: "redswitch.scenarios", File: r.file(), Time: seconds(r.Duration)}
		if len(r.Measurements) > 0 {
			c.Properties = &junitProps{}
			for _, k := range sortedKeys(r.Measurements) {
				c.Properties.Props = append(c.Properties.Props, junitProp{Name: k, Value: formatNumber(r.Measurements[k])})
			}
		}
		var log strings.Builder
		for _, s := range r.Steps {
			mark := "ok  "
			if !s.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(&log, "%s line %d: %s\n", mark, s.Line, s.Text)
			if s.Detail != "" {
				fmt.Fprintf(&log, "     %s\n", strings.ReplaceAll(s.Detail, "\n", "\n     "))
			}
		}
		if log.Len() > 0 {
			c.SystemOut = &junitSystemOut{Text: xmlSafe(log.String())}
		}
		switch failed := r.failedSteps(); {
		case r.Err != nil:
			suite.Errors++
			c.Error = &junitProblem{Message: r.Err.Error(), Type: "run", Text: xmlSafe(r.Err.Error())}
		case len(failed) > 0:
			suite.Failures++
			var text strings.Builder
			for _, s := range failed {
				fmt.Fprintf(&text, "%s:%d: %s", r.file(), s.Line, s.Text)
				if s.Detail != "" {
					text.WriteString(": " + s.Detail)
				}
				text.WriteString("\n")
			}
			msg := fmt.Sprintf("line %d: %s", failed[0].Line, failed[0].Text)
			if len(failed) > 1 {
				msg += fmt.Sprintf(" (and %d more)", len(failed)-1)
			}
			c.Failure = &junitProblem{Message: msg, Type: "expectation", Text: xmlSafe(text.String())}
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Time = seconds(total)
	doc := junitSuites{Name: "redswitch", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Time: suite.Time, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	return nil
}

// The JSON report's shape, for tools and the bench package.
type jsonReport struct {
	Passed    int            `json:"passed"`
	Failed    int            `json:"failed"`
	Scenarios []jsonScenario `json:"scenarios"`
}

type jsonScenario struct {
	Name            string     `json:"name"`
	File            string     `json:"file,omitempty"`
	Passed          bool       `json:"passed"`
	DurationSeconds float64    `json:"duration_seconds"`
	Error           string     `json:"error,omitempty"`
	Steps           []jsonStep `json:"steps"`
	// Measurements holds null for a value that is not a finite number,
	// which JSON cannot carry.
	Measurements map[string]*float64 `json:"measurements,omitempty"`
}

type jsonStep struct {
	Line   int    `json:"line"`
	Text   string `json:"text"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// toJSON is the result in the JSON report's form.
func (r Result) toJSON() jsonScenario {
	js := jsonScenario{Name: r.Name(), File: r.file(), Passed: r.Passed(),
		DurationSeconds: r.Duration.Seconds(), Steps: []jsonStep{}}
	if r.Err != nil {
		js.Error = r.Err.Error()
	}
	for _, s := range r.Steps {
		js.Steps = append(js.Steps, jsonStep{Line: s.Line, Text: s.Text, OK: s.OK, Detail: s.Detail})
	}
	if len(r.Measurements) > 0 {
		js.Measurements = map[string]*float64{}
		for k, v := range r.Measurements {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				js.Measurements[k] = nil
				continue
			}
			js.Measurements[k] = &v
		}
	}
	return js
}

// MarshalJSON renders the result as one entry of WriteJSON's "scenarios"
// list (name, file, passed, duration_seconds, error, steps, measurements),
// so an API can serve a single result in the report's form.
func (r Result) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// Step texts hold "<=": keep them readable, as WriteJSON does.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r.toJSON()); err != nil {
		return nil, fmt.Errorf("scenario result %s: %w", r.Name(), err)
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// WriteJSON writes the results as one indented JSON document.
func WriteJSON(w io.Writer, results []Result) error {
	rep := jsonReport{Scenarios: []jsonScenario{}}
	for _, r := range results {
		js := r.toJSON()
		if js.Passed {
			rep.Passed++
		} else {
			rep.Failed++
		}
		rep.Scenarios = append(rep.Scenarios, js)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Step texts hold "<=": keep them readable, this is not HTML.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
}
