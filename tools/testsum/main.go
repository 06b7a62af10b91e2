// Command testsum reads `go test -json` on stdin, prints the tests' own
// output as it streams (so `--- FAIL`, `ok  pkg` and `FAIL pkg` lines
// still show in a CI log), and ends with a table per package of tests
// run, passed, failed and skipped, the skipped tests with their reasons,
// the failures, and a last line "N passed, N failed, N skipped".
//
// Every test and subtest counts on its own. A failure no test accounts
// for counts as one failure too: a package that failed with no failing
// test (a build failure, a panic or timeout outside a test, os.Exit), a
// test that started and never finished, a build failure, a stream that
// ends before a package's result, or a stream with no package at all. It
// exits 1 when the failed count is not zero.
//
// Usage:
//
//	go test -json ./... | testsum
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

func main() {
	os.Exit(run(os.Stdin, os.Stdout, os.Stderr))
}

// run summarizes in onto out and returns the exit status.
func run(in io.Reader, out, errOut io.Writer) int {
	s, err := summarize(in, out)
	if err != nil {
		fmt.Fprintf(errOut, "testsum: %v\n", err)
		return 2
	}
	if err := s.write(out); err != nil {
		fmt.Fprintf(errOut, "testsum: %v\n", err)
		return 2
	}
	if s.failed() > 0 {
		return 1
	}
	return 0
}

// event is one line of `go test -json` (cmd/test2json's TestEvent, plus
// ImportPath of the build events go test emits since Go 1.24).
type event struct {
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
	ImportPath  string
}

// pkg is what one package added up to.
type pkg struct {
	name                    string
	passed, failed, skipped int
	// result is the package's own verdict: ok, FAIL, "no test files", or
	// empty while (or when) none came.
	result  string
	elapsed float64
	// failedBuild is the package whose build broke this one's tests.
	failedBuild string
	// unfinished are tests that started and never reported a result.
	unfinished []string
}

// testRef names one test and why it ended as it did.
type testRef struct {
	pkg, test string
	reason    []string
}

// running is a test that has started: the tail of its output, kept to
// find the reason it gives when it skips.
type running struct {
	order int
	tail  []string
}

// tailLines bounds the output kept per running test: a skip's reason is
// its last log message, and chatty tests must not hold the whole log.
const tailLines = 40

// summary is the whole stream's result.
type summary struct {
	pkgs    []*pkg
	byName  map[string]*pkg
	tests   map[[2]string]*running
	started int
	skips   []testRef
	fails   []testRef
	// builds are the build failures reported (ImportPath of build-fail).
	builds []string
	// partial holds output of a test not yet ended with a newline.
	partial map[[2]string]string
}

// summarize copies every event's output from r to out as it arrives and
// adds the events up. Lines that are not JSON are copied as they are.
func summarize(r io.Reader, out io.Writer) (*summary, error) {
	s := &summary{byName: map[string]*pkg{}, tests: map[[2]string]*running{}, partial: map[[2]string]string{}}
	br := bufio.NewReader(r)
	var werr error
	write := func(b string) {
		if werr == nil {
			_, werr = io.WriteString(out, b)
		}
	}
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var ev event
			if jerr := json.Unmarshal(line, &ev); jerr != nil || ev.Action == "" {
				write(string(line))
			} else {
				write(ev.Output)
				s.add(ev)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read go test -json: %w", err)
		}
	}
	if werr != nil {
		return nil, fmt.Errorf("write output: %w", werr)
	}
	s.finish()
	return s, nil
}

func (s *summary) pkg(name string) *pkg {
	p := s.byName[name]
	if p == nil {
		p = &pkg{name: name}
		s.byName[name] = p
		s.pkgs = append(s.pkgs, p)
	}
	return p
}

// add takes one event into account.
func (s *summary) add(ev event) {
	if ev.Action == "build-fail" {
		s.builds = append(s.builds, ev.ImportPath)
		return
	}
	if ev.Package == "" {
		return // build-output, or an event of no package
	}
	p := s.pkg(ev.Package)
	if ev.Test == "" {
		switch ev.Action {
		case "pass":
			p.result, p.elapsed = "ok", ev.Elapsed
		case "fail":
			p.result, p.elapsed, p.failedBuild = "FAIL", ev.Elapsed, ev.FailedBuild
		case "skip":
			p.result = "no test files"
		}
		if ev.Action == "pass" || ev.Action == "fail" || ev.Action == "skip" {
			s.endPackage(p)
		}
		return
	}
	key := [2]string{ev.Package, ev.Test}
	switch ev.Action {
	case "run":
		s.started++
		s.tests[key] = &running{order: s.started}
	case "output":
		t := s.tests[key]
		if t == nil {
			return
		}
		text := s.partial[key] + ev.Output
		lines := strings.SplitAfter(text, "\n")
		s.partial[key] = lines[len(lines)-1]
		for _, l := range lines[:len(lines)-1] {
			t.tail = append(t.tail, strings.TrimRight(l, "\n"))
		}
		if over := len(t.tail) - tailLines; over > 0 {
			t.tail = append(t.tail[:0], t.tail[over:]...)
		}
	case "pass", "fail", "skip":
		t := s.tests[key]
		delete(s.tests, key)
		delete(s.partial, key)
		switch ev.Action {
		case "pass":
			p.passed++
		case "fail":
			p.failed++
			s.fails = append(s.fails, testRef{pkg: p.name, test: ev.Test})
		case "skip":
			p.skipped++
			var tail []string
			if t != nil {
				tail = t.tail
			}
			s.skips = append(s.skips, testRef{pkg: p.name, test: ev.Test, reason: skipReason(tail)})
		}
	}
}

