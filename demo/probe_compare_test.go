package demo

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redswitch/redswitch/probe/analysis"
)

// TestCompareOutage checks the comparison TestProbeMeasuresFailover makes
// between the probe's outage and a second client's calls, on made-up
// histories: the probe's outage is 1 s to 6 s.
func TestCompareOutage(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	o := analysis.Outage{Start: at(1), End: at(6), Duration: 5 * time.Second}
	refused := errors.New("ERROR: cannot execute INSERT in a read-only transaction (SQLSTATE 25006)")
	timedOut := errors.New("timeout: context deadline exceeded")
	// commits writes every 12 ms from a to b, each taking 2 ms.
	commits := func(a, b float64) []clientOp {
		var ops []clientOp
		for s := a; s < b; s += 0.012 {
			ops = append(ops, clientOp{what: "insert", call: at(s), ret: at(s + 0.002)})
		}
		return ops
	}
	op := func(what string, call, ret float64, err error) clientOp {
		return clientOp{what: what, call: at(call), ret: at(ret), err: err}
	}
	join := func(parts ...[]clientOp) []clientOp {
		var all []clientOp
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}
	// cut: the insert in flight at the cut times out, then connects fail
	// fast until the new primary is up.
	cut := []clientOp{op("insert", 1.005, 1.505, timedOut), op("connect", 1.51, 1.52, errors.New("unexpected EOF"))}
	tests := []struct {
		name string
		ops  []clientOp
		want []string // substrings, one per expected problem; none: agreement
	}{
		{"agree", join(commits(0, 1.001), cut, []clientOp{op("connect", 5.9, 5.99, nil)}, commits(6.01, 7)), nil},
		{"client blocked a second in connect at the end", join(commits(0, 1.001), cut,
			[]clientOp{op("connect", 5.5, 6.5, timedOut), op("connect", 6.505, 6.52, nil)},
			commits(6.53, 7)), nil},
		{"client blocked in an insert that then committed", join(commits(0, 1.001), cut,
			[]clientOp{op("connect", 5.7, 5.71, nil), op("insert", 5.72, 6.02, nil)}, commits(6.03, 7)), nil},
		{"probe's outage ends late", join(commits(0, 1.001), cut, []clientOp{op("connect", 5.5, 5.51, nil)}, commits(5.52, 7)),
			[]string{"the client committed between +4.520 s and +4.522 s into the probe's 5.000 s outage"}},
		{"probe's outage starts early", join(commits(0, 1.3), cut[1:], commits(6.01, 7)),
			[]string{"into the probe's 5.000 s outage"}},
		{"probe's outage ends early", join(commits(0, 1.001), cut,
			[]clientOp{op("connect", 6.2, 6.21, nil), op("insert", 6.22, 6.23, refused), op("connect", 6.5, 6.51, nil)}, commits(6.52, 7)),
			[]string{"the client's insert called 0.220 s after the probe's first commit failed: ERROR: cannot execute INSERT"}},
		{"a hiccup after the client is back is another event", join(commits(0, 1.001), cut, commits(6.01, 6.5),
			[]clientOp{op("insert", 6.6, 6.61, refused)}, commits(6.62, 7)), nil},
		{"client never back", join(commits(0, 1.001), cut), []string{"no commit before (true) or after (false)"}},
		{"client never failed", join(commits(0, 1.001), commits(6.01, 7)), []string{"no call of the client failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := compareOutage(o, tt.ops, 100*time.Millisecond)
			if len(tt.want) == 0 && len(got) > 0 {
				t.Fatalf("problems in an agreeing history:\n%s", strings.Join(got, "\n"))
			}
			for _, w := range tt.want {
				found := false
				for _, g := range got {
					found = found || strings.Contains(g, w)
				}
				if !found {
					t.Errorf("no problem says %q; got:\n%s", w, strings.Join(got, "\n"))
				}
			}
		})
	}
}
