package scenarios

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// history builds synthetic histories the way the head node and the probe
// record them.
type history struct {
	ev  []journal.Event
	seq uint64
}

// acks records commits every 10 ms served by node on tl from..to seconds,
// in ranges of at most one second, as the probe compacts them.
func (h *history) acks(node string, tl int, from, to float64) *history {
	for a := from; a < to; a += 1 {
		b := min(a+0.99, to)
		n := uint64((b-a)*100) + 1
		h.ev = append(h.ev, journal.Event{At: at(b), Kind: journal.KindProbeAck, Node: node, Timeline: tl,
			First: h.seq + 1, Last: h.seq + n, FirstAt: at(a), LastAt: at(b)})
		h.seq += n
	}
	return h
}

func (h *history) add(s float64, e journal.Event) *history {
	e.At = at(s)
	h.ev = append(h.ev, e)
	return h
}

func (h *history) leader(s float64, node string) *history {
	return h.add(s, journal.Event{Kind: journal.KindLeader, Node: node})
}

func (h *history) power(s float64, node string, on bool, source string) *history {
	return h.add(s, journal.Event{Kind: journal.KindPower, Node: node, On: journal.Bool(on), Source: source})
}

func (h *history) readback(s float64, missing ...uint64) *history {
	return h.add(s, journal.Event{Kind: journal.KindProbeReadback, Last: h.seq, Missing: missing})
}

func (h *history) observe(s float64, node, what string) *history {
	return h.add(s, journal.Event{Kind: journal.KindNode, Node: node, Source: ObserverSource, Detail: what})
}

// quiet is the negative control's history: n1 primary for 40 s, nothing
// happens.
func quiet() *history {
	h := &history{}
	return h.leader(0, "n1").acks("n1", 1, 1, 41).readback(41)
}

// failedOver is a primary power cut at 10 s, failover to n2 at 15.2 s.
func failedOver() *history {
	h := &history{}
	h.leader(0, "n1").acks("n1", 1, 1, 10).power(10, "n1", false, "scenario").
		leader(14.8, "").leader(15.0, "n2").acks("n2", 2, 15.2, 30)
	return h
}

func TestJudgeNoFailover(t *testing.T) {
	tests := []struct {
		name   string
		h      *history
		since  float64
		wantOK bool
		want   string
	}{
		{"negative control", quiet(), 0, true, "n1 stayed primary"},
		{"wrong expectation: cut primary, expect no failover", failedOver(), 0, false, "failover n1 → n2"},
		{"window after the failover", failedOver(), 20, true, "n2 stayed primary"},
		{"same primary back after a crash", (&history{}).leader(0, "n1").acks("n1", 1, 1, 10).
			add(10, journal.Event{Kind: journal.KindFaultInject, Node: "n1", Detail: "pg_crash"}).acks("n1", 1, 13, 20), 0, true, "n1 stayed primary"},
		{"leader key moved without probe acks", (&history{}).leader(0, "n1").leader(5, "").leader(6, "n3"), 0, false, "moved from n1 to n3"},
		{"nobody ever primary", &history{}, 0, true, "no node held"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := judgeNoFailover(tt.h.ev, at(tt.since), at(100))
			if v.OK != tt.wantOK || !strings.Contains(v.Detail, tt.want) {
				t.Errorf("judgeNoFailover = %v %q, want %v containing %q", v.OK, v.Detail, tt.wantOK, tt.want)
			}
		})
	}
}

