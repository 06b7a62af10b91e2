package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
)

// RunOptions configure the runner.
type RunOptions struct {
	// Backend starts clusters (required): a containers.Backend, a
	// LocalBackend in a head node, a RemoteBackend.
	Backend Backend
	// Parallel is how many scenarios RunAll runs side by side (default 1).
	Parallel int
	// Progress, when set, is told what each scenario is doing, one line
	// at a time (from several goroutines when Parallel > 1).
	Progress func(scenario, line string)
	Log      *slog.Logger
}

// Defaults of the runner when a script leaves a bound out.
const (
	// DefaultHealthyWithin bounds "wait: healthy/streaming"; it includes
	// the boot of a fresh cluster.
	DefaultHealthyWithin = 4 * time.Minute
	// DefaultWithin bounds waits for a role and the state checks of an
	// expect step.
	DefaultWithin = time.Minute
	// ResumeWithin bounds the wait for writes to resume before a
	// read-back of the probe table.
	ResumeWithin = time.Minute
	// settle is how long after a moment the history is complete for it:
	// the probe flushes its ack ranges at least every second.
	settle = 1500 * time.Millisecond
	// pollEvery is how often the runner looks at the cluster while it
	// waits.
	pollEvery = 250 * time.Millisecond
)

func (o RunOptions) withDefaults() RunOptions {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Parallel < 1 {
		o.Parallel = 1
	}
	if o.Progress == nil {
		o.Progress = func(string, string) {}
	}
	return o
}

// RunFile loads a scenario file and runs it. A file that does not parse
// gives a Result whose Err names the problem.
func RunFile(ctx context.Context, file string, o RunOptions) Result {
	sc, err := Load(file)
	if err != nil {
		return Result{Scenario: &Scenario{File: file}, Err: err}
	}
	return RunScenario(ctx, sc, o)
}

// RunFS is RunFile for a file of fsys (the embedded library).
func RunFS(ctx context.Context, fsys fs.FS, file string, o RunOptions) Result {
	sc, err := LoadFS(fsys, file)
	if err != nil {
		return Result{Scenario: &Scenario{File: file}, Err: err}
	}
	return RunScenario(ctx, sc, o)
}

// RunAll runs scenarios, o.Parallel at a time, and returns their results
// in the order given.
func RunAll(ctx context.Context, scs []*Scenario, o RunOptions) []Result {
	o = o.withDefaults()
	out := make([]Result, len(scs))
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for i, sc := range scs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				out[i] = Result{Scenario: sc, Err: fmt.Errorf("not started: %w", ctx.Err())}
				return
			}
			defer func() { <-sem }()
			out[i] = RunScenario(ctx, sc, o)
		}()
	}
	wg.Wait()
	return out
}

// RunScenario runs one scenario on a fresh cluster from o.Backend and
// judges it. The cluster is torn down before it returns, whatever
// happened, and the time that takes is part of Duration.
func RunScenario(ctx context.Context, sc *Scenario, o RunOptions) (res Result) {
	o = o.withDefaults()
	begin := time.Now()
	res = Result{Scenario: sc, Measurements: map[string]float64{}}
	defer func() { res.Duration = time.Since(begin) }()
	if o.Backend == nil {
		return Result{Scenario: sc, Err: errors.New("scenarios: no backend to run on")}
	}
	if skip := unavailable(sc, o.Backend); skip != nil {
		res.Err = skip
		o.Progress(sc.Name, skip.Error())
		return res
	}
	o.Progress(sc.Name, "starting a cluster ("+o.Backend.Name()+")")
	c, err := o.Backend.Start(ctx, sc)
	if err != nil {
		res.Err = fmt.Errorf("start cluster: %w", err)
		return res
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if err := c.Close(cctx); err != nil {
			res.Err = errors.Join(res.Err, fmt.Errorf("tear down cluster: %w", err))
		}
	}()
	r := &run{sc: sc, c: c, o: o, res: &res, started: begin, rewindBase: map[string]int{},
		faults: map[int]activeFault{}, versions: map[string]string{}}
	r.run(ctx)
	// Kept before the teardown, which may take the history with it.
	res.History = runHistory(c.Events(), r.start)
	res.PatroniVersion = r.patroniVersion()
	return res
}

