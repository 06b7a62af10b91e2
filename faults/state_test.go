package faults

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redswitch/redswitch/headnodeapi"
)

func TestStateMachine(t *testing.T) {
	for _, c := range []struct {
		from        State
		step        Step
		recoverable bool
		want        State
		err         error
	}{
		{StateInjecting, StepInjected, true, StateActive, nil},
		{StateInjecting, StepInjected, false, StateDone, nil},
		{StateInjecting, StepInjectFailed, true, StateFailed, nil},
		{StateActive, StepRecover, true, StateRecovering, nil},
		{StateRecovering, StepRecovered, true, StateRecovered, nil},
		{StateRecovering, StepRecoverFailed, true, StateActive, nil},
		{StateDone, StepRecover, false, StateDone, ErrNotRecoverable},
		{StateRecovered, StepRecover, true, StateRecovered, ErrNotActive},
		{StateFailed, StepRecover, true, StateFailed, ErrNotActive},
		{StateInjecting, StepRecover, true, StateInjecting, ErrNotActive},
		{StateRecovering, StepRecover, true, StateRecovering, ErrNotActive},
		{StateActive, StepInjected, true, StateActive, errors.New("any")},
	} {
		t.Run(string(c.from)+"+"+string(c.step), func(t *testing.T) {
			got, err := next(c.from, c.step, c.recoverable)
			if got != c.want {
				t.Errorf("state %s, want %s", got, c.want)
			}
			switch {
			case c.err == nil && err != nil:
				t.Errorf("unexpected error %v", err)
			case c.err != nil && err == nil:
				t.Errorf("no error, want %v", c.err)
			case c.err != nil && (errors.Is(c.err, ErrNotActive) || errors.Is(c.err, ErrNotRecoverable)) && !errors.Is(err, c.err):
				t.Errorf("error %v, want %v", err, c.err)
			}
		})
	}
}

func TestHolds(t *testing.T) {
	for s, want := range map[State]bool{StateInjecting: true, StateActive: true, StateRecovering: true,
		StateRecovered: false, StateDone: false, StateFailed: false} {
		if holds(s) != want {
			t.Errorf("holds(%s) = %v, want %v", s, !want, want)
		}
	}
}

func TestWaitLag(t *testing.T) {
	lag := func(n int64) *int64 { return &n }
	calls := 0
	state := func() headnodeapi.State {
		calls++
		l := int64(calls) * 4 << 20 // 4 MB more per look
		return headnodeapi.State{Nodes: []headnodeapi.NodeState{{Name: "n1"}, {Name: "n2", LagBytes: lag(l)}}}
	}
	if err := waitLag(context.Background(), state, "n2", 12<<20, 5*time.Second); err != nil || calls != 3 {
		t.Fatalf("err %v after %d looks, want success on the third", err, calls)
	}
	stuck := func() headnodeapi.State {
		return headnodeapi.State{Nodes: []headnodeapi.NodeState{{Name: "n2", LagBytes: lag(100)}}}
	}
	err := waitLag(context.Background(), stuck, "n2", 1<<20, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "n2 is 100 bytes behind") {
		t.Fatalf("err %v, want the lag seen named", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := waitLag(ctx, stuck, "n2", 1<<20, time.Minute); err == nil {
		t.Fatal("a cancelled wait must end")
	}
}