func TestJudgeFailover(t *testing.T) {
	tests := []struct {
		name    string
		h       *history
		disrupt float64
		within  time.Duration
		wantOK  bool
		want    string
		seconds float64
	}{
		{"within the bound", failedOver(), 10, 10 * time.Second, true, "n1 → n2", 5.2},
		{"too slow", failedOver(), 10, 5 * time.Second, false, "bound 5s", 5.2},
		{"no bound", failedOver(), 10, 0, true, "took 5.20s", 5.2},
		{"negative control has none", quiet(), 10, 10 * time.Second, false, "no failover found", -1},
		{"nothing disrupted", failedOver(), -1, 10 * time.Second, false, "nothing to fail over", -1},
		{"failover before the disruption does not count", failedOver(), 20, 10 * time.Second, false, "no failover found", -1},
		{"open outage is named", (&history{}).leader(0, "n1").acks("n1", 1, 1, 10).power(10, "n1", false, "scenario").
			add(12, journal.Event{Kind: journal.KindProbeError, Error: "connection refused"}), 10, 10 * time.Second, false, "writes have been failing", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d time.Time
			if tt.disrupt >= 0 {
				d = at(tt.disrupt)
			}
			v := judgeFailover(tt.h.ev, d, tt.within)
			if v.OK != tt.wantOK || !strings.Contains(v.Detail, tt.want) {
				t.Errorf("judgeFailover = %v %q, want %v containing %q", v.OK, v.Detail, tt.wantOK, tt.want)
			}
			got := -1.0
			for _, m := range v.Measures {
				if m.Name == "failover_s" {
					got = m.Value
				}
			}
			if tt.seconds >= 0 && (got < tt.seconds-0.01 || got > tt.seconds+0.01) {
				t.Errorf("failover_s = %v, want %v", got, tt.seconds)
			}
			if tt.seconds < 0 && got >= 0 {
				t.Errorf("failover_s measured (%v) without a failover", got)
			}
		})
	}
}

// TestJudgeFailoverRigShare: with the new primary's writable event the
// verdict names the rig's share and measures it; without, neither.
func TestJudgeFailoverRigShare(t *testing.T) {
	for _, tt := range []struct {
		name  string
		h     *history
		share float64 // -1: none
	}{
		{"writable seen", failedOver().add(15.18, journal.Event{Kind: journal.KindWritable, Node: "n2"}), 0.02},
		{"no watcher", failedOver(), -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := judgeFailover(tt.h.ev, at(10), 10*time.Second)
			got := -1.0
			for _, m := range v.Measures {
				if m.Name == "rig_share_s" {
					got = m.Value
				}
			}
			if math.Abs(got-tt.share) > 1e-6 {
				t.Errorf("rig_share_s = %v, want %v", got, tt.share)
			}
			if named := strings.Contains(v.Detail, "rig share (writable → first commit) 0.020s"); named != (tt.share >= 0) {
				t.Errorf("detail %q: rig share named %v, want %v", v.Detail, named, tt.share >= 0)
			}
		})
	}
}

func TestJudgeLostCommits(t *testing.T) {
	lossy := failedOver()
	lossy.readback(31, 899, 900, 5000) // 5000 was never acknowledged
	tests := []struct {
		name   string
		h      *history
		max    int
		wantOK bool
		want   string
		lost   float64
	}{
		{"none lost", quiet(), 0, true, "0 acknowledged commit(s) missing", 0},
		{"two lost, none allowed", lossy, 0, false, "2 acknowledged commit(s) missing", 2},
		{"two lost, loose bound", lossy, 1000, true, "899 (acked by n1 tl 1)", 2},
		{"no read-back", failedOver(), 0, false, "no read-back", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := judgeLostCommits(tt.h.ev, tt.max)
			if v.OK != tt.wantOK || !strings.Contains(v.Detail, tt.want) {
				t.Errorf("judgeLostCommits = %v %q, want %v containing %q", v.OK, v.Detail, tt.wantOK, tt.want)
			}
			if tt.lost >= 0 && (len(v.Measures) != 1 || v.Measures[0].Value != tt.lost) {
				t.Errorf("measures = %v, want lost_commits %v", v.Measures, tt.lost)
			}
		})
	}
}

func TestJudgeSplitBrain(t *testing.T) {
	split := failedOver()
	split.acks("n1", 1, 20, 22) // the old primary still acknowledging on its timeline
	for _, tt := range []struct {
		name   string
		h      *history
		wantOK bool
		want   string
	}{
		{"clean failover", failedOver(), true, "never two"},
		{"old primary still writing", split, false, "n1 (tl 1) and n2 (tl 2)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := judgeSplitBrain(tt.h.ev)
			if v.OK != tt.wantOK || !strings.Contains(v.Detail, tt.want) {
				t.Errorf("judgeSplitBrain = %v %q, want %v containing %q", v.OK, v.Detail, tt.wantOK, tt.want)
			}
		})
	}
}