// runHistory is the part of a cluster's history a run's verdicts read:
// the events from start on, after the latest leader key event before
// start (who held the key when the scenario began).
func runHistory(events []journal.Event, start time.Time) []journal.Event {
	var out []journal.Event
	holder, found := journal.Event{}, false
	for _, e := range events {
		if !e.At.Before(start) {
			out = append(out, e)
			continue
		}
		if e.Kind == journal.KindLeader && (!found || !e.At.Before(holder.At)) {
			holder, found = e, true
		}
	}
	if found {
		out = append([]journal.Event{holder}, out...)
	}
	return out
}

// activeFault is an injected fault not yet recovered.
type activeFault struct {
	kind    FaultKind
	targets []string
	ids     []string
	auto    context.CancelFunc // stops a pending `for:` recovery
}

// run is the state of one scenario run.
type run struct {
	sc      *Scenario
	c       Cluster
	o       RunOptions
	res     *Result
	started time.Time

	// start is the first step's time on the cluster's clock.
	start time.Time
	// last is what @last means now.
	last []string
	// disruptAt is the latest disruptive step (power off, switch off,
	// fault injection), the origin of "failover within".
	disruptAt time.Time
	// sinceExpect is the end of the previous expect step, the start of
	// the next one's window.
	sinceExpect time.Time
	booted      bool
	rewindBase  map[string]int
	// versions is the Patroni version each node reported.
	versions map[string]string

	mu     sync.Mutex
	faults map[int]activeFault // by the line of the inject step
	autoWG sync.WaitGroup

	fiu *virtualFIU
}

func (r *run) progress(format string, args ...any) {
	r.o.Progress(r.sc.Name, fmt.Sprintf(format, args...))
}

func (r *run) measure(ms []measure) {
	for _, m := range ms {
		name := m.Name
		for i := 2; ; i++ {
			if _, dup := r.res.Measurements[name]; !dup {
				break
			}
			name = fmt.Sprintf("%s_%d", m.Name, i)
		}
		r.res.Measurements[name] = m.Value
	}
}

func (r *run) record(e journal.Event) {
	if err := r.c.Record(e); err != nil {
		r.o.Log.Warn("scenario: cannot record event", "kind", e.Kind, "err", err)
	}
}

func (r *run) run(ctx context.Context) {
	defer r.stopAutoRecoveries()
	defer func() {
		if r.fiu != nil {
			r.fiu.close()
		}
	}()
	r.start = r.c.Now()
	r.sinceExpect = r.start
	r.record(journal.Event{Kind: journal.KindMark, Source: ObserverSource, Detail: "scenario " + r.sc.Name + " started"})
	for _, st := range r.sc.Steps {
		if err := ctx.Err(); err != nil {
			r.res.Err = fmt.Errorf("interrupted before line %d: %w", st.Line, err)
			return
		}
		text := st.String()
		r.progress("line %d: %s", st.Line, text)
		r.record(journal.Event{Kind: journal.KindMark, Source: ObserverSource, ID: fmt.Sprint(st.Line), Detail: "step: " + text})
		sr, stop, err := r.step(ctx, st)
		sr.Line, sr.Text = st.Line, text
		if errors.Is(err, ErrNotAvailable) {
			r.res.Err = &SkipError{Line: st.Line, Reason: err.Error()}
			return
		}
		if err != nil {
			sr.OK = false
			sr.Detail = strings.TrimSpace(sr.Detail + "\n" + err.Error())
		}
		r.res.Steps = append(r.res.Steps, sr)
		mark := "ok"
		if !sr.OK {
			mark = "FAILED"
		}
		r.progress("line %d: %s: %s", st.Line, mark, firstLine(sr.Detail))
		if stop {
			r.res.Err = fmt.Errorf("stopped after line %d (%s): the steps after it were not run", st.Line, text)
			return
		}
	}
	r.res.Measurements["steps"] = float64(len(r.sc.Steps))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// step runs one step. stop is set when the scenario cannot go on
// meaningfully (an action that failed, a wait that timed out).
func (r *run) step(ctx context.Context, st Step) (sr StepResult, stop bool, err error) {
	switch {
	case st.Wait != nil:
		return r.wait(ctx, *st.Wait)
	case st.Power != nil:
		return r.power(ctx, *st.Power)
	case st.Switch != nil:
		return r.flip(ctx, *st.Switch)
	case st.Fault != nil:
		return r.fault(ctx, st.Line, *st.Fault)
	case st.Fork != nil:
		return r.fork(ctx, *st.Fork)
	case st.Sleep != nil:
		if err := r.pause(ctx, st.Sleep.Duration); err != nil {
			return sr, true, err
		}
		return StepResult{OK: true}, false, nil
	case st.Expect != nil:
		sr := r.expect(ctx, *st.Expect)
		r.sinceExpect = r.c.Now()
		return sr, false, nil
	}
	return sr, true, errors.New("empty step")
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// sleepUntil waits until the cluster's clock reads t. The runner waits
// on the clock its history is stamped with, so a cluster whose clock runs
// faster than the wall clock (a simulation) is not waited for in wall time.
func (r *run) sleepUntil(ctx context.Context, t time.Time) error {
	for {
		d := t.Sub(r.c.Now())
		if d <= 0 {
			return nil
		}
		if err := sleep(ctx, min(d, pollEvery)); err != nil {
			return err
		}
	}
}

// pause waits d on the cluster's clock.
func (r *run) pause(ctx context.Context, d time.Duration) error {
	return r.sleepUntil(ctx, r.c.Now().Add(d))
}

// pollUntil calls cond every pollEvery until it returns true, the
// deadline (on the cluster's clock) passes, or ctx ends. cond runs at
// least once.
func (r *run) pollUntil(ctx context.Context, deadline time.Time, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		if !r.c.Now().Before(deadline) || ctx.Err() != nil {
			return false
		}
		if sleep(ctx, pollEvery) != nil {
			return false
		}
	}
}

func (r *run) state(ctx context.Context) (headnodeapi.State, error) {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := r.c.State(sctx)
	if err == nil {
		r.mu.Lock()
		for _, n := range st.Nodes {
			if n.PatroniVersion != "" {
				r.versions[n.Name] = n.PatroniVersion
			}
		}
		r.mu.Unlock()
	}
	return st, err
}

// patroniVersion is the version every node reported, or the versions
// seen joined by ", ".
func (r *run) patroniVersion() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var vs []string
	for _, v := range r.versions {
		if !slices.Contains(vs, v) {
			vs = append(vs, v)
		}
	}
	slices.Sort(vs)
	return strings.Join(vs, ", ")
}

