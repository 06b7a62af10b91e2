package runapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redswitch/redswitch/scenarios"
)

// Errors a caller can tell apart; the API maps them to statuses.
var (
	ErrBadRequest      = errors.New("bad request")
	ErrUnknownScenario = errors.New("unknown scenario")
	ErrUnknownRun      = errors.New("unknown run")
	ErrBusy            = errors.New("a scenario is already running")
	ErrShape           = errors.New("this cluster cannot run the scenario")
	ErrFinished        = errors.New("run already finished")
	ErrClosed          = errors.New("scenario runs are shut down")
)

// State is where a run is.
type State string

// The states of a run. A cancelled run ends in StateError with Cancelled
// set.
const (
	StateRunning State = "running"
	StatePassed  State = "passed"
	StateFailed  State = "failed"
	StateError   State = "error"
)

// Job is one scenario for a Runner to play.
type Job struct {
	Scenario *scenarios.Scenario
	// Self is the head node's base URL as the run's request reached it,
	// e.g. http://127.0.0.1:8080: the address a runner on the head node
	// itself can call back.
	Self string
	// Progress takes one line per thing the run does (safe to call from
	// several goroutines).
	Progress func(line string)
}

// Runner plays a job until it ends or ctx is cancelled, and returns its
// result. Cancelling ctx must still leave the cluster restored (power on,
// faults recovered) before the runner returns: scenarios.RunScenario tears
// down with a context that survives the cancel. Remote is the real one.
type Runner func(ctx context.Context, job Job) scenarios.Result

