package failover

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/moby/moby/client"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/demo"
	"github.com/redswitch/redswitch/rig"
)

// Boot times cold starts for every profile: a new network, etcd and node
// containers each trial, until every member runs and every replica
// streams. It writes results.json, report.md and boot-cdf.{png,svg}.
func Boot(ctx context.Context, o Options) (BootResults, error) {
	if err := o.defaults(); err != nil {
		return BootResults{}, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return BootResults{}, fmt.Errorf("boot bench: %w", err)
	}
	defer os.RemoveAll(o.WorkDir)
	res := BootResults{Started: time.Now().UTC(), Machine: machine(ctx)}
	var errs []error
	for _, p := range o.Profiles {
		t := o.timings(p)
		n := o.trials(p)
		bar := newProgress(o.Progress, p+" boot", n)
		for i := 1; i <= n; i++ {
			bt, set, ver, err := bootOnce(ctx, o, t, i, bar)
			res.Trials = append(res.Trials, bt)
			if set.Profile != "" && !hasSettings(res.Settings, p) {
				res.Settings = append(res.Settings, set)
			}
			res.Versions = mergeVersions(res.Versions, ver)
			last := fmt.Sprintf("%.2f s", bt.BootS)
			if bt.Error != "" {
				last = "failed: " + bt.Error
			}
			bar.add(bt.BootS, bt.Error == "", last)
			if err != nil {
				errs = append(errs, fmt.Errorf("profile %s, boot %d: %w", p, i, err))
			}
			if ctx.Err() != nil {
				break
			}
		}
		bar.finish()
		if ctx.Err() != nil {
			break
		}
	}
	res.Summary = SummarizeBoots(res.Trials)
	res.Machine.LoadEnd = load1()
	res.Finished = time.Now().UTC()
	if len(res.Trials) > 0 {
		if err := writeBootResults(o.Out, res); err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

func hasSettings(ss []Settings, profile string) bool {
	for _, s := range ss {
		if s.Profile == profile {
			return true
		}
	}
	return false
}

// bootOnce starts one cluster and times it to healthy. A boot that fails
// is a trial with Error, and the error is returned too.
func bootOnce(ctx context.Context, o Options, t cluster.Timings, i int, bar *progress) (BootTrial, Settings, Versions, error) {
	bt := BootTrial{Profile: t.Name, Trial: i, Load1: load1()}
	dir := filepath.Join(o.WorkDir, fmt.Sprintf("boot-%s-%d", t.Name, i))
	defer os.RemoveAll(dir)
	bar.status(fmt.Sprintf("boot %d: starting containers", i))
	t0 := time.Now()
	d, err := startCluster(ctx, o, t, dir, false)
	if err != nil {
		bt.Error = err.Error()
		return bt, Settings{}, Versions{}, err
	}
	defer closeCluster(ctx, d, o.Log)
	bar.status(fmt.Sprintf("boot %d: waiting for three healthy members", i))
	h, err := waitHealthy(ctx, d, 3*time.Minute)
	healthy := time.Now()
	if err != nil {
		bt.Error = err.Error()
		return bt, Settings{}, Versions{}, err
	}
	first, last, err := containerStarts(ctx, d)
	if err != nil {
		bt.Error = err.Error()
		return bt, Settings{}, Versions{}, err
	}
	bt.BootS = round3(healthy.Sub(first).Seconds())
	bt.StartSpreadS = round3(last.Sub(first).Seconds())
	bt.TotalS = round3(healthy.Sub(t0).Seconds())
	bt.Leader = h.Leader
	set, ver := describe(ctx, o, d, t, dir)
	return bt, set, ver, nil
}

// containerStarts returns when the first and the last node container
// started, as Docker recorded it.
func containerStarts(ctx context.Context, d *demo.Demo) (first, last time.Time, err error) {
	cli, err := rig.Docker(ctx)
	if err != nil {
		return first, last, err
	}
	defer cli.Close()
	for _, n := range d.Rig.Nodes() {
		res, err := cli.ContainerInspect(ctx, n.ContainerID, client.ContainerInspectOptions{})
		if err != nil {
			return first, last, fmt.Errorf("inspect %s: %w", n.Name, err)
		}
		if res.Container.State == nil {
			return first, last, fmt.Errorf("inspect %s: no state", n.Name)
		}
		at, err := time.Parse(time.RFC3339Nano, res.Container.State.StartedAt)
		if err != nil {
			return first, last, fmt.Errorf("inspect %s: started at %q: %w", n.Name, res.Container.State.StartedAt, err)
		}
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	return first, last, nil
}