// health says whether every powered node runs, one is primary, every
// other powered node streams from it, and the probe commits.
func (r *run) health(ctx context.Context) (bool, string) {
	st, err := r.state(ctx)
	if err != nil {
		return false, err.Error()
	}
	if st.Leader == "" {
		return false, "no primary yet"
	}
	var powered, running []string
	for _, n := range st.Nodes {
		if n.Power != "on" {
			continue
		}
		powered = append(powered, n.Name)
		if (n.Role == cluster.RolePrimary || n.Role == cluster.RoleReplica) && n.State == "running" {
			running = append(running, n.Name)
		}
	}
	if len(running) < len(powered) {
		return false, fmt.Sprintf("%d of %d powered nodes running (%s)", len(running), len(powered), describeNodes(st.Nodes))
	}
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	streaming, err := r.c.Streaming(sctx, st)
	cancel()
	if err != nil {
		return false, err.Error()
	}
	for _, n := range powered {
		if n != st.Leader && !slices.Contains(streaming, n) {
			return false, fmt.Sprintf("%s does not stream from %s yet", n, st.Leader)
		}
	}
	if reason := syncPending(r.sc.Cluster.SynchronousMode, st); reason != "" {
		return false, reason
	}
	now := r.c.Now()
	if last, ok := lastAck(r.c.Events()); !ok || now.Sub(last) > settle+time.Second {
		return false, "the probe has not committed in the last few seconds"
	}
	return true, fmt.Sprintf("primary %s, %d streaming", st.Leader, len(powered)-1)
}

// syncPending says why a cluster in synchronous_mode is not yet what its
// scenario means: replicas stream, but Patroni has not yet named one the
// synchronous standby (its /sync key). Until then commits are
// acknowledged without waiting for any standby and any replica may be
// promoted: a cut in that window lost the last acknowledged commit
// (synchronous-primary-cut, once in a library run). Empty when there is
// nothing to wait for: no synchronous_mode, or no replica powered.
func syncPending(synchronous bool, st headnodeapi.State) string {
	if !synchronous {
		return ""
	}
	replicas := 0
	for _, n := range st.Nodes {
		if n.Power != "on" || n.Name == st.Leader {
			continue
		}
		replicas++
		if n.Sync {
			return ""
		}
	}
	if replicas == 0 {
		return ""
	}
	return "no synchronous standby named yet (synchronous_mode)"
}

