package scenarios

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redswitch/redswitch/journal"
)

// readJournal reads a journal file of testdata as the head node writes it.
func readJournal(t *testing.T, path string) []journal.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := journal.Read(f)
	if err != nil || len(c.Problems) > 0 {
		t.Fatalf("read %s: %v %v", path, err, c.Problems)
	}
	return c.Events
}

// edit returns a copy of events with each replaced by what change
// returns for it (nothing drops it).
func edit(events []journal.Event, change func(e journal.Event) []journal.Event) []journal.Event {
	var out []journal.Event
	for _, e := range events {
		out = append(out, change(e)...)
	}
	return out
}

func TestPatroniStealBack(t *testing.T) {
	// A primary-freeze run on Patroni 3.0.2 in the head node's journal
	// format: n1 frozen at +0, n2 takes the key at +4.6 s, n1 thawed at
	// +5.35 s writes the key over n2's under a new lease at +6.4 s; 147 of
	// n2's acknowledged commits are lost and both wrote for a moment. It
	// is built by hand after the runs the README describes: journals
	// recorded before leader key events carried their lease had none.
	rec := readJournal(t, "testdata/primary-freeze-stealback.journal")
	if v := judgeLostCommits(rec, 0); v.OK {
		t.Fatalf("the recorded run should lose commits: %s", v.Detail)
	}
	if v := judgeSplitBrain(rec); v.OK {
		t.Fatalf("the recorded run should show a split brain: %s", v.Detail)
	}
	isStealBack := func(e journal.Event) bool {
		return e.Kind == journal.KindLeader && e.Node == "n1" && e.Detail == journal.LeaderOverwritten
	}
	for _, tt := range []struct {
		name    string
		events  []journal.Event
		version string
		want    bool
		why     string
	}{
		{"recorded steal-back on 3.0.2", rec, "3.0.2", true,
			"n1, frozen at 10:00:01.300 holding the leader key under lease 694d7c1a2b3c4d01, was thawed at +5.35s and at +6.40s wrote the key over n2's (lease 694d7c1a2b3c4d07, taken at +4.60s) under a new lease 694d7c1a2b3c4d0c"},
		{"Debian's version string", rec, "3.0.2-1", true, "Patroni 3.0.2-1 (older than 3.0.3)"},
		{"the fixed release", rec, "3.0.3", false, "has the steal-back fix"},
		{"a later release", rec, "4.0.4", false, "has the steal-back fix"},
		{"version not known", rec, "", false, "is not known"},
		{"nodes disagree", rec, "3.0.2, 3.2.1", false, "is not known"},
		{"same failure, n1 demoted instead", edit(rec, func(e journal.Event) []journal.Event {
			if isStealBack(e) {
				return nil
			}
			return []journal.Event{e}
		}), "3.0.2", false, "n1 never wrote the leader key over another member's after its thaw at +5.35s (n2 took it at +4.60s)"},
		{"n1 took a free key after n2's expired", edit(rec, func(e journal.Event) []journal.Event {
			if isStealBack(e) {
				// n2's key expires, then n1 creates it anew.
				gone := journal.Event{At: e.At.Add(-time.Millisecond), Kind: journal.KindLeader, Detail: "expired"}
				e.Detail = journal.LeaderCreated
				return []journal.Event{gone, e}
			}
			return []journal.Event{e}
		}), "3.0.2", false, "never wrote the leader key over another member's"},
		{"lease IDs not recorded", edit(rec, func(e journal.Event) []journal.Event {
			if e.Kind == journal.KindLeader {
				e.ID = ""
			}
			return []journal.Event{e}
		}), "3.0.2", false, "carries no lease ID"},
		{"taken back under the old lease", edit(rec, func(e journal.Event) []journal.Event {
			if isStealBack(e) {
				e.ID = "694d7c1a2b3c4d01"
			}
			return []journal.Event{e}
		}), "3.0.2", false, "under its old lease"},
		{"the write is not said to overwrite", edit(rec, func(e journal.Event) []journal.Event {
			if isStealBack(e) {
				e.Detail = ""
			}
			return []journal.Event{e}
		}), "3.0.2", false, "does not say the write overwrote n2's key"},
		{"a replica was frozen", edit(rec, func(e journal.Event) []journal.Event {
			if e.Kind == journal.KindFaultInject || e.Kind == journal.KindFaultRecover {
				e.Node = "n3"
			}
			return []journal.Event{e}
		}), "3.0.2", false, "n3 did not hold the leader key when it was frozen (n1 did)"},
		{"never thawed", edit(rec, func(e journal.Event) []journal.Event {
			if e.Kind == journal.KindFaultRecover {
				return nil
			}
			return []journal.Event{e}
		}), "3.0.2", false, "was never thawed"},
		{"nothing frozen", edit(rec, func(e journal.Event) []journal.Event {
			if e.Kind == journal.KindFaultInject {
				return nil
			}
			return []journal.Event{e}
		}), "3.0.2", false, "no node was frozen"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, why := PatroniStealBack(tt.events, tt.version)
			if got != tt.want || !strings.Contains(why, tt.why) {
				t.Errorf("PatroniStealBack = %v, %q; want %v containing %q", got, why, tt.want, tt.why)
			}
		})
	}
}