func TestJudgeWrites(t *testing.T) {
	tests := []struct {
		name      string
		h         *history
		available bool
		from, to  float64
		wantOK    bool
		want      string
	}{
		{"steady writes are available", quiet(), true, 5, 35, true, "longest pause 0.0"},
		{"failover gap is not available", failedOver(), true, 5, 25, false, "longest pause 5.2"},
		{"failover gap is unavailable", failedOver(), false, 10.5, 15, true, "no commit acknowledged"},
		{"acks inside an unavailable window", failedOver(), false, 14, 20, false, "acknowledged in the"},
		{"window after the last ack", quiet(), true, 40, 45, false, "at most 1s allowed"},
		{"no acks at all", &history{}, true, 0, 5, false, "0 commit(s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := judgeWrites(tt.h.ev, tt.available, at(tt.from), at(tt.to))
			if v.OK != tt.wantOK || !strings.Contains(v.Detail, tt.want) {
				t.Errorf("judgeWrites = %v %q, want %v containing %q", v.OK, v.Detail, tt.wantOK, tt.want)
			}
		})
	}
}

func TestJudgePrimaryAndTimeline(t *testing.T) {
	h := failedOver()
	for _, tt := range []struct {
		name   string
		v      verdict
		wantOK bool
		want   string
	}{
		{"is the new primary", judgePrimary(h.ev, at(20), true, []string{"n2"}), true, "primary is n2"},
		{"is not the cut node", judgePrimary(h.ev, at(20), false, []string{"n1"}), true, "not n1"},
		{"still the old one before the failover", judgePrimary(h.ev, at(12), false, []string{"n1"}), false, "want anyone else"},
		{"nobody during the election", judgePrimary(h.ev, at(14.9), true, []string{"n1", "n2"}), false, "primary is nobody"},
		{"none of several", judgePrimary(h.ev, at(14.9), false, []string{"n1", "n2"}), true, "not n1 nor n2"},
		{"timeline advanced", judgeTimeline(h.ev, at(10), at(25), true), true, "timeline 2 on n2, was 1 on n1"},
		{"timeline advanced, want not", judgeTimeline(h.ev, at(10), at(25), false), false, "want it unchanged"},
		{"negative control keeps its timeline", judgeTimeline(quiet().ev, at(0), at(35), false), true, "timeline 1 on n1, was 1"},
		{"negative control, want advanced", judgeTimeline(quiet().ev, at(0), at(35), true), false, "want it advanced"},
		{"no acks", judgeTimeline(nil, at(0), at(1), false), false, "no acknowledged commit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.v.OK != tt.wantOK || !strings.Contains(tt.v.Detail, tt.want) {
				t.Errorf("verdict = %v %q, want %v containing %q", tt.v.OK, tt.v.Detail, tt.wantOK, tt.want)
			}
		})
	}
}

func TestJudgeRejoinedAndPowerCuts(t *testing.T) {
	h := failedOver()
	h.power(30, "n1", true, "scenario").observe(31, "n1", ObservedRewound).observe(31, "n1", ObservedStreaming)
	yes, no := true, false
	for _, tt := range []struct {
		name   string
		v      verdict
		wantOK bool
		want   string
	}{
		{"rejoined after rewind", judgeRejoined(h.ev, []string{"n1"}, at(30), &yes), true, "1.0s after power on, after pg_rewind"},
		{"rejoined, want no rewind", judgeRejoined(h.ev, []string{"n1"}, at(30), &no), false, "but pg_rewind ran"},
		{"rejoined, rewind not asked", judgeRejoined(h.ev, []string{"n1"}, at(30), nil), true, "n1 streams"},
		{"seen before the window", judgeRejoined(h.ev, []string{"n1"}, at(32), nil), false, "not seen streaming"},
		{"one of two missing", judgeRejoined(h.ev, []string{"n1", "n3"}, at(30), nil), false, "n3 not seen"},
		{"nothing to check", judgeRejoined(h.ev, nil, at(30), nil), false, "no node"},
		{"the primary after a cold start", judgeRejoined((&history{}).observe(5, "n2", ObservedLeading).observe(6, "n1", ObservedStreaming).ev,
			[]string{"n1", "n2"}, at(0), nil), true, "n2 is the running primary"},
		{"rewind unknown remotely", judgeRejoined((&history{}).observe(1, "n1", ObservedStreaming).observe(1, "n1", ObservedRewindUnknown).ev,
			[]string{"n1"}, at(0), &yes), true, "not observable"},
		{"one cut", judgePowerCuts(h.ev, at(0), 1), true, "n1 by scenario"},
		{"bounces counted twice", judgePowerCuts(append(h.ev, journal.Event{At: at(10.01), Kind: journal.KindPower, Node: "n1",
			On: journal.Bool(false), Source: "switch 1"}), at(0), 1), false, "want exactly 1"},
		{"observed cut is not another", judgePowerCuts(append(h.ev, journal.Event{At: at(11), Kind: journal.KindPower, Node: "n1",
			On: journal.Bool(false), Source: "observed"}), at(0), 1), true, "1 power cut"},
		{"reinitialised", judgeReinitialised(append(h.ev, journal.Event{At: at(20), Kind: journal.KindRole, Node: "n3",
			State: "creating replica"}), []string{"n3"}, at(0)), true, "n3 was re-initialised"},
		{"not reinitialised", judgeReinitialised(h.ev, []string{"n3"}, at(0)), false, "not seen re-initialising"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.v.OK != tt.wantOK || !strings.Contains(tt.v.Detail, tt.want) {
				t.Errorf("verdict = %v %q, want %v containing %q", tt.v.OK, tt.v.Detail, tt.wantOK, tt.want)
			}
		})
	}
}

