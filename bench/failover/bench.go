// Package failover benchmarks what a primary failover really costs: it
// brings up the containerized Patroni cluster per timing profile, cuts the
// primary's power again and again (a SIGKILL of the node's container, all
// its processes at one instant), and reads the failover time, its phases
// and the lost commits from the head node's event history, with the same
// analysis the dashboard uses. Each victim is powered on and has rejoined
// before the next cut; the first cut of each cluster is a warm-up and is
// not counted. A paired run (Options.Paired) alternates those silent cuts
// with the agent's soft cuts on the same cluster. The report sets each
// profile's measurement next to a model of its floor (FloorModel). `bench
// boot` times cold starts the same way.
//
// Outputs in Options.Out: results.json, report.md, failover-cdf.{png,svg},
// failover-phases.{png,svg}, the rendered haproxy-PROFILE.cfg and, per
// trial, the journal window under events/ for after-the-fact analysis.
package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/demo"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe"
	"github.com/redswitch/redswitch/probe/analysis"
)

// Options configure Run and Boot. Zero values take the defaults noted.
type Options struct {
	// Profiles are timing profiles (cluster.ParseTimings); default aggressive.
	Profiles []string
	// Trials counted per profile (default 20); Run adds one warm-up.
	Trials int
	// TrialsFor overrides Trials for some profiles (20 aggressive, 5 default).
	TrialsFor map[string]int
	// Sync runs Patroni in synchronous_mode.
	Sync bool
	// Out is the output directory (created); required.
	Out string
	// WorkDir holds the clusters' data dirs; default Out/work, removed at the end.
	WorkDir string
	// Image is the node image; default demo.DefaultImage.
	Image string
	// Nodes per cluster; default 3.
	Nodes int
	// ProbeInterval between probe commits; default 10 ms.
	ProbeInterval time.Duration
	// DownInterval, when set, overrides HAProxy's fastinter/downinter of
	// every profile: to measure what the check interval of a down server
	// costs (before/after a tuning).
	DownInterval time.Duration
	// Settle is how long the cluster must be healthy and committing before
	// a cut; default 2 s.
	Settle time.Duration
	// Paired alternates silent cuts (the container's SIGKILL) and soft
	// cuts (the agent's) on one cluster, so both are measured in the same
	// machine state: odd trials and the warm-up cut silently, even ones
	// softly. Without it every cut is silent.
	Paired bool
	// Progress receives the progress bar (a terminal); nil for none.
	Progress io.Writer
	Log      *slog.Logger
}