// endPackage counts the package's tests that never finished as failed:
// its test binary stopped under them (panic, timeout, os.Exit).
func (s *summary) endPackage(p *pkg) {
	var left []*running
	names := map[*running]string{}
	for k, t := range s.tests {
		if k[0] == p.name {
			left = append(left, t)
			names[t] = k[1]
			delete(s.tests, k)
			delete(s.partial, k)
		}
	}
	sort.Slice(left, func(i, j int) bool { return left[i].order < left[j].order })
	for _, t := range left {
		p.failed++
		p.unfinished = append(p.unfinished, names[t])
		s.fails = append(s.fails, testRef{pkg: p.name, test: names[t], reason: []string{"started and never finished: the test binary stopped under it (panic, timeout or exit)"}})
	}
}

// finish settles what the stream left open: packages with no result and
// build failures no package reported, each counted as a failure.
func (s *summary) finish() {
	for _, p := range s.pkgs {
		if p.result == "" {
			s.endPackage(p)
			s.fails = append(s.fails, testRef{pkg: p.name, reason: []string{"no result: the stream ended before the package did"}})
		} else if p.result == "FAIL" && p.failed == 0 {
			why := "the package failed without a failing test (a crash in TestMain or init, an exit, a panic outside a test)"
			if p.failedBuild != "" {
				why = "build failed: " + p.failedBuild
			}
			s.fails = append(s.fails, testRef{pkg: p.name, reason: []string{why}})
		}
	}
	reported := map[string]bool{}
	for _, p := range s.pkgs {
		reported[p.failedBuild] = true
	}
	for _, b := range s.builds {
		if !reported[b] {
			s.fails = append(s.fails, testRef{pkg: b, reason: []string{"build failed"}})
		}
	}
	if len(s.pkgs) == 0 && len(s.builds) == 0 {
		s.fails = append(s.fails, testRef{reason: []string{"no package results on stdin: was it `go test -json`?"}})
	}
}

// framing matches the lines the testing package prints around a test's
// own output.
var framing = regexp.MustCompile(`^\s*(=== (RUN|PAUSE|CONT|NAME)|--- (PASS|FAIL|SKIP):)`)

// logHeader matches the start of a t.Log/t.Skip message: "file.go:12: ".
var logHeader = regexp.MustCompile(`^\s+[^\s:]+\.go:\d+: `)

// skipReason is the last message a skipped test logged (t.Skip logs its
// arguments): the line with its file:line header and the lines that
// continue it.
func skipReason(tail []string) []string {
	start := -1
	for i, l := range tail {
		if logHeader.MatchString(l) {
			start = i
		}
	}
	if start < 0 {
		return []string{"(no reason given)"}
	}
	var reason []string
	for _, l := range tail[start:] {
		if framing.MatchString(l) {
			break
		}
		if l = strings.TrimSpace(l); l != "" {
			reason = append(reason, l)
		}
	}
	return reason
}

// failed is the number of failures: failed tests plus failures no test
// accounts for.
func (s *summary) failed() int {
	n := 0
	for _, f := range s.fails {
		if f.test == "" {
			n++
		}
	}
	for _, p := range s.pkgs {
		n += p.failed
	}
	return n
}

// write prints the table, the skipped tests with their reasons, the
// failures, and the last line.
func (s *summary) write(w io.Writer) error {
	var b strings.Builder
	b.WriteString("\n=== test summary\n")
	width := len("package")
	for _, p := range s.pkgs {
		width = max(width, len(p.name))
	}
	row := func(name, run, passed, failed, skipped, elapsed, result string) {
		fmt.Fprintf(&b, "%-*s %5s %7s %7s %8s %8s  %s\n", width, name, run, passed, failed, skipped, elapsed, result)
	}
	row("package", "run", "passed", "failed", "skipped", "time", "result")
	var passed, skipped int
	for _, p := range s.pkgs {
		result := p.result
		switch {
		case result == "":
			result = "FAIL (no result)"
		case p.failedBuild != "":
			result = "FAIL (build failed)"
		case len(p.unfinished) > 0:
			result = "FAIL (" + strings.Join(p.unfinished, ", ") + " never finished)"
		}
		row(p.name, strconv.Itoa(p.passed+p.failed+p.skipped), strconv.Itoa(p.passed), strconv.Itoa(p.failed),
			strconv.Itoa(p.skipped), strconv.FormatFloat(p.elapsed, 'f', 1, 64)+"s", result)
		passed += p.passed
		skipped += p.skipped
	}
	if len(s.skips) > 0 {
		fmt.Fprintf(&b, "\nskipped (%d):\n", len(s.skips))
		for _, r := range s.skips {
			writeRef(&b, r)
		}
	}
	if len(s.fails) > 0 {
		fmt.Fprintf(&b, "\nfailed (%d):\n", len(s.fails))
		for _, r := range s.fails {
			writeRef(&b, r)
		}
	}
	fmt.Fprintf(&b, "\n%d passed, %d failed, %d skipped\n", passed, s.failed(), skipped)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

func writeRef(b *strings.Builder, r testRef) {
	name := strings.TrimSpace(r.pkg + " " + r.test)
	if name == "" {
		name = "(run)"
	}
	b.WriteString("  " + name + "\n")
	for _, l := range r.reason {
		b.WriteString("      " + l + "\n")
	}
}