// lastAck is the time of the latest acknowledged probe commit recorded.
func lastAck(events []journal.Event) (time.Time, bool) {
	var t time.Time
	found := false
	for _, e := range events {
		if e.Kind == journal.KindProbeAck && (!found || e.LastAt.After(t)) {
			t, found = e.LastAt, true
		}
	}
	return t, found
}

func (r *run) wait(ctx context.Context, w WaitStep) (StepResult, bool, error) {
	begin := r.c.Now()
	switch w.For {
	case WaitDuration:
		if err := r.pause(ctx, w.Duration); err != nil {
			return StepResult{}, true, err
		}
		return StepResult{OK: true}, false, nil
	case WaitHealthy, WaitStreaming:
		within := w.Within
		if within <= 0 {
			within = DefaultHealthyWithin
		}
		var detail string
		ok := r.pollUntil(ctx, begin.Add(within), func() bool {
			var healthy bool
			healthy, detail = r.health(ctx)
			return healthy
		})
		took := r.c.Now().Sub(begin)
		if !ok {
			return StepResult{Detail: fmt.Sprintf("not %s within %s: %s", w.For, within, detail)}, true, nil
		}
		if !r.booted {
			r.booted = true
			r.res.Measurements["boot_s"] = time.Since(r.started).Seconds()
		}
		return StepResult{OK: true, Detail: fmt.Sprintf("%s after %.1fs: %s", w.For, took.Seconds(), detail)}, false, nil
	case WaitRole:
		within := w.Within
		if within <= 0 {
			within = DefaultWithin
		}
		var detail string
		ok := r.pollUntil(ctx, begin.Add(within), func() bool {
			st, err := r.state(ctx)
			if err != nil {
				detail = err.Error()
				return false
			}
			var names []string
			if w.Node.Kind != SelectAny {
				names, err = resolve([]Selector{w.Node}, st, r.last)
				if err != nil {
					detail = err.Error()
					return false
				}
			}
			for _, n := range st.Nodes {
				if (len(names) == 0 || slices.Contains(names, n.Name)) && n.Power == "on" && n.Role == w.Role && n.State == "running" {
					detail = fmt.Sprintf("%s is %s after %.1fs", n.Name, w.Role, r.c.Now().Sub(begin).Seconds())
					return true
				}
			}
			detail = "nodes: " + describeNodes(st.Nodes)
			return false
		})
		if !ok {
			return StepResult{Detail: fmt.Sprintf("no node became %s within %s; %s", w.Role, within, detail)}, true, nil
		}
		return StepResult{OK: true, Detail: detail}, false, nil
	}
	return StepResult{}, true, fmt.Errorf("wait for %q: unknown", w.For)
}

