package faults

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redswitch/redswitch/journal"
)

// lastEvent returns the journal's last event.
func (m *memRecorder) lastEvent(t *testing.T) journal.Event {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.ev) == 0 {
		t.Fatal("nothing recorded")
	}
	return m.ev[len(m.ev)-1]
}

// TestRecoverPassesByNodesWithoutPower recovers each kind that acts in a
// node while one of its nodes has no power: the others are healed, the
// node without power is not called and is listed as pending, and it is
// healed, and journaled, once it has power again.
func TestRecoverPassesByNodesWithoutPower(t *testing.T) {
	all := func(*Fault, string) bool { return true }
	for _, c := range []struct {
		name string
		req  Request
		// cut is the node that loses power after the injection ("" when
		// the fault cuts it itself).
		cut          string
		onRecover    []string
		pending      []string
		afterPowerOn []string
	}{
		{"etcd_outage", Request{Kind: KindEtcdOutage}, "n3",
			[]string{"n1:unblock etcd", "n2:unblock etcd"}, []string{"n3"}, []string{"n3:unblock etcd"}},
		{"partition", Request{Kind: KindPartition, Target: "n2"}, "n2",
			nil, []string{"n2"}, []string{"n2:unblock partition"}},
		{"disk_full", Request{Kind: KindDiskFull, Target: "n2"}, "n2",
			nil, []string{"n2"}, []string{"n2:release disk"}},
		{"patroni_crash", Request{Kind: KindPatroniCrash, Target: "n2"}, "n2",
			nil, []string{"n2"}, []string{"n2:release patroni"}},
		{"freeze", Request{Kind: KindFreeze, Target: "n2"}, "n2",
			nil, []string{"n2"}, []string{"n2:unpause"}},
		{"replica_lag holding the stream back", Request{Kind: KindReplicaLag, Target: "n2", Lag: 10}, "n2",
			nil, []string{"n2"}, []string{"n2:unblock lag"}},
		// The pause died with PostgreSQL: nothing to call after power-on.
		{"replica_lag pausing replay", Request{Kind: KindReplicaLag, Target: "n2", Lag: 10, Pause: true}, "n2",
			nil, []string{"n2"}, nil},
		// The cap is the container's setting: it is lifted while the node
		// is off, and nothing is left for power-on.
		{"cpu_starve", Request{Kind: KindCPUStarve, Target: "n2"}, "n2",
			[]string{"n2:unstarve"}, nil, nil},
		// A power fault's node is off by the fault: recovering is powering it on.
		{"power", Request{Kind: KindPower, Target: "n2"}, "",
			nil, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(nil)
			ctx := context.Background()
			f, err := h.m.Inject(ctx, c.req)
			if err != nil {
				t.Fatal(err)
			}
			if c.cut != "" {
				_ = h.rig.SetPower(ctx, c.cut, false, "test")
			}
			h.take()

			start := time.Now()
			got, err := h.m.Recover(ctx, f.ID)
			if err != nil {
				t.Fatalf("recover with %s off: %v", c.cut, err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("recover took %v", d)
			}
			if got.State != StateRecovered || !reflect.DeepEqual(got.Pending, c.pending) {
				t.Errorf("recovered fault: state %s, pending %v; want recovered, pending %v", got.State, got.Pending, c.pending)
			}
			if calls := h.take(); !reflect.DeepEqual(calls, c.onRecover) {
				t.Errorf("recover called %v, want %v", calls, c.onRecover)
			}
			if c.req.Kind == KindPower && h.rig.isOff("n2") {
				t.Error("recovering a power fault did not power the node on")
			}
			if e := h.rec.lastEvent(t); e.Kind != journal.KindFaultRecover || e.ID != f.ID || !reflect.DeepEqual(e.Pending, c.pending) {
				t.Errorf("recovery recorded as %+v, want fault.recover of %s with pending %v", e, f.ID, c.pending)
			}
			if _, err := h.m.Recover(ctx, f.ID); !errors.Is(err, ErrNotActive) {
				t.Errorf("second recover: %v, want ErrNotActive", err)
			}
			if len(c.pending) == 0 {
				return
			}

			// Still off: nothing is tried.
			if err := h.m.healPowered(ctx, all); err != nil {
				t.Fatal(err)
			}
			if calls := h.take(); len(calls) != 0 {
				t.Errorf("a node without power was called: %v", calls)
			}
			_ = h.rig.SetPower(ctx, c.cut, true, "test")
			if err := h.m.healPowered(ctx, all); err != nil {
				t.Fatalf("heal after power-on: %v", err)
			}
			if calls := h.take(); !reflect.DeepEqual(calls, c.afterPowerOn) {
				t.Errorf("after power-on called %v, want %v", calls, c.afterPowerOn)
			}
			if g, _ := h.m.Get(f.ID); len(g.Pending) != 0 || g.State != StateRecovered {
				t.Errorf("after power-on: state %s, pending %v", g.State, g.Pending)
			}
			e := h.rec.lastEvent(t)
			if e.Kind != journal.KindFaultRecover || e.ID != f.ID || e.Node != c.cut || e.Source != journal.SourcePowerOn {
				t.Errorf("heal after power-on recorded as %+v", e)
			}
			// Healed once: the loop finds nothing more to do.
			if err := h.m.healPowered(ctx, all); err != nil || len(h.take()) != 0 {
				t.Errorf("healed twice (err %v)", err)
			}
		})
	}
}