func (o *Options) defaults() error {
	if o.Out == "" {
		return errors.New("failover bench: Options.Out is empty")
	}
	if len(o.Profiles) == 0 {
		o.Profiles = []string{"aggressive"}
	}
	for _, p := range o.Profiles {
		if _, err := cluster.ParseTimings(p); err != nil {
			return fmt.Errorf("failover bench: profile: %w", err)
		}
	}
	if o.Trials == 0 {
		o.Trials = 20
	}
	if o.Trials < 0 {
		return fmt.Errorf("failover bench: trials %d is negative", o.Trials)
	}
	for p, n := range o.TrialsFor {
		if n < 1 {
			return fmt.Errorf("failover bench: trials %d for profile %s: want at least 1", n, p)
		}
	}
	if o.WorkDir == "" {
		o.WorkDir = filepath.Join(o.Out, "work")
	}
	if o.Image == "" {
		o.Image = demo.DefaultImage
	}
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.Nodes < 2 {
		return fmt.Errorf("failover bench: %d nodes cannot fail over", o.Nodes)
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = 10 * time.Millisecond
	}
	if o.Settle <= 0 {
		o.Settle = 2 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// timings returns the profile's timings with the overrides applied.
func (o Options) timings(profile string) cluster.Timings {
	t, _ := cluster.ParseTimings(profile) // checked in defaults
	if o.DownInterval > 0 {
		t.DownInterval = o.DownInterval
	}
	return t
}

// trials is the number of counted trials for profile.
func (o Options) trials(profile string) int {
	if n, ok := o.TrialsFor[profile]; ok {
		return n
	}
	return o.Trials
}

// Run benchmarks primary failovers for every profile and writes the
// outputs, also when a profile fails part way (the error says where).
func Run(ctx context.Context, o Options) (Results, error) {
	if err := o.defaults(); err != nil {
		return Results{}, err
	}
	if err := os.MkdirAll(filepath.Join(o.Out, "events"), 0o755); err != nil {
		return Results{}, fmt.Errorf("failover bench: %w", err)
	}
	defer os.RemoveAll(o.WorkDir)
	res := Results{Started: time.Now().UTC(), Machine: machine(ctx)}
	var errs []error
	for _, p := range o.Profiles {
		warm, trials, set, ver, err := runProfile(ctx, o, p)
		res.Warmup = append(res.Warmup, warm...)
		res.Trials = append(res.Trials, trials...)
		if set.Profile != "" {
			res.Settings = append(res.Settings, set)
		}
		res.Versions = mergeVersions(res.Versions, ver)
		if err != nil {
			errs = append(errs, fmt.Errorf("profile %s: %w", p, err))
			if ctx.Err() != nil {
				break
			}
		}
	}
	res.Summary = SummarizeTrials(res.Trials)
	res.Machine.LoadEnd = load1()
	res.Finished = time.Now().UTC()
	if len(res.Trials) > 0 || len(res.Warmup) > 0 {
		if err := writeResults(o.Out, res); err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

func mergeVersions(a, b Versions) Versions {
	pick := func(x, y string) string {
		if x != "" {
			return x
		}
		return y
	}
	return Versions{Patroni: pick(a.Patroni, b.Patroni), PostgreSQL: pick(a.PostgreSQL, b.PostgreSQL),
		HAProxy: pick(a.HAProxy, b.HAProxy), Etcd: pick(a.Etcd, b.Etcd)}
}

// startCluster brings up a rig for profile and waits until it is healthy.
func startCluster(ctx context.Context, o Options, t cluster.Timings, dir string, withProbe bool) (*demo.Demo, error) {
	pw := demo.PowerContainer
	if o.Paired {
		pw = demo.PowerPaired
	}
	d, err := demo.Start(ctx, demo.Options{Nodes: o.Nodes, Timings: t, SynchronousMode: o.Sync, Image: o.Image,
		Probe: withProbe, ProbeInterval: o.ProbeInterval, DataDir: dir, Listen: "127.0.0.1:0", Ephemeral: true,
		Power: pw, Log: o.Log.With("profile", t.Name)})
	if err != nil {
		return nil, err
	}
	return d, nil
}

func closeCluster(ctx context.Context, d *demo.Demo, log *slog.Logger) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := d.Close(cctx); err != nil {
		log.Warn("closing the cluster", "err", err)
	}
}

func waitHealthy(ctx context.Context, d *demo.Demo, limit time.Duration) (demo.Health, error) {
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	return d.WaitHealthy(wctx)
}

// runProfile runs the warm-up and the counted trials on one cluster.
func runProfile(ctx context.Context, o Options, profile string) (warm, trials []Trial, set Settings, ver Versions, err error) {
	t := o.timings(profile)
	n := o.trials(profile)
	bar := newProgress(o.Progress, profile, n)
	defer bar.finish()
	bar.status("starting the cluster")
	dir := filepath.Join(o.WorkDir, profile)
	d, err := startCluster(ctx, o, t, dir, true)
	if err != nil {
		return nil, nil, set, ver, err
	}
	defer closeCluster(ctx, d, o.Log)
	// The trials judge, read back and write windows of the whole run's
	// history: keep all of it in memory, not the head node's last hour.
	defer d.Log().Hold(time.Time{})()
	bar.status("waiting for three healthy members")
	if _, err := waitHealthy(ctx, d, 5*time.Minute); err != nil {
		return nil, nil, set, ver, err
	}
	set, ver = describe(ctx, o, d, t, dir)
	if b, err := os.ReadFile(filepath.Join(dir, "haproxy.cfg")); err == nil {
		_ = os.WriteFile(filepath.Join(o.Out, "haproxy-"+profile+".cfg"), b, 0o644)
	}
	for i := 0; i <= n; i++ {
		tr, err := runTrial(ctx, o, d, t, i, bar)
		if werr := writeWindow(o.Out, d, tr, i); werr != nil {
			o.Log.Warn("could not keep the trial's events", "err", werr)
		}
		if werr := keepNodeLogs(ctx, o.Out, d, tr); werr != nil {
			o.Log.Warn("could not keep the nodes' logs", "err", werr)
		}
		if i == 0 {
			warm = append(warm, tr)
		} else {
			trials = append(trials, tr)
			bar.add(tr.FailoverS, tr.Error == "", lastNote(tr))
		}
		if err != nil {
			// The cluster is not whole again: later trials would measure
			// something else.
			return warm, trials, set, ver, fmt.Errorf("trial %d: %w", i, err)
		}
	}
	return warm, trials, set, ver, nil
}

func lastNote(tr Trial) string {
	if tr.Error != "" {
		return "failed: " + tr.Error
	}
	return fmt.Sprintf("%.2f s (%s→%s, lost %d)", tr.FailoverS, tr.Victim, tr.NewPrimary, tr.LostCommits)
}

// writeWindow keeps the journal window of a trial as JSON lines: the raw
// material behind its phases.
func writeWindow(out string, d *demo.Demo, tr Trial, i int) error {
	if tr.cutAt.IsZero() {
		return nil
	}
	f, err := os.Create(filepath.Join(out, "events", fmt.Sprintf("%s-%02d.jsonl", tr.Profile, i)))
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, e := range d.Events() {
		if e.At.Before(tr.cutAt.Add(-2*time.Second)) || e.At.After(tr.endAt) {
			continue
		}
		if err := enc.Encode(e); err != nil {
			break
		}
	}
	return errors.Join(err, f.Close())
}

// steady waits until the cluster is healthy, HAProxy routes to the leader
// and the probe commits, and stays so for settle; it returns the leader.
func steady(ctx context.Context, d *demo.Demo, settle, limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	var why string
	for {
		h, err := waitHealthy(ctx, d, time.Until(deadline))
		if err != nil {
			return "", err
		}
		leader := h.Leader
		if why = routedAndCommitting(d, leader); why == "" {
			if err := sleep(ctx, settle); err != nil {
				return "", err
			}
			h2, err := demo.CheckHealth(ctx, d.Head.State())
			if err == nil && h2.Healthy() && h2.Leader == leader && routedAndCommitting(d, leader) == "" {
				return leader, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("cluster not steady within %v: %s", limit, why)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return "", err
		}
	}
}

func routedAndCommitting(d *demo.Demo, leader string) string {
	for _, n := range d.Head.State().Nodes {
		routed := false
		for _, l := range n.Routed {
			routed = routed || l == "primary"
		}
		if routed != (n.Name == leader) {
			return fmt.Sprintf("HAProxy's primary listener routing to %s is %v", n.Name, routed)
		}
	}
	st := d.Probe.Stats()
	if st.Outage || st.LastAck.IsZero() || d.Clock.Now().Sub(st.LastAck) > 250*time.Millisecond {
		return "the probe is not committing"
	}
	if st.Node != leader {
		return fmt.Sprintf("the probe commits on %s, not on the leader %s", st.Node, leader)
	}
	return ""
}

// failoverLimit bounds the wait for the first commit after a cut.
func failoverLimit(t cluster.Timings) time.Duration {
	return time.Duration(4*t.TTL+30) * time.Second
}

// runTrial cuts the leader's power, waits for the failover, powers the
// victim on again and waits until it has rejoined. An error means the
// cluster did not become whole again; a trial without a measurement but a
// whole cluster carries Trial.Error instead.
func runTrial(ctx context.Context, o Options, d *demo.Demo, t cluster.Timings, n int, bar *progress) (Trial, error) {
	tr := Trial{Profile: t.Name, Trial: n}
	note := fmt.Sprintf("trial %d", n)
	if n == 0 {
		note = "warm-up"
	}
	bar.status(note + ": waiting for a steady cluster")
	victim, err := steady(ctx, d, o.Settle, 3*time.Minute)
	if err != nil {
		return tr, err
	}
	tr.Victim = victim
	tr.Cut = cutFor(o.Paired, n)
	if o.Paired {
		if err := d.PowerChoice.Use(powerFor(tr.Cut)); err != nil {
			return tr, err
		}
	}
	rewindsBefore := countRewinds(ctx, d, victim)
	tr.Load1 = load1()
	bar.status(note + ": " + tr.Cut + " power cut " + victim)
	tr.cutAt = d.Clock.Now()
	if err := d.Head.SetPower(ctx, victim, false, "bench"); err != nil {
		return tr, err
	}
	f, ferr := waitFailover(ctx, d, victim, tr.cutAt, failoverLimit(t), func(s string) { bar.status(note + ": " + s) })
	if ferr != nil {
		tr.Error = ferr.Error()
	} else {
		fill(&tr, f, d.Events())
	}

	bar.status(note + ": power on " + victim + ", waiting for it to rejoin")
	onAt := time.Now()
	if err := d.Head.SetPower(ctx, victim, true, "bench"); err != nil {
		return tr, err
	}
	if _, err := waitHealthy(ctx, d, 3*time.Minute); err != nil {
		tr.RejoinError = err.Error()
		tr.endAt = d.Clock.Now()
		return tr, fmt.Errorf("%s did not rejoin: %w", victim, err)
	}
	tr.RejoinS = round3(time.Since(onAt).Seconds())
	tr.Rewound = countRewinds(ctx, d, victim) > rewindsBefore

	if ferr == nil {
		bar.status(note + ": reading the probe's commits back")
		lost, err := lostIn(ctx, d, f)
		if err != nil {
			tr.Error = "read-back: " + err.Error()
		}
		tr.LostCommits = lost
	}
	tr.endAt = d.Clock.Now()
	return tr, nil
}

// waitFailover waits until the analysis of the history shows the failover
// the cut of victim caused, plus the analysis' phase slack so that late
// observations (HAProxy's up, Patroni's role) are in.
func waitFailover(ctx context.Context, d *demo.Demo, victim string, cutAt time.Time, limit time.Duration, status func(string)) (analysis.Failover, error) {
	slack := 2 * time.Second // analysis.Options' default PhaseSlack
	deadline := cutAt.Add(limit)
	for {
		for _, f := range analysis.Failovers(d.Events(), analysis.Options{}) {
			if f.StartedAt.Before(cutAt) || !causedBy(f, victim) {
				continue
			}
			if d.Clock.Now().Sub(f.Outage.End) >= slack {
				return f, nil
			}
			status(fmt.Sprintf("first commit after %.2f s", f.Duration.Seconds()))
		}
		now := d.Clock.Now()
		if now.After(deadline) {
			return analysis.Failover{}, fmt.Errorf("no commit within %v of cutting %s", limit, victim)
		}
		status(fmt.Sprintf("%.1f s since the cut", now.Sub(cutAt).Seconds()))
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return analysis.Failover{}, err
		}
	}
}

// cutFor is how trial n cuts: silently, or in a paired run softly on
// even trials, so the two kinds alternate in one machine state.
func cutFor(paired bool, n int) string {
	if paired && n > 0 && n%2 == 0 {
		return CutSoft
	}
	return CutSilent
}

// powerFor is the demo's power driver of a kind of cut.
func powerFor(cut string) string {
	if cut == CutSoft {
		return demo.PowerAgent
	}
	return demo.PowerContainer
}

func causedBy(f analysis.Failover, victim string) bool {
	first, _, _ := strings.Cut(f.Cause, ";")
	return first == "power off "+victim || strings.HasPrefix(first, "power off "+victim+" (")
}

// fill copies the failover's measurements into the trial.
func fill(tr *Trial, f analysis.Failover, events []journal.Event) {
	tr.NewPrimary = f.NewPrimary
	tr.FailoverS = round3(f.Duration.Seconds())
	tr.Phases = map[string]float64{}
	for _, p := range f.Phases {
		if _, seen := tr.Phases[p.Name]; !seen {
			tr.Phases[p.Name] = round3(p.Seconds)
		}
	}
	tr.Phases[analysis.PhaseFirstCommit] = tr.FailoverS
	if f.RigShare != nil {
		v := round3(f.RigShare.Seconds())
		tr.RigShareS = &v
	}
	// An error event is a run of ErrorCount failures that ends before the
	// next ack, so it lies wholly in the outage or outside it; the run's
	// first failure is journaled first, at its own time, so the first
	// 25006 event is the first 25006 answer.
	for _, e := range events {
		if e.Kind != journal.KindProbeError || e.At.Before(f.Outage.Start) || !e.At.Before(f.Outage.End) {
			continue
		}
		if tr.ProbeErrors == nil {
			tr.ProbeErrors = map[string]int{}
		}
		tr.ProbeErrors[analysis.ErrorKey(e.SQLState)] += e.ErrorCount()
		if e.SQLState == probe.ReadOnly && tr.FirstReadOnlyS == 0 {
			tr.FirstReadOnlyS = round3(e.At.Sub(f.StartedAt).Seconds())
		}
	}
}

// lostIn reads every acknowledged commit back from the current primary,
// records the read-back, and counts the commits lost in failover f.
func lostIn(ctx context.Context, d *demo.Demo, f analysis.Failover) (int, error) {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		var ev journal.Event
		ev, err = d.Probe.ReadBack(rctx, d.Events())
		cancel()
		if err == nil {
			if _, err = d.Record(ev); err != nil {
				return 0, err
			}
			break
		}
		if serr := sleep(ctx, time.Second); serr != nil {
			return 0, serr
		}
	}
	if err != nil {
		return 0, err
	}
	rep := analysis.Analyze(d.Events(), analysis.Options{})
	for _, g := range rep.Failovers {
		if g.StartedAt.Equal(f.StartedAt) {
			return len(g.Lost), nil
		}
	}
	return 0, fmt.Errorf("the failover at %s is gone from the analysis", f.StartedAt.Format(time.RFC3339Nano))
}

// countRewinds counts pg_rewind mentions in the node's log; a rise across
// a rejoin means the node was rewound.
func countRewinds(ctx context.Context, d *demo.Demo, node string) int {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	logs, err := d.Rig.Logs(lctx, node)
	if err != nil {
		return 0
	}
	return strings.Count(logs, "pg_rewind")
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
