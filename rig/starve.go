package rig

import (
	"context"
	"fmt"
	"math"

	mcontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// The CFS periods of a capped node, in µs: the node may run for its share
// of each period. The kernel's default, 100 ms, keeps the stalls short;
// Docker refuses a quota under 1 ms, so a share under 1% takes the longest
// period Docker allows, 1 s (0.1% at the least).
const (
	cfsPeriod     = 100_000
	cfsLongPeriod = 1_000_000
	minQuota      = 1000
)

// cpuCap is the container resources that cap a node at percent of one
// CPU.
func cpuCap(percent float64) (mcontainer.Resources, error) {
	period := int64(cfsPeriod)
	if percent < 1 {
		period = cfsLongPeriod
	}
	quota := int64(math.Round(percent * float64(period) / 100))
	// NaN fails the comparison, so it is refused too.
	if !(percent <= 100) || quota < minQuota {
		return mcontainer.Resources{}, fmt.Errorf("cpu share %g%%: want 0.1 to 100", percent)
	}
	return mcontainer.Resources{CPUPeriod: period, CPUQuota: quota}, nil
}

// noCPUCap lifts a cap: a quota of -1 is the kernel's "unlimited" (0 would
// mean "unchanged" to Docker's update).
func noCPUCap() mcontainer.Resources { return mcontainer.Resources{CPUQuota: -1} }

// Starve caps the node's CPU at percent of one CPU (a CFS quota on its
// container's cgroup): every process runs, but only for percent of each
// period. The cap is the container's setting, so it outlives a power cut.
func (r *Rig) Starve(ctx context.Context, name string, percent float64) error {
	res, err := cpuCap(percent)
	if err != nil {
		return fmt.Errorf("rig: starve %s: %w", name, err)
	}
	return r.updateResources(ctx, name, res, fmt.Sprintf("starve to %g%%", percent))
}

// Unstarve lifts the node's CPU cap; a node without one is left as it is,
// so recovery is idempotent. It works while the node is powered off.
func (r *Rig) Unstarve(ctx context.Context, name string) error {
	return r.updateResources(ctx, name, noCPUCap(), "lift the CPU cap of")
}

func (r *Rig) updateResources(ctx context.Context, name string, res mcontainer.Resources, what string) error {
	n, err := r.node(name)
	if err != nil {
		return err
	}
	if _, err := r.cli.ContainerUpdate(ctx, n.ContainerID, client.ContainerUpdateOptions{Resources: &res}); err != nil {
		return fmt.Errorf("rig: %s %s: %w", what, name, err)
	}
	return nil
}