// Line is one progress line of a run.
type Line struct {
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

// Run is what the API says about one run.
type Run struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	State     State     `json:"state"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// Cancelled is set once a cancel was asked for; the run stays
	// running until its teardown has restored the cluster.
	Cancelled bool `json:"cancelled,omitempty"`
	// Progress holds the latest MaxProgressLines lines; ProgressDropped
	// counts older ones let go.
	Progress        []Line `json:"progress"`
	ProgressDropped int    `json:"progress_dropped,omitempty"`
	// Result is the scenario's verdicts and measurements, in the form of
	// an entry of the JSON report (scenarios.WriteJSON), once it ended.
	Result *scenarios.Result `json:"result,omitempty"`
	// Error is the run's own failure (not an expectation that did not
	// hold): it could not start, was skipped, broke or was cancelled.
	Error string `json:"error,omitempty"`
}

// Defaults of Options.
const (
	DefaultKeep = 20
	// MaxProgressLines bounds the progress kept per run.
	MaxProgressLines = 500
)

// Options configure a Service.
type Options struct {
	// Scenarios a request may name, usually scenarios.LoadAll of the
	// library; names must be unique.
	Scenarios []*scenarios.Scenario
	// Shape is the running cluster's: a scenario that needs another is
	// refused.
	Shape  Shape
	Runner Runner
	// Keep is how many finished runs stay listed (DefaultKeep when 0).
	Keep  int
	Clock func() time.Time
	Log   *slog.Logger
}

// Service runs scenarios one at a time and remembers the last runs.
type Service struct {
	o      Options
	byName map[string]*scenarios.Scenario
	ctx    context.Context
	stop   context.CancelFunc

	mu     sync.Mutex
	runs   []*run // oldest first
	closed bool
}

// run is a Run with what controls it.
type run struct {
	Run
	cancel context.CancelFunc
	done   chan struct{}
}

// New checks o and returns a Service with no run yet.
func New(o Options) (*Service, error) {
	if o.Runner == nil {
		return nil, errors.New("runapi: no runner")
	}
	if o.Keep <= 0 {
		o.Keep = DefaultKeep
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Service{o: o, byName: map[string]*scenarios.Scenario{}}
	for _, sc := range o.Scenarios {
		if sc == nil || sc.Name == "" {
			return nil, errors.New("runapi: a scenario without a name")
		}
		if _, dup := s.byName[sc.Name]; dup {
			return nil, fmt.Errorf("runapi: two scenarios named %q", sc.Name)
		}
		s.byName[sc.Name] = sc
	}
	s.ctx, s.stop = context.WithCancel(context.Background())
	return s, nil
}

// ScenarioInfo describes one scenario a request may name.
type ScenarioInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	File        string `json:"file,omitempty"`
	Nodes       int    `json:"nodes"`
	Steps       int    `json:"steps"`
	// Runnable says this cluster can run it; Unmet says why not.
	Runnable bool     `json:"runnable"`
	Unmet    []string `json:"unmet,omitempty"`
}

// Scenarios lists the scenarios in the order given to New.
func (s *Service) Scenarios() []ScenarioInfo {
	out := make([]ScenarioInfo, 0, len(s.o.Scenarios))
	for _, sc := range s.o.Scenarios {
		unmet := s.o.Shape.Unmet(sc)
		out = append(out, ScenarioInfo{Name: sc.Name, Description: sc.Description, File: sc.File,
			Nodes: sc.Cluster.Nodes, Steps: len(sc.Steps), Runnable: len(unmet) == 0, Unmet: unmet})
	}
	return out
}

// busyError is ErrBusy naming the run in the way.
type busyError struct{ run Run }

func (e *busyError) Error() string {
	return fmt.Sprintf("%v: %s (run %s, started %s); wait for it or cancel it with DELETE /api/v1/scenarios/runs/%s",
		ErrBusy, e.run.Name, e.run.ID, e.run.StartedAt.Format(time.TimeOnly), e.run.ID)
}

func (e *busyError) Unwrap() error { return ErrBusy }

// shapeError is ErrShape with its reasons.
type shapeError struct {
	name  string
	unmet []string
}

func (e *shapeError) Error() string {
	return fmt.Sprintf("%v %s: %s", ErrShape, e.name, strings.Join(e.unmet, "; "))
}

func (e *shapeError) Unwrap() error { return ErrShape }

// Start begins running the named scenario in the background; self is the
// head node's URL as the request reached it (Job.Self).
func (s *Service) Start(name, self string) (Run, error) {
	sc, ok := s.byName[name]
	if !ok {
		return Run{}, fmt.Errorf("%w %q: GET /api/v1/scenarios lists them", ErrUnknownScenario, name)
	}
	if unmet := s.o.Shape.Unmet(sc); len(unmet) > 0 {
		return Run{}, &shapeError{name: name, unmet: unmet}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Run{}, ErrClosed
	}
	for _, r := range s.runs {
		if r.State == StateRunning {
			return Run{}, &busyError{run: r.snapshot()}
		}
	}
	ctx, cancel := context.WithCancel(s.ctx)
	r := &run{Run: Run{ID: s.newID(), Name: name, State: StateRunning, StartedAt: s.o.Clock(), Progress: []Line{}},
		cancel: cancel, done: make(chan struct{})}
	s.runs = append(s.runs, r)
	s.o.Log.Info("scenario run started", "run", r.ID, "scenario", name)
	go s.execute(ctx, r, sc, self)
	return r.snapshot(), nil
}

// newID returns an id no kept run has; random, so a dashboard polling a
// run from before a restart gets 404, not someone else's run. Called
// with s.mu held.
func (s *Service) newID() string {
	for {
		var b [4]byte
		_, _ = rand.Read(b[:])
		id := "run-" + hex.EncodeToString(b[:])
		if !slices.ContainsFunc(s.runs, func(r *run) bool { return r.ID == id }) {
			return id
		}
	}
}

func (s *Service) execute(ctx context.Context, r *run, sc *scenarios.Scenario, self string) {
	defer close(r.done)
	defer r.cancel()
	var res scenarios.Result
	func() {
		// A runner's panic must not take the head node down with it.
		defer func() {
			if p := recover(); p != nil {
				res = scenarios.Result{Scenario: sc, Err: fmt.Errorf("runner panicked: %v", p)}
			}
		}()
		res = s.o.Runner(ctx, Job{Scenario: sc, Self: self, Progress: func(line string) { s.progress(r, line) }})
	}()
	s.finish(r, res)
}

func (s *Service) progress(r *run, line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Progress = append(r.Progress, Line{At: s.o.Clock(), Text: line})
	if n := len(r.Progress) - MaxProgressLines; n > 0 {
		r.Progress = slices.Delete(r.Progress, 0, n)
		r.ProgressDropped += n
	}
}

// stateOf says how a run that returned res ended.
func stateOf(res scenarios.Result) State {
	switch {
	case res.Err != nil:
		return StateError
	case res.Passed():
		return StatePassed
	}
	return StateFailed
}

func (s *Service) finish(r *run, res scenarios.Result) {
	if res.Scenario == nil {
		res.Scenario = s.byName[r.Name]
	}
	// The history is the head node's own journal: a listed run need not
	// hold a copy of its slice.
	res.History = nil
	s.mu.Lock()
	defer s.mu.Unlock()
	r.State = stateOf(res)
	r.EndedAt = s.o.Clock()
	r.Result = &res
	if res.Err != nil {
		r.Error = res.Err.Error()
	}
	s.o.Log.Info("scenario run ended", "run", r.ID, "scenario", r.Name, "state", r.State, "cancelled", r.Cancelled)
	// Forget the oldest finished runs beyond Keep.
	finished := 0
	for _, x := range s.runs {
		if x.State != StateRunning {
			finished++
		}
	}
	for i := 0; finished > s.o.Keep && i < len(s.runs); {
		if s.runs[i].State != StateRunning {
			s.runs = slices.Delete(s.runs, i, i+1)
			finished--
			continue
		}
		i++
	}
}

// snapshot copies the run for a reader; called with s.mu held.
func (r *run) snapshot() Run {
	out := r.Run
	out.Progress = slices.Clone(r.Progress)
	return out
}

// Runs lists the kept runs, newest first.
func (s *Service) Runs() []Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Run, 0, len(s.runs))
	for i := len(s.runs) - 1; i >= 0; i-- {
		out = append(out, s.runs[i].snapshot())
	}
	return out
}

func (s *Service) find(id string) (*run, error) {
	for _, r := range s.runs {
		if r.ID == id {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%w %q (the last %d finished runs are kept)", ErrUnknownRun, id, s.o.Keep)
}

// Get returns one kept run.
func (s *Service) Get(id string) (Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.find(id)
	if err != nil {
		return Run{}, err
	}
	return r.snapshot(), nil
}

// Cancel asks a running run to stop. It returns at once: the run stays
// running, Cancelled set, until the runner's teardown has restored the
// cluster.
func (s *Service) Cancel(id string) (Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.find(id)
	if err != nil {
		return Run{}, err
	}
	if r.State != StateRunning {
		return r.snapshot(), fmt.Errorf("%w: run %s of %s ended %s", ErrFinished, r.ID, r.Name, r.State)
	}
	if !r.Cancelled {
		r.Cancelled = true
		r.cancel()
		s.o.Log.Info("scenario run cancelled", "run", r.ID, "scenario", r.Name)
	}
	return r.snapshot(), nil
}

// Close refuses new runs, cancels the running one and waits, until ctx
// ends, for its teardown.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	var waits []chan struct{}
	for _, r := range s.runs {
		if r.State == StateRunning {
			r.Cancelled = true
			waits = append(waits, r.done)
		}
	}
	s.mu.Unlock()
	s.stop()
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			return fmt.Errorf("runapi: waiting for the running scenario's teardown: %w", ctx.Err())
		}
	}
	return nil
}
