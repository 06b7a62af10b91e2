package faults

import (
	"errors"
	"testing"
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