// TestRecoverNamesANodeThatFails: a node with power whose agent fails makes
// the recovery fail, naming it, after the others were healed; the node
// without power is still not called, and a later recovery succeeds.
func TestRecoverNamesANodeThatFails(t *testing.T) {
	for _, c := range []struct {
		name      string
		fail      string
		wantCalls []string
		pending   []string
	}{
		{"refuses", "unblock etcd", []string{"n1:unblock etcd", "n2:unblock etcd"}, []string{"n3"}},
		// Cut during the call: as if it had been cut before.
		{"cut during the call", "cut unblock etcd", []string{"n1:unblock etcd", "n2:unblock etcd"}, []string{"n2", "n3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(nil)
			ctx := context.Background()
			f, err := h.m.Inject(ctx, Request{Kind: KindEtcdOutage})
			if err != nil {
				t.Fatal(err)
			}
			_ = h.rig.SetPower(ctx, "n3", false, "test")
			h.setFail("n2", c.fail)
			h.take()
			got, err := h.m.Recover(ctx, f.ID)
			if calls := h.take(); !reflect.DeepEqual(calls, c.wantCalls) {
				t.Errorf("calls %v, want %v", calls, c.wantCalls)
			}
			if c.name == "refuses" {
				if err == nil || !strings.Contains(err.Error(), "on n2") || strings.Contains(err.Error(), "n3") {
					t.Fatalf("recover with n2 failing: %v; want an error naming n2 only", err)
				}
				if got.State != StateActive || len(got.Pending) != 0 || statusOf(err) != http.StatusConflict {
					t.Errorf("failed recovery left %s, pending %v, status %d", got.State, got.Pending, statusOf(err))
				}
				h.setFail("n2", "")
				got, err = h.m.Recover(ctx, f.ID)
				if err != nil {
					t.Fatalf("second recovery: %v", err)
				}
				h.take()
			} else if err != nil {
				t.Fatalf("recover with n2 cut during its call: %v", err)
			}
			if got.State != StateRecovered || !reflect.DeepEqual(got.Pending, c.pending) {
				t.Errorf("recovered: %s, pending %v, want pending %v", got.State, got.Pending, c.pending)
			}
		})
	}
}

// TestHealLoopHealsOnPowerOn: nothing but the manager's own loop heals a
// pending node once its power returns.
func TestHealLoopHealsOnPowerOn(t *testing.T) {
	h := newHarness(nil, func(o *Options) { o.HealEvery = 5 * time.Millisecond })
	ctx := context.Background()
	f, err := h.m.Inject(ctx, Request{Kind: KindPartition, Target: "n2"})
	if err != nil {
		t.Fatal(err)
	}
	_ = h.rig.SetPower(ctx, "n2", false, "test")
	if got, err := h.m.Recover(ctx, f.ID); err != nil || !reflect.DeepEqual(got.Pending, []string{"n2"}) {
		t.Fatalf("recover: %+v %v", got, err)
	}
	time.Sleep(50 * time.Millisecond)
	if g, _ := h.m.Get(f.ID); !reflect.DeepEqual(g.Pending, []string{"n2"}) {
		t.Fatalf("healed while off: pending %v", g.Pending)
	}
	if w := h.m.WithPending(); len(w) != 1 || w[0].ID != f.ID {
		t.Errorf("WithPending %+v", w)
	}
	_ = h.rig.SetPower(ctx, "n2", true, "test")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if g, _ := h.m.Get(f.ID); len(g.Pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("n2 still pending 5 s after its power returned")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := h.m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"n2:block partition", "n2:unblock partition"}
	if calls := h.take(); !reflect.DeepEqual(calls, want) {
		t.Errorf("calls %v, want %v", calls, want)
	}
	if e := h.rec.lastEvent(t); e.Node != "n2" || e.Source != journal.SourcePowerOn || e.ID != f.ID {
		t.Errorf("last event %+v", e)
	}
}

