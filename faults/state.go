package faults

import "fmt"

// State is where a fault is in its life.
type State string

// The states of a fault. Injecting and Recovering are in progress; Active
// holds until recovered; Done is a fault that heals by itself (a crash, a
// corruption) and was injected; Failed is an injection that did not take
// and was undone.
const (
	StateInjecting  State = "injecting"
	StateActive     State = "active"
	StateRecovering State = "recovering"
	StateRecovered  State = "recovered"
	StateDone       State = "done"
	StateFailed     State = "failed"
)

// Step is what happens to a fault.
type Step string

// The steps of a fault's life.
const (
	StepInjected      Step = "injected"
	StepInjectFailed  Step = "inject_failed"
	StepRecover       Step = "recover"
	StepRecovered     Step = "recovered"
	StepRecoverFailed Step = "recover_failed"
)

// next is the state machine: the state a step leads to, or an error when
// the step is not allowed. A recover of a fault that is not active, or of
// one that heals by itself, is refused, as is anything during a step in
// progress.
func next(s State, step Step, recoverable bool) (State, error) {
	switch {
	case s == StateInjecting && step == StepInjected && recoverable:
		return StateActive, nil
	case s == StateInjecting && step == StepInjected:
		return StateDone, nil
	case s == StateInjecting && step == StepInjectFailed:
		return StateFailed, nil
	case s == StateActive && step == StepRecover:
		return StateRecovering, nil
	case s == StateRecovering && step == StepRecovered:
		return StateRecovered, nil
	case s == StateRecovering && step == StepRecoverFailed:
		// Still broken: stays recoverable, and Close tries again.
		return StateActive, nil
	case step == StepRecover && s == StateDone:
		return s, fmt.Errorf("%w: it heals by itself", ErrNotRecoverable)
	case step == StepRecover:
		return s, fmt.Errorf("%w: it is %s", ErrNotActive, s)
	}
	return s, fmt.Errorf("fault state machine: %s while %s", step, s)
}

// holds reports whether a fault in state s occupies its (kind, node): a
// second injection of the same kind there is refused.
func holds(s State) bool {
	return s == StateInjecting || s == StateActive || s == StateRecovering
}
