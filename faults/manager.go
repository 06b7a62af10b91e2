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
	Target string   `json:"target"`
	Node   string   `json:"node"`
	Nodes  []string `json:"nodes,omitempty"`
	// Pending lists the nodes a recovery passed by because they had no
	// power: each is healed once it runs again, and then leaves the list.
	// The fault is recovered meanwhile.
	Pending     []string  `json:"pending,omitempty"`
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
	// HealEvery is how often the manager looks for pending nodes that
	// have power again (default 1 s).
	HealEvery time.Duration
	Log       *slog.Logger
}

// healAttempt bounds one heal of a node powered on again: its agent may
// still be starting, and the next look comes a second later.
const healAttempt = 10 * time.Second

// healWarnAfter is how long a node powered on again may fail its heal
// before the manager warns: an agent takes seconds to start, not minutes.
const healWarnAfter = time.Minute

// Manager injects and recovers faults.
type Manager struct {
	o      Options
	cancel context.CancelFunc
	loops  sync.WaitGroup

	mu     sync.Mutex
	faults map[string]*Fault
	order  []string
	closed bool

	// healMu keeps heals of pending nodes one at a time, so an injection
	// that heals its nodes first cannot meet the background loop half-way.
	// It is held for one node's heal at most (healAttempt).
	healMu sync.Mutex
	// failing notes since when a pending node with power fails its heal.
	failing map[string]healFailure
}

type healFailure struct {
	since  time.Time
	warned bool
}

// New returns a manager. Until Close it heals the nodes recoveries left
// pending once they have power again, and with Options.Etcd it watches
// the agents' events.
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
	if o.HealEvery == 0 {
		o.HealEvery = time.Second
	}
	m := &Manager{o: o, faults: map[string]*Fault{}, failing: map[string]healFailure{}}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	if o.Etcd != nil && o.Record != nil {
		m.loops.Go(func() { watchNodeEvents(ctx, o.Etcd, o.Scope, o.Record, o.Clock, o.Log) })
	}
	if o.Env.State != nil {
		m.loops.Go(func() { m.healLoop(ctx) })
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

	// An earlier fault of this kind may still wait to heal a node this
	// one acts on: heal it first, or its late heal would undo this one.
	// No new pending node of this kind can appear meanwhile: f holds it.
	herr := m.healPowered(ctx, func(g *Fault, node string) bool {
		return g.Kind == f.Kind && (f.Node == TargetEtcd || node == f.Node)
	})
	at := m.o.Clock()
	work := *f
	var ierr error
	if herr != nil {
		// Nothing was injected, so there is nothing to undo.
		work.Nodes = nil
		ierr = fmt.Errorf("an earlier %s is still to be healed: %w", f.Kind, herr)
	} else {
		ierr = inj.Inject(ctx, &m.o.Env, &work)
	}
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
		rat := m.o.Clock()
		pending, rerr := m.heal(context.WithoutCancel(ctx), inj, &work)
		m.mu.Lock()
		f.Pending = pending
		snap = *f
		m.mu.Unlock()
		m.record(journal.Event{At: rat, Kind: journal.KindFaultRecover, Node: f.Node, ID: f.ID,
			Detail: string(f.Kind), Error: errString(rerr), Pending: pending})
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

// Recover undoes an active fault on each of its nodes. A node without power
// is not called: the fault is recovered with that node listed in Pending,
// and the node is healed when it runs again. A node with power that fails
// makes the recovery fail, naming it, after the others were healed; the
// fault stays active and can be recovered again.
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
	pending, rerr := m.heal(ctx, inj, &work)
	m.mu.Lock()
	step := StepRecovered
	if rerr != nil {
		step = StepRecoverFailed
		f.Error = rerr.Error()
	} else {
		f.RecoveredAt = at
		f.Error = ""
		f.Pending = pending
	}
	f.State, _ = next(f.State, step, info.Recoverable)
	snap := *f
	m.mu.Unlock()
	if rerr != nil {
		return snap, fmt.Errorf("recover %s (%s on %s): %w", id, f.Kind, f.Node, rerr)
	}
	m.record(journal.Event{At: at, Kind: journal.KindFaultRecover, Node: f.Node, ID: f.ID, Detail: string(f.Kind),
		Pending: pending})
	m.o.Log.Info("fault recovered", "id", f.ID, "kind", f.Kind, "node", f.Node, "pending_power_on", pending)
	return snap, nil
}

