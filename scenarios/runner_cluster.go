package scenarios

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
)

// Cluster is what the runner drives and watches: a containerized rig of
// its own (ContainerBackend) or a running head node (RemoteBackend). The
// runner only acts through it and records into it; the verdicts read the
// history it returns.
type Cluster interface {
	// Now is the clock every event of the history is stamped with.
	Now() time.Time
	// State is the head node's view of the cluster now.
	State(ctx context.Context) (headnodeapi.State, error)
	// SetPower switches a node's power, recording source as the cause.
	SetPower(ctx context.Context, node string, on bool, source string) error
	// Events is the whole recorded history so far.
	Events() []journal.Event
	// Record appends an event (a step mark, an observation) to the history.
	Record(e journal.Event) error
	// Streaming lists the nodes streaming from the primary of st.
	Streaming(ctx context.Context, st headnodeapi.State) ([]string, error)
	// RewindCount counts the pg_rewind runs in a node's log so far;
	// ErrNotAvailable when logs cannot be read.
	RewindCount(ctx context.Context, node string) (int, error)
	// ReadBack checks every acknowledged probe commit against the current
	// primary and records the result (journal.KindProbeReadback).
	ReadBack(ctx context.Context) error
	// Faults injects faults other than power; nil when none are available.
	Faults() FaultInjector
	// Fork makes a copy-on-write fork of a node's database and returns
	// once it is writable.
	Fork(ctx context.Context, node, name string) (agentapi.ForkInfo, error)
	// Forks lists the forks on the nodes that answer.
	Forks(ctx context.Context) ([]agentapi.ForkInfo, error)
	// Close tears down whatever the backend started.
	Close(ctx context.Context) error
}

// FaultInjector injects and recovers the fault kinds it supports. It is
// the runner's view of the faults package; power faults do not need it.
type FaultInjector interface {
	Supports(kind FaultKind) bool
	// Inject applies the fault to target (a node name or "etcd") and
	// returns an id for Recover.
	Inject(ctx context.Context, kind FaultKind, target string, step FaultStep) (id string, err error)
	Recover(ctx context.Context, id string) error
}

// Backend starts the cluster a scenario runs against.
type Backend interface {
	// Start returns a cluster shaped as sc.Cluster, probe running.
	Start(ctx context.Context, sc *Scenario) (Cluster, error)
	// Supports reports, before anything is started, whether the backend
	// can inject a fault kind; Forks whether it can take forks.
	Supports(kind FaultKind) bool
	Forks() bool
	// Name describes the backend in reports ("containers", the URL).
	Name() string
}

// ErrNotAvailable marks a step the backend cannot perform yet (a fault
// kind that has not landed, forks): the scenario is skipped, not failed.
var ErrNotAvailable = errors.New("not available")

// SkipError is Result.Err of a scenario that was skipped because a step
// needs something the backend cannot do.
type SkipError struct {
	// Line is the step that cannot run.
	Line   int
	Reason string
}

func (e *SkipError) Error() string {
	return fmt.Sprintf("skipped: line %d: %s", e.Line, e.Reason)
}

// Unwrap lets errors.Is(err, ErrNotAvailable) find skips.
func (e *SkipError) Unwrap() error { return ErrNotAvailable }

// Skipped reports whether r was skipped rather than run, and why.
func Skipped(r Result) (string, bool) {
	var s *SkipError
	if errors.As(r.Err, &s) {
		return s.Error(), true
	}
	return "", false
}

// unavailable checks a scenario's steps against what the backend can do,
// before a cluster is started for nothing.
func unavailable(sc *Scenario, b Backend) *SkipError {
	for _, st := range sc.Steps {
		switch {
		case st.Fault != nil && st.Fault.Inject && st.Fault.Kind != FaultPower && !b.Supports(st.Fault.Kind):
			return &SkipError{Line: st.Line, Reason: fmt.Sprintf("fault kind %s not available yet (%s)", st.Fault.Kind, b.Name())}
		case st.Fork != nil && !b.Forks():
			return &SkipError{Line: st.Line, Reason: fmt.Sprintf("forks not available yet (%s)", b.Name())}
		}
	}
	return nil
}
