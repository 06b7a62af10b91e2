package faults

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/redswitch/redswitch/journal"
)

// Errors a caller can tell apart (the API maps them to statuses).
var (
	ErrAlreadyActive  = errors.New("fault already active")
	ErrUnknownFault   = errors.New("unknown fault id")
	ErrNotActive      = errors.New("fault is not active")
	ErrNotRecoverable = errors.New("fault cannot be recovered")
	ErrClosed         = errors.New("fault manager closed")
)

// Fault is one injection.
type Fault struct {
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`
	// Target is as requested; Node is what it resolved to (a node name or
	// "etcd"); Nodes lists every node the fault acted on.
	Target      string    `json:"target"`
	Node        string    `json:"node"`
	Nodes       []string  `json:"nodes,omitempty"`
	Request     Request   `json:"request"`
	State       State     `json:"state"`
	InjectedAt  time.Time `json:"injected_at,omitzero"`
	RecoveredAt time.Time `json:"recovered_at,omitzero"`
	Error       string    `json:"error,omitempty"`
}

// Recorder appends events to the journal.
type Recorder interface {
	Append(e journal.Event) (journal.Event, error)
}

// Options configure a Manager.
type Options struct {
	Env Env
	// Kinds defaults to Kinds().
	Kinds  []Injector
	Record Recorder
	// Clock timestamps events on the journal's monotonic base.
	Clock func() time.Time
	// Etcd and Scope, when set, make the manager record the events the
	// agents report through etcd (a node re-initialised).
	Etcd  *clientv3.Client
	Scope string
	Log   *slog.Logger
}

// Manager injects and recovers faults.
type Manager struct {
	o      Options
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	faults map[string]*Fault
	order  []string
	closed bool
}

// New returns a manager; with Options.Etcd it also starts watching the
// agents' events until Close.
func New(o Options) *Manager {
	if o.Kinds == nil {
		o.Kinds = Kinds()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Env.MaxFill == 0 {
		o.Env.MaxFill = 1 << 30
	}
	if o.Env.DataDir == "" {
		o.Env.DataDir = "/data/pg"
	}
	m := &Manager{o: o, faults: map[string]*Fault{}, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	if o.Etcd != nil && o.Record != nil {
		go func() {
			defer close(m.done)
			watchNodeEvents(ctx, o.Etcd, o.Scope, o.Record, o.Clock, o.Log)
		}()
	} else {
		close(m.done)
	}
	return m
}

// Kinds returns the kinds this manager knows.
func (m *Manager) Kinds() []Injector { return m.o.Kinds }

func newID(k Kind) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return string(k) + "-" + hex.EncodeToString(b[:])
}

func (m *Manager) record(e journal.Event) {
	if m.o.Record == nil {
		return
	}
	if _, err := m.o.Record.Append(e); err != nil {
		m.o.Log.Error("journal append failed", "kind", e.Kind, "err", err)
	}
}

// Inject validates req, resolves its target, refuses a second injection of
// the same kind on the same node, and injects. Nothing is recorded or
// changed for a request that fails validation. An injection that fails
// half-way is undone, and recorded with its error.
func (m *Manager) Inject(ctx context.Context, req Request) (Fault, error) {
	if err := req.Validate(m.o.Kinds); err != nil {
		return Fault{}, err
	}
	inj, _ := lookup(m.o.Kinds, req.Kind)
	info := inj.Info()
	if m.o.Env.State == nil {
		return Fault{}, errors.New("faults: no cluster state to resolve targets against")
	}
	node, err := Resolve(m.o.Env.State(), req.Target, info, mrand.IntN)
	if err != nil {
		return Fault{}, err
	}
	f := &Fault{ID: newID(req.Kind), Kind: req.Kind, Target: req.Target, Node: node, Nodes: []string{node},
		Request: req, State: StateInjecting}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return Fault{}, ErrClosed
	}
	for _, g := range m.faults {
		if g.Kind == f.Kind && g.Node == f.Node && holds(g.State) {
			m.mu.Unlock()
			return Fault{}, fmt.Errorf("%w: %s on %s is %s (id %s)", ErrAlreadyActive, g.Kind, g.Node, g.State, g.ID)
		}
	}
	m.faults[f.ID] = f
	m.order = append(m.order, f.ID)
	m.mu.Unlock()

	at := m.o.Clock()
	work := *f
	ierr := inj.Inject(ctx, &m.o.Env, &work)
	m.mu.Lock()
	f.Nodes = work.Nodes
	f.InjectedAt = at
	step := StepInjected
	if ierr != nil {
		step = StepInjectFailed
		f.Error = ierr.Error()
	}
	f.State, _ = next(f.State, step, info.Recoverable)
	snap := *f
	m.mu.Unlock()
	m.record(journal.Event{At: at, Kind: journal.KindFaultInject, Node: f.Node, ID: f.ID, Detail: string(f.Kind),
		Source: f.Target, Error: snap.Error})
	if ierr != nil {
		rerr := inj.Recover(context.WithoutCancel(ctx), &m.o.Env, &work)
		m.record(journal.Event{At: m.o.Clock(), Kind: journal.KindFaultRecover, Node: f.Node, ID: f.ID,
			Detail: string(f.Kind), Error: errString(rerr)})
		return snap, fmt.Errorf("inject %s on %s: %w", f.Kind, f.Node, errors.Join(ierr, rerr))
	}
	m.o.Log.Info("fault injected", "id", f.ID, "kind", f.Kind, "node", f.Node, "nodes", f.Nodes)
	return snap, nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Recover undoes an active fault.
func (m *Manager) Recover(ctx context.Context, id string) (Fault, error) {
	m.mu.Lock()
	f, ok := m.faults[id]
	if !ok {
		m.mu.Unlock()
		return Fault{}, fmt.Errorf("%w: %q", ErrUnknownFault, id)
	}
	inj, _ := lookup(m.o.Kinds, f.Kind)
	info := inj.Info()
	st, err := next(f.State, StepRecover, info.Recoverable)
	if err != nil {
		m.mu.Unlock()
		return *f, fmt.Errorf("recover %s (%s on %s): %w", id, f.Kind, f.Node, err)
	}
	f.State = st
	work := *f
	m.mu.Unlock()

	at := m.o.Clock()
	rerr := inj.Recover(ctx, &m.o.Env, &work)
	m.mu.Lock()
	step := StepRecovered
	if rerr != nil {
		step = StepRecoverFailed
		f.Error = rerr.Error()
	} else {
		f.RecoveredAt = at
		f.Error = ""
	}
	f.State, _ = next(f.State, step, info.Recoverable)
	snap := *f
	m.mu.Unlock()
	if rerr != nil {
		return snap, fmt.Errorf("recover %s (%s on %s): %w", id, f.Kind, f.Node, rerr)
	}
	m.record(journal.Event{At: at, Kind: journal.KindFaultRecover, Node: f.Node, ID: f.ID, Detail: string(f.Kind)})
	m.o.Log.Info("fault recovered", "id", f.ID, "kind", f.Kind, "node", f.Node)
	return snap, nil
}

// Get returns a fault by id.
func (m *Manager) Get(id string) (Fault, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.faults[id]
	if !ok {
		return Fault{}, false
	}
	return *f, true
}

// Active lists the faults not yet recovered, oldest first.
func (m *Manager) Active() []Fault {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Fault{}
	for _, id := range m.order {
		if f := m.faults[id]; holds(f.State) {
			out = append(out, *f)
		}
	}
	return out
}

// Close recovers every active fault, newest first, refuses new ones and
// stops watching the agents' events. It returns every recovery error.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	ids := append([]string(nil), m.order...)
	m.mu.Unlock()
	slices.Reverse(ids)
	var errs []error
	for _, id := range ids {
		m.mu.Lock()
		active := m.faults[id].State == StateActive
		m.mu.Unlock()
		if !active {
			continue
		}
		if _, err := m.Recover(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	m.cancel()
	<-m.done
	return errors.Join(errs...)
}