// heal recovers f on each of its nodes and returns the nodes left pending.
// A node of an in-node kind without power is not called: its agent cannot
// answer (the call would wait out a timeout), and whatever of the fault
// outlives the cut is healed when the node runs again. A node cut during
// the call counts as one cut before it.
func (m *Manager) heal(ctx context.Context, inj Injector, f *Fault) ([]string, error) {
	inNode := inj.Info().InNode
	var pending []string
	var errs []error
	for _, n := range f.Nodes {
		if inNode && m.poweredOff(n) {
			pending = append(pending, n)
			continue
		}
		if err := inj.Recover(ctx, &m.o.Env, f, n); err != nil {
			if inNode && m.poweredOff(n) {
				pending = append(pending, n)
				continue
			}
			errs = append(errs, fmt.Errorf("heal %s on %s: %w", f.Kind, n, err))
		}
	}
	return pending, errors.Join(errs...)
}

func (m *Manager) poweredOff(node string) bool {
	return m.o.Env.State != nil && poweredOff(m.o.Env.State(), node)
}

// healLoop heals pending nodes that have power again, until ctx ends. It
// polls the head node's state rather than hooking into the power drivers:
// the state sees every way power returns (the API, a switch, a scenario,
// a fault, a container started by hand).
func (m *Manager) healLoop(ctx context.Context) {
	t := time.NewTicker(m.o.HealEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_ = m.healPowered(ctx, func(*Fault, string) bool { return true })
	}
}

// healPowered heals the pending nodes that have power now and that want
// picks, records each heal and returns the failures; a node that fails
// stays pending and is tried again by the loop.
func (m *Manager) healPowered(ctx context.Context, want func(f *Fault, node string) bool) error {
	type job struct {
		inj  Injector
		f    Fault
		node string
	}
	var jobs []job
	m.mu.Lock()
	for _, id := range m.order {
		f := m.faults[id]
		for _, n := range f.Pending {
			if want(f, n) {
				inj, _ := lookup(m.o.Kinds, f.Kind)
				jobs = append(jobs, job{inj, *f, n})
			}
		}
	}
	m.mu.Unlock()
	var errs []error
	for _, j := range jobs {
		if err := m.healOne(ctx, j.inj, j.f, j.node); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// healOne heals f on node if node is still pending and has power. Heals
// go one at a time (healMu), and the pending list is read again under
// that lock: an injection may have healed the node meanwhile, and healing
// it again would undo the new fault.
func (m *Manager) healOne(ctx context.Context, inj Injector, f Fault, node string) error {
	m.healMu.Lock()
	defer m.healMu.Unlock()
	m.mu.Lock()
	still := slices.Contains(m.faults[f.ID].Pending, node)
	m.mu.Unlock()
	if !still || m.poweredOff(node) {
		return nil
	}
	key := f.ID + "/" + node
	at := m.o.Clock()
	actx, cancel := context.WithTimeout(ctx, healAttempt)
	err := healPoweredOn(actx, inj, &m.o.Env, &f, node)
	cancel()
	if err != nil {
		err = fmt.Errorf("heal %s (%s) on %s, powered on again: %w", f.ID, f.Kind, node, err)
		fl, ok := m.failing[key]
		if !ok {
			fl = healFailure{since: time.Now()}
		}
		if !fl.warned && time.Since(fl.since) > healWarnAfter {
			fl.warned = true
			m.o.Log.Warn("a node powered on again still cannot be healed; trying on", "err", err)
		} else {
			m.o.Log.Debug("heal after power-on failed; trying again", "err", err)
		}
		m.failing[key] = fl
		return err
	}
	delete(m.failing, key)
	// Journaled before the node leaves Pending: whoever sees it gone finds
	// the event.
	m.record(journal.Event{At: at, Kind: journal.KindFaultRecover, Node: node, ID: f.ID, Detail: string(f.Kind),
		Source: journal.SourcePowerOn})
	m.mu.Lock()
	g := m.faults[f.ID]
	// A new slice: snapshots handed out share the old one.
	g.Pending = slices.DeleteFunc(slices.Clone(g.Pending), func(n string) bool { return n == node })
	if len(g.Pending) == 0 {
		g.Pending = nil
	}
	m.mu.Unlock()
	m.o.Log.Info("fault healed on a node powered on again", "id", f.ID, "kind", f.Kind, "node", node)
	return nil
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

// WithPending lists the faults with nodes still to heal on power-on,
// oldest first.
func (m *Manager) WithPending() []Fault {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Fault{}
	for _, id := range m.order {
		if f := m.faults[id]; len(f.Pending) > 0 {
			out = append(out, *f)
		}
	}
	return out
}

// Close recovers every active fault, newest first, refuses new ones and
// stops its loops. It returns every recovery error. Nodes still pending
// are left to their agents, which clear their faults when they start and
// when a soft cut ends.
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
	m.loops.Wait()
	for _, f := range m.WithPending() {
		m.o.Log.Warn("fault manager closed with nodes still to heal on power-on", "id", f.ID, "kind", f.Kind, "pending", f.Pending)
	}
	return errors.Join(errs...)
}