// disrupt marks the start of a disruption of targets: the origin of the
// next "failover within", and the baseline for a later pg_rewind check.
func (r *run) disrupt(ctx context.Context, targets []string) {
	for _, n := range targets {
		if n == "etcd" {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if k, err := r.c.RewindCount(lctx, n); err == nil {
			r.rewindBase[n] = k
		}
		cancel()
	}
	r.disruptAt = r.c.Now()
}

// setPower switches several nodes at the same instant.
func (r *run) setPower(ctx context.Context, nodes []string, on bool, source string) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			errs[i] = r.c.SetPower(pctx, n, on, source)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (r *run) power(ctx context.Context, p PowerStep) (StepResult, bool, error) {
	st, err := r.state(ctx)
	if err != nil {
		return StepResult{}, true, err
	}
	nodes, err := resolve(p.Targets, st, r.last)
	if err != nil {
		return StepResult{}, true, err
	}
	if !p.On {
		r.disrupt(ctx, nodes)
	}
	if err := r.setPower(ctx, nodes, p.On, "scenario"); err != nil {
		return StepResult{}, true, err
	}
	r.last = nodes
	return StepResult{OK: true, Detail: fmt.Sprintf("power %s %s", onOff(p.On), strings.Join(nodes, ", "))}, false, nil
}

// fork forks the selected node; the time to a writable fork is measured.
func (r *run) fork(ctx context.Context, f ForkStep) (StepResult, bool, error) {
	st, err := r.state(ctx)
	if err != nil {
		return StepResult{}, true, err
	}
	nodes, err := resolve([]Selector{f.From}, st, r.last)
	if err != nil {
		return StepResult{}, true, err
	}
	info, err := r.c.Fork(ctx, nodes[0], f.Name)
	if err != nil {
		return StepResult{}, true, fmt.Errorf("fork %s: %w", f.Name, err)
	}
	r.measure([]measure{{Name: "fork_to_writable_s", Value: info.ToWritableS}})
	return StepResult{OK: true, Detail: fmt.Sprintf("fork %s of %s: %s, writable in %.2f s on timeline %d",
		info.Name, info.Node, info.Method, info.ToWritableS, info.Timeline)}, false, nil
}

func (r *run) fault(ctx context.Context, line int, f FaultStep) (StepResult, bool, error) {
	if !f.Inject {
		return r.recover(ctx, f)
	}
	st, err := r.state(ctx)
	if err != nil {
		return StepResult{}, true, err
	}
	target := f.Target
	if target.IsZero() {
		target = Selector{Kind: SelectEtcd}
	}
	nodes, err := resolve([]Selector{target}, st, r.last)
	if err != nil {
		return StepResult{}, true, err
	}
	af := activeFault{kind: f.Kind, targets: nodes}
	r.disrupt(ctx, nodes)
	if f.Kind == FaultPower {
		if err := r.setPower(ctx, nodes, false, "fault"); err != nil {
			return StepResult{}, true, err
		}
	} else {
		inj := r.c.Faults()
		if inj == nil || !inj.Supports(f.Kind) {
			return StepResult{}, true, fmt.Errorf("fault kind %s: %w", f.Kind, ErrNotAvailable)
		}
		for _, n := range nodes {
			fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			id, err := inj.Inject(fctx, f.Kind, n, f)
			cancel()
			if err != nil {
				return StepResult{}, true, fmt.Errorf("inject %s on %s: %w", f.Kind, n, err)
			}
			af.ids = append(af.ids, id)
		}
	}
	r.last = nodes
	if f.For > 0 {
		actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		af.auto = cancel
		r.autoWG.Add(1)
		go func() {
			defer r.autoWG.Done()
			if sleep(actx, f.For) != nil {
				return
			}
			if err := r.undo(actx, line); err != nil {
				r.o.Log.Warn("scenario: automatic recovery failed", "line", line, "err", err)
			}
		}()
	}
	r.mu.Lock()
	r.faults[line] = af
	r.mu.Unlock()
	d := fmt.Sprintf("%s injected on %s", f.Kind, strings.Join(nodes, ", "))
	if f.For > 0 {
		d += fmt.Sprintf(", recovers by itself after %s", f.For)
	}
	return StepResult{OK: true, Detail: d}, false, nil
}

func (r *run) recover(ctx context.Context, f FaultStep) (StepResult, bool, error) {
	r.mu.Lock()
	af, ok := r.faults[f.Injected]
	r.mu.Unlock()
	if !ok {
		return StepResult{OK: true, Detail: fmt.Sprintf("the fault injected at line %d has already recovered", f.Injected)}, false, nil
	}
	if af.auto != nil {
		af.auto()
	}
	if err := r.undo(ctx, f.Injected); err != nil {
		return StepResult{}, true, err
	}
	return StepResult{OK: true, Detail: fmt.Sprintf("%s recovered on %s", af.kind, strings.Join(af.targets, ", "))}, false, nil
}

// undo recovers the fault injected at line, once.
func (r *run) undo(ctx context.Context, line int) error {
	r.mu.Lock()
	af, ok := r.faults[line]
	delete(r.faults, line)
	r.mu.Unlock()
	if !ok {
		return nil
	}
	if af.kind == FaultPower {
		return r.setPower(ctx, af.targets, true, "fault")
	}
	inj := r.c.Faults()
	if inj == nil {
		return fmt.Errorf("recover %s: %w", af.kind, ErrNotAvailable)
	}
	var errs []error
	for _, id := range af.ids {
		fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		if err := inj.Recover(fctx, id); err != nil {
			errs = append(errs, fmt.Errorf("recover %s (%s): %w", af.kind, id, err))
		}
		cancel()
	}
	return errors.Join(errs...)
}

// stopAutoRecoveries cancels `for:` timers still pending when the
// scenario ends; the cluster is torn down anyway.
func (r *run) stopAutoRecoveries() {
	r.mu.Lock()
	for _, af := range r.faults {
		if af.auto != nil {
			af.auto()
		}
	}
	r.mu.Unlock()
	r.autoWG.Wait()
}
