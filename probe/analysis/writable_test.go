package analysis

import (
	"math"
	"testing"

	"github.com/redswitch/redswitch/journal"
)

func (h *history) writable(at float64, node, detail string) {
	h.add(journal.Event{At: sec(at), Kind: journal.KindWritable, Node: node, SentAt: sec(at),
		FirstAt: sec(at - 0.01), LastAt: sec(at + 0.001), Detail: detail})
}

// silentCut scripts a silent power cut of n1 at 2 s with the offsets of a
// measured rig trial (bench/failover/results/quiet-20-5, aggressive trial
// 1): HAProxy down +1.80, lease expired +4.54, n2 takes the key +6.63
// (after the 2 s leader race), HAProxy routes to it +6.70, first commit
// +6.79, and Patroni publishes n2's role +8.02, after the first commit.
// writableAt is when the watcher saw n2 out of recovery (0: not seen).
func silentCut(h *history, writableAt float64) {
	const cut = 2.0
	h.acks("n1", 1, 0, cut-0.004)
	h.power(cut, "n1", false)
	h.errs(cut+0.05, cut+6.7, "")
	h.haproxy(cut+1.80, "n1", false)
	h.leader(cut+4.54, "")
	h.leader(cut+6.63, "n2")
	h.haproxy(cut+6.70, "n2", true)
	if writableAt > 0 {
		h.writable(cut+writableAt, "n2", "was in recovery")
	}
	h.acks("n2", 2, cut+6.79, cut+8)
	h.role(cut+8.02, "n2", "master")
	h.acks("n2", 2, cut+8.01, cut+10)
}

func TestWritablePhase(t *testing.T) {
	for _, tt := range []struct {
		name  string
		build func(h *history)
		// phases in time order; writable's offset; rig share (NaN: none).
		phases   []string
		writable float64
		share    float64
	}{
		{
			name:     "silent cut: writable before the first commit, Patroni's role after it",
			build:    func(h *history) { silentCut(h, 6.77) },
			phases:   []string{PhaseHAProxyDown, PhaseLeaderExpired, PhaseNewLeader, PhaseHAProxyUp, PhaseWritable, PhaseFirstCommit, PhasePromoted},
			writable: 6.77, share: 0.02,
		},
		{
			name:   "no watcher: no writable phase, no rig share",
			build:  func(h *history) { silentCut(h, 0) },
			phases: []string{PhaseHAProxyDown, PhaseLeaderExpired, PhaseNewLeader, PhaseHAProxyUp, PhaseFirstCommit, PhasePromoted},
			share:  math.NaN(),
		},
		{
			name: "the old primary back writable after a reconnect is not the new primary's phase",
			build: func(h *history) {
				h.writable(5, "n1", "after reconnect") // a freeze thawed, inside the window
				silentCut(h, 6.8)                      // seen after the probe's commit: a negative share
			},
			phases:   []string{PhaseHAProxyDown, PhaseLeaderExpired, PhaseNewLeader, PhaseHAProxyUp, PhaseFirstCommit, PhaseWritable, PhasePromoted},
			writable: 6.8, share: -0.01,
		},
		{
			name: "a writable event of the new primary before the cut does not count",
			build: func(h *history) {
				h.writable(1, "n2", "after reconnect")
				silentCut(h, 0)
			},
			phases: []string{PhaseHAProxyDown, PhaseLeaderExpired, PhaseNewLeader, PhaseHAProxyUp, PhaseFirstCommit, PhasePromoted},
			share:  math.NaN(),
		},
		{
			name: "two writable events of the new primary: the first one",
			build: func(h *history) {
				silentCut(h, 6.75)
				h.writable(2+7.5, "n2", "after reconnect")
			},
			phases:   []string{PhaseHAProxyDown, PhaseLeaderExpired, PhaseNewLeader, PhaseHAProxyUp, PhaseWritable, PhaseFirstCommit, PhasePromoted},
			writable: 6.75, share: 0.04,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var h history
			tt.build(&h)
			fs := Failovers(h.ev, Options{})
			if len(fs) != 1 {
				t.Fatalf("failovers = %d, want 1", len(fs))
			}
			f := fs[0]
			var names []string
			got := map[string]float64{}
			for i, p := range f.Phases {
				names = append(names, p.Name)
				got[p.Name] = p.Seconds
				if i > 0 && p.Seconds < f.Phases[i-1].Seconds {
					t.Errorf("phase %s at %.3f s after %s at %.3f s: not in time order", p.Name, p.Seconds, f.Phases[i-1].Name, f.Phases[i-1].Seconds)
				}
			}
			if len(names) != len(tt.phases) {
				t.Fatalf("phases %v, want %v", names, tt.phases)
			}
			for i := range names {
				if names[i] != tt.phases[i] {
					t.Fatalf("phases %v, want %v", names, tt.phases)
				}
			}
			if w, ok := got[PhaseWritable]; ok && math.Abs(w-tt.writable) > 1e-6 {
				t.Errorf("writable at %.3f s, want %.3f s", w, tt.writable)
			}
			if math.IsNaN(tt.share) {
				if f.RigShare != nil {
					t.Errorf("rig share %v without a writable phase", *f.RigShare)
				}
				return
			}
			if f.RigShare == nil {
				t.Fatal("no rig share")
			}
			if s := f.RigShare.Seconds(); math.Abs(s-tt.share) > 1e-6 {
				t.Errorf("rig share %.3f s, want %.3f s (first commit %.3f s − writable)", s, tt.share, f.Duration.Seconds())
			}
		})
	}
}