// TestInjectHealsPendingFirst: a fault of the same kind injected where an
// earlier one still waits to heal first heals it, so the late heal cannot
// undo the new fault.
func TestInjectHealsPendingFirst(t *testing.T) {
	for _, c := range []struct {
		name string
		req  Request
		cut  string
		want []string
	}{
		{"partition", Request{Kind: KindPartition, Target: "n2"}, "n2",
			[]string{"n2:unblock partition", "n2:block partition"}},
		{"etcd_outage", Request{Kind: KindEtcdOutage}, "n3",
			[]string{"n3:unblock etcd", "n1:block etcd", "n2:block etcd", "n3:block etcd"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(nil)
			ctx := context.Background()
			old, err := h.m.Inject(ctx, c.req)
			if err != nil {
				t.Fatal(err)
			}
			_ = h.rig.SetPower(ctx, c.cut, false, "test")
			if _, err := h.m.Recover(ctx, old.ID); err != nil {
				t.Fatal(err)
			}
			_ = h.rig.SetPower(ctx, c.cut, true, "test")
			h.take()
			f, err := h.m.Inject(ctx, c.req)
			if err != nil || f.State != StateActive {
				t.Fatalf("inject again: %+v %v", f, err)
			}
			if calls := h.take(); !reflect.DeepEqual(calls, c.want) {
				t.Errorf("calls %v, want %v", calls, c.want)
			}
			if g, _ := h.m.Get(old.ID); len(g.Pending) != 0 {
				t.Errorf("earlier fault still pending on %v", g.Pending)
			}
			kinds := h.rec.kinds()
			if got := kinds[len(kinds)-2:]; got[0] != "fault.recover "+string(c.req.Kind)+" "+c.cut || !strings.HasPrefix(got[1], "fault.inject") {
				t.Errorf("journal ends %v, want the late heal before the injection", got)
			}
		})
	}
}

// TestInjectAtNodeWithoutPower: a node without power is refused at once,
// nothing is called or recorded; etcd_outage passes it by.
func TestInjectAtNodeWithoutPower(t *testing.T) {
	for _, req := range []Request{
		{Kind: KindFreeze, Target: "n3"},
		{Kind: KindPartition, Target: "n3"},
		{Kind: KindDiskFull, Target: "n3"},
		{Kind: KindPatroniCrash, Target: "n3"},
		{Kind: KindPGCrash, Target: "n3"},
		{Kind: KindReplicaLag, Target: "n3", Lag: 10},
		{Kind: KindCorrupt, Target: "n3"},
		{Kind: KindPower, Target: "n3"},
	} {
		t.Run(string(req.Kind), func(t *testing.T) {
			h := newHarness(nil)
			ctx := context.Background()
			_ = h.rig.SetPower(ctx, "n3", false, "test")
			h.take()
			start := time.Now()
			_, err := h.m.Inject(ctx, req)
			if !errors.Is(err, ErrNoCandidate) || !strings.Contains(err.Error(), "n3 has no power") || statusOf(err) != http.StatusConflict {
				t.Errorf("inject at n3 without power: %v (status %d)", err, statusOf(err))
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("refusal took %v", d)
			}
			if calls := h.take(); len(calls) != 0 || len(h.rec.ev) != 0 {
				t.Errorf("refused injection acted: calls %v, events %v", calls, h.rec.kinds())
			}
		})
	}
	h := newHarness(nil)
	_ = h.rig.SetPower(context.Background(), "n3", false, "test")
	f, err := h.m.Inject(context.Background(), Request{Kind: KindEtcdOutage})
	if err != nil || !reflect.DeepEqual(f.Nodes, []string{"n1", "n2"}) {
		t.Errorf("etcd_outage with n3 off: nodes %v, %v", f.Nodes, err)
	}
}