func TestParsePatroniVersion(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []int // nil: not a version
	}{
		{"3.0.2", []int{3, 0, 2}},
		{"3.0.2-1", []int{3, 0, 2}},
		{"v4.0", []int{4, 0, 0}},
		{" 3.2.1 ", []int{3, 2, 1}},
		{"", nil},
		{"3", nil},
		{"3.x.1", nil},
		{"3.0.2, 3.2.1", nil},
		{"1.2.3.4", nil},
	} {
		t.Run(tt.in, func(t *testing.T) {
			v, ok := parsePatroniVersion(tt.in)
			if ok != (tt.want != nil) || (ok && !slices.Equal(v[:], tt.want)) {
				t.Errorf("parsePatroniVersion(%q) = %v, %v; want %v", tt.in, v, ok, tt.want)
			}
		})
	}
}

// TestPatroniStealBackAfterStarvation: the same bug after a CPU
// starvation, in a real recording (cpu-starve-aggressive at 0.5% of a
// CPU on Patroni 3.0.2): n1 starved at +0, its key expires at +5.1 s, n2
// takes it at +7.2 s, the cap is lifted at +9.0 s and n1 writes the key
// over n2's under a new lease 0.15 s later; 182 of n2's acknowledged
// commits were lost.
func TestPatroniStealBackAfterStarvation(t *testing.T) {
	rec := readJournal(t, "testdata/cpu-starve-stealback.journal")
	if v := judgeLostCommits(rec, 0); v.OK {
		t.Fatalf("the recorded run should lose commits: %s", v.Detail)
	}
	for _, tt := range []struct {
		version string
		want    bool
		why     string
	}{
		{"3.0.2", true, "n1, frozen at"},
		{"3.0.3", false, "has the steal-back fix"},
	} {
		got, why := PatroniStealBack(rec, tt.version)
		if got != tt.want || !strings.Contains(why, tt.why) {
			t.Errorf("Patroni %s: excused %t (%s), want %t with %q", tt.version, got, why, tt.want, tt.why)
		}
	}
	// Without the recovery of the cap there is no thaw to steal back after.
	noRecover := edit(rec, func(e journal.Event) []journal.Event {
		if e.Kind == journal.KindFaultRecover {
			return nil
		}
		return []journal.Event{e}
	})
	if got, why := PatroniStealBack(noRecover, "3.0.2"); got || !strings.Contains(why, "never thawed") {
		t.Errorf("without the recovery: excused %t (%s)", got, why)
	}
}
