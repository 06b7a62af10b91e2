package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The streams in testdata were recorded with Go 1.26 from a throwaway
// module (go test -json -count=1 -p 1): good (passes, a skip with a
// two-line reason, a skipped subtest, a package with no test files),
// fail (a failing subtest), build (a test file that does not compile,
// then good), panic (a nil map write), timeout (-timeout 2s under a 30 s
// sleep) and exit (os.Exit(3) in a test).

func readStream(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// outputOf is what the stream's events say the tests printed, in order:
// what testsum must echo before its summary.
func outputOf(t *testing.T, stream string) string {
	t.Helper()
	var b strings.Builder
	for _, line := range strings.SplitAfter(stream, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var ev event
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Action == "" {
			b.WriteString(line)
			continue
		}
		b.WriteString(ev.Output)
	}
	return b.String()
}

func TestRun(t *testing.T) {
	good := readStream(t, "good.jsonl")
	tests := []struct {
		name   string
		stream string
		status int
		last   string
		// want are lines (or parts of lines) the summary must contain.
		want []string
	}{
		{"passes, skips and no test files", good, 0, "3 passed, 0 failed, 2 skipped", []string{
			"package                   run  passed  failed  skipped     time  result\n",
			"example.com/rec/good        5       3       0        2     0.0s  ok\n",
			"example.com/rec/notests     0       0       0        0     0.0s  no test files\n",
			"skipped (2):\n  example.com/rec/good TestNeedsDocker\n      good_test.go:9: needs docker: cannot connect\n      second line of the reason\n",
			"  example.com/rec/good TestTable/two\n      good_test.go:16: case two: no frobnicator\n",
		}},
		{"a failing subtest", readStream(t, "fail.jsonl"), 1, "1 passed, 2 failed, 0 skipped", []string{
			"failed (2):\n  example.com/rec/fail TestBroken/sub\n  example.com/rec/fail TestBroken\n",
		}},
		{"a build failure", readStream(t, "build.jsonl"), 1, "3 passed, 1 failed, 2 skipped", []string{
			"FAIL (build failed)",
			"  example.com/rec/build\n      build failed: example.com/rec/build [example.com/rec/build.test]\n",
		}},
		{"a panic in a test", readStream(t, "panic.jsonl"), 1, "1 passed, 1 failed, 0 skipped", []string{
			"  example.com/rec/panic TestPanics\n",
		}},
		{"a timeout", readStream(t, "timeout.jsonl"), 1, "1 passed, 1 failed, 0 skipped", []string{
			"FAIL (TestSlow never finished)",
			"  example.com/rec/timeout TestSlow\n      started and never finished",
		}},
		{"os.Exit in a test", readStream(t, "exit.jsonl"), 1, "0 passed, 1 failed, 0 skipped", []string{
			"FAIL (TestExits never finished)",
		}},
		{"a stream cut short", strings.Join(strings.SplitAfter(good, "\n")[:12], ""), 1, "1 passed, 2 failed, 0 skipped", []string{
			"  example.com/rec/good TestNeedsDocker\n      started and never finished",
			"FAIL (no result)",
			"no result: the stream ended before the package did",
		}},
		{"an empty stream", "", 1, "0 passed, 1 failed, 0 skipped", []string{
			"no package results on stdin",
		}},
		{"a build failure no package reports", `{"ImportPath":"example.com/x","Action":"build-output","Output":"x.go:1:1: expected 'package'\n"}` + "\n" +
			`{"ImportPath":"example.com/x","Action":"build-fail"}` + "\n", 1, "0 passed, 1 failed, 0 skipped", []string{
			"  example.com/x\n      build failed\n",
		}},
		{"lines that are not JSON pass through", "go: downloading example.com/y v1.0.0\n" + good, 0, "3 passed, 0 failed, 2 skipped", nil},
		{"a skip without a message", `{"Action":"run","Package":"p","Test":"TestS"}
{"Action":"output","Package":"p","Test":"TestS","Output":"=== RUN   TestS\n"}
{"Action":"output","Package":"p","Test":"TestS","Output":"--- SKIP: TestS (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestS"}
{"Action":"pass","Package":"p"}
`, 0, "0 passed, 0 failed, 1 skipped", []string{"  p TestS\n      (no reason given)\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			status := run(strings.NewReader(tt.stream), &out, &errOut)
			got := out.String()
			if status != tt.status {
				t.Errorf("status %d, want %d; output:\n%s", status, tt.status, got)
			}
			if errOut.Len() > 0 {
				t.Errorf("stderr: %s", errOut.String())
			}
			echo, summary, ok := strings.Cut(got, "\n=== test summary\n")
			if !ok {
				t.Fatalf("no summary in:\n%s", got)
			}
			if want := outputOf(t, tt.stream); echo != want {
				t.Errorf("echoed output differs from the events' output:\n got %q\nwant %q", echo, want)
			}
			lines := strings.Split(strings.TrimSuffix(summary, "\n"), "\n")
			if l := lines[len(lines)-1]; l != tt.last {
				t.Errorf("last line %q, want %q; summary:\n%s", l, tt.last, summary)
			}
			for _, w := range tt.want {
				if !strings.Contains(summary, w) {
					t.Errorf("summary lacks %q:\n%s", w, summary)
				}
			}
		})
	}
}

// TestEchoKeepsGoTestLines checks the lines a CI log is read for survive
// the trip through testsum verbatim.
func TestEchoKeepsGoTestLines(t *testing.T) {
	var out bytes.Buffer
	run(strings.NewReader(readStream(t, "build.jsonl")+readStream(t, "fail.jsonl")), &out, &bytes.Buffer{})
	for _, w := range []string{
		"--- FAIL: TestBroken/sub (0.00s)\n",
		"\nFAIL\texample.com/rec/fail\t",
		"FAIL\texample.com/rec/build [build failed]\n",
		"ok  \texample.com/rec/good\t",
		"build/b_test.go:5:40: cannot use \"s\" (untyped string constant) as int value in variable declaration\n",
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q", w)
		}
	}
}