func state(leader string, nodes ...headnodeapi.NodeState) headnodeapi.State {
	return headnodeapi.State{Leader: leader, Nodes: nodes}
}

func nodeState(name string, role cluster.Role, power string) headnodeapi.NodeState {
	return headnodeapi.NodeState{Name: name, Role: role, Power: power, State: "running"}
}

func TestResolve(t *testing.T) {
	full := state("n2", nodeState("n3", cluster.RoleReplica, "on"), nodeState("n1", cluster.RoleReplica, "on"), nodeState("n2", cluster.RolePrimary, "on"))
	oneDown := state("n2", nodeState("n1", cluster.RoleDown, "off"), nodeState("n2", cluster.RolePrimary, "on"), nodeState("n3", cluster.RoleReplica, "on"))
	noLeader := state("", nodeState("n1", cluster.RoleReplica, "on"))
	sel := func(k SelectKind) Selector { return Selector{Kind: k} }
	tests := []struct {
		name    string
		sels    []Selector
		st      headnodeapi.State
		last    []string
		want    []string
		wantErr string
	}{
		{"primary", []Selector{sel(SelectPrimary)}, full, nil, []string{"n2"}, ""},
		{"replica is the lowest name", []Selector{sel(SelectReplica)}, full, nil, []string{"n1"}, ""},
		{"replica skips powered-off nodes", []Selector{sel(SelectReplica)}, oneDown, nil, []string{"n3"}, ""},
		{"primary and replica are distinct", []Selector{sel(SelectPrimary), sel(SelectReplica)}, full, nil, []string{"n2", "n1"}, ""},
		{"two replicas", []Selector{sel(SelectReplica), sel(SelectReplica)}, full, nil, []string{"n1", "n3"}, ""},
		{"no third replica", []Selector{sel(SelectReplica), sel(SelectReplica), sel(SelectReplica)}, full, nil, nil, "no powered replica"},
		{"any", []Selector{sel(SelectAny)}, oneDown, nil, []string{"n2"}, ""},
		{"@last", []Selector{sel(SelectLast)}, full, []string{"n3", "n1"}, []string{"n3", "n1"}, ""},
		{"@last with nothing before", []Selector{sel(SelectLast)}, full, nil, nil, "no earlier step"},
		{"all, sorted", []Selector{sel(SelectAll)}, full, nil, []string{"n1", "n2", "n3"}, ""},
		{"named node", []Selector{{Kind: SelectNode, Node: "n3"}}, full, nil, []string{"n3"}, ""},
		{"unknown node", []Selector{{Kind: SelectNode, Node: "n7"}}, full, nil, nil, "no such node"},
		{"no primary", []Selector{sel(SelectPrimary)}, noLeader, nil, nil, "has no primary"},
		{"primary twice", []Selector{sel(SelectPrimary), sel(SelectPrimary)}, full, nil, nil, "already selected"},
		{"etcd", []Selector{sel(SelectEtcd)}, full, nil, []string{"etcd"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolve(tt.sels, tt.st, tt.last)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("resolve = %v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("resolve = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestNamesOf(t *testing.T) {
	nodes := []string{"n1", "n2", "n3"}
	for _, tt := range []struct {
		sel  Selector
		want []string
	}{
		{Selector{Kind: SelectLast}, []string{"n2"}},
		{Selector{Kind: SelectAll}, nodes},
		{Selector{Kind: SelectNode, Node: "n3"}, []string{"n3"}},
		{Selector{Kind: SelectPrimary}, nil},
	} {
		if got := namesOf(tt.sel, nodes, []string{"n2"}); !slices.Equal(got, tt.want) {
			t.Errorf("namesOf(%s) = %v, want %v", tt.sel, got, tt.want)
		}
	}
}

func TestCountRewinds(t *testing.T) {
	log := "2026 INFO: running pg_rewind from n2\npg_rewind: Done!\nINFO: running pg_rewind from n3\n"
	if got := countRewinds(log); got != 2 {
		t.Errorf("countRewinds = %d, want 2", got)
	}
	if got := countRewinds("INFO: no action. I am (n1), a secondary"); got != 0 {
		t.Errorf("countRewinds of a quiet log = %d, want 0", got)
	}
}

// fakeBackend supports nothing and must never be asked to start.
type fakeBackend struct{ started int }

func (f *fakeBackend) Start(context.Context, *Scenario) (Cluster, error) {
	f.started++
	return nil, errors.New("fake backend cannot start clusters")
}
func (f *fakeBackend) Supports(FaultKind) bool { return false }
func (f *fakeBackend) Forks() bool             { return false }
func (f *fakeBackend) Name() string            { return "fake" }

func TestUnavailableStepsSkipBeforeBoot(t *testing.T) {
	lib, err := LoadAll(Library(), ".")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Scenario{}
	for _, sc := range lib {
		byName[sc.Name] = sc
	}
	for _, tt := range []struct {
		name     string
		skip     string // "" when the scenario must try to start a cluster
		needBoot bool
	}{
		{"primary-freeze", "fault kind freeze not available yet (fake)", false},
		{"fork-from-replica", "forks not available yet (fake)", false},
		{"negative-control", "", true},
		{"switch-flapping", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sc := byName[tt.name]
			if sc == nil {
				t.Fatalf("library has no %s", tt.name)
			}
			fb := &fakeBackend{}
			res := RunScenario(context.Background(), sc, RunOptions{Backend: fb})
			reason, skipped := Skipped(res)
			if tt.skip != "" {
				if !skipped || !strings.Contains(reason, tt.skip) || fb.started != 0 || res.Passed() {
					t.Errorf("skipped=%v %q, started %d, passed %v; want skipped with %q before any start", skipped, reason, fb.started, res.Passed(), tt.skip)
				}
				return
			}
			if skipped || fb.started != 1 || res.Err == nil || res.Passed() {
				t.Errorf("skipped=%v, started %d, err %v; want one start attempt that fails the run", skipped, fb.started, res.Err)
			}
		})
	}
}

// FuzzJudges feeds arbitrary histories (as a damaged or hostile journal
// could hold) to every judge: none may panic, and writes cannot be both
// available and unavailable over the same window.
func FuzzJudges(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, uint16(500), uint16(3000))
	f.Add([]byte{9, 9, 9, 0, 0, 0, 255, 128, 7, 1, 2}, uint16(0), uint16(100))
	f.Fuzz(func(t *testing.T, data []byte, from, to uint16) {
		var ev []journal.Event
		kinds := []journal.Kind{journal.KindProbeAck, journal.KindLeader, journal.KindPower, journal.KindProbeReadback,
			journal.KindNode, journal.KindRole, journal.KindProbeError, journal.KindFaultInject}
		nodes := []string{"", "n1", "n2", "n3"}
		for i := 0; i+3 < len(data); i += 4 {
			a, b := at(float64(data[i+1])/10), at(float64(data[i+2])/10)
			e := journal.Event{At: b, Kind: kinds[int(data[i])%len(kinds)], Node: nodes[int(data[i+3])%len(nodes)],
				First: uint64(data[i+1]), Last: uint64(data[i+2]), FirstAt: a, LastAt: b, Timeline: int(data[i+3] % 3),
				On: journal.Bool(data[i+3]%2 == 0), Detail: []string{ObservedStreaming, ObservedRewound, ObservedLeading, ""}[data[i]%4]}
			if e.Kind == journal.KindProbeReadback {
				e.Missing = []uint64{uint64(data[i+1]), uint64(data[i+2])}
			}
			ev = append(ev, e)
		}
		w0, w1 := at(float64(from)/100), at(float64(to)/100)
		yes := true
		_ = judgeFailover(ev, w0, time.Second)
		_ = judgeNoFailover(ev, w0, w1)
		_ = judgeLostCommits(ev, 0)
		_ = judgeSplitBrain(ev)
		_ = judgePrimary(ev, w1, true, []string{"n1"})
		_ = judgeTimeline(ev, w0, w1, true)
		_ = judgeRejoined(ev, []string{"n1", "n2"}, w0, &yes)
		_ = judgeReinitialised(ev, []string{"n3"}, w0)
		_ = judgePowerCuts(ev, w0, 1)
		if w1.After(w0) && judgeWrites(ev, true, w0, w1).OK && judgeWrites(ev, false, w0, w1).OK {
			t.Errorf("writes both available and unavailable over %s..%s", w0, w1)
		}
	})
}

func TestJudgePostmortem(t *testing.T) {
	ack := func(node string, first, last uint64) journal.Event {
		return journal.Event{Kind: journal.KindProbeAck, Node: node, First: first, Last: last}
	}
	f := agentapi.ForkInfo{Name: "postmortem-1", Node: "n1", Method: "snapshot", Port: 5440}
	ev := []journal.Event{ack("n1", 1, 400), ack("n2", 401, 900), ack("n1", 901, 950)}
	tests := []struct {
		name    string
		node    string
		forkMax uint64
		ok      bool
		want    string
	}{
		{"holds every ack and two in flight", "n1", 952, true, "up to #950); 2 more row(s)"},
		{"holds exactly the acks", "n1", 950, true, "0 more row(s)"},
		{"misses acknowledged commits", "n1", 940, false, "holds probe rows up to #940, but n1 acknowledged up to #950"},
		{"node never primary", "n3", 950, false, "n3 acknowledged no probe commit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := judgePostmortem(ev, tc.node, f, tc.forkMax)
			if v.OK != tc.ok || !strings.Contains(v.Detail, tc.want) {
				t.Fatalf("%+v, want ok=%v with %q", v, tc.ok, tc.want)
			}
		})
	}
}

func TestRunHistory(t *testing.T) {
	h := &history{}
	h.leader(0, "n1").leader(3, "").leader(4, "n2").acks("n2", 2, 5, 7).leader(20, "n3")
	for _, tt := range []struct {
		name  string
		start float64
		want  []string // kind:node of each event kept
	}{
		{"from the beginning", 0, []string{"leader:n1", "leader:", "leader:n2", "probe.ack:n2", "probe.ack:n2", "leader:n3"}},
		{"holder at the start comes first", 4.5, []string{"leader:n2", "probe.ack:n2", "probe.ack:n2", "leader:n3"}},
		{"expired key at the start", 3.5, []string{"leader:", "leader:n2", "probe.ack:n2", "probe.ack:n2", "leader:n3"}},
		{"after everything", 30, []string{"leader:n3"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range runHistory(h.ev, at(tt.start)) {
				got = append(got, string(e.Kind)+":"+e.Node)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("runHistory = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSyncPending(t *testing.T) {
	node := func(name, power string, sync bool) headnodeapi.NodeState {
		return headnodeapi.NodeState{Name: name, Power: power, Sync: sync}
	}
	tests := []struct {
		name        string
		synchronous bool
		nodes       []headnodeapi.NodeState
		pending     bool
	}{
		{"asynchronous", false, []headnodeapi.NodeState{node("n1", "on", false), node("n2", "on", false)}, false},
		{"no standby named", true, []headnodeapi.NodeState{node("n1", "on", false), node("n2", "on", false), node("n3", "on", false)}, true},
		{"standby named", true, []headnodeapi.NodeState{node("n1", "on", false), node("n2", "on", true), node("n3", "on", false)}, false},
		{"only the primary powered", true, []headnodeapi.NodeState{node("n1", "on", false), node("n2", "off", true)}, false},
		{"the named one is off", true, []headnodeapi.NodeState{node("n1", "on", false), node("n2", "off", true), node("n3", "on", false)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := syncPending(tt.synchronous, headnodeapi.State{Leader: "n1", Nodes: tt.nodes})
			if (got != "") != tt.pending {
				t.Fatalf("syncPending = %q, want pending %v", got, tt.pending)
			}
		})
	}
}
