package rig

import (
	"context"
	"fmt"

	mcontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// cfsPeriod is the CFS period of a capped node, 100 ms (the kernel's
// default): a share of it is the time the node may run in each period.
const cfsPeriod = 100_000 // µs

// cpuCap is the container resources that cap a node at percent of one
// CPU. Docker refuses a quota under 1 ms, hence 1% at the least.
func cpuCap(percent int) (mcontainer.Resources, error) {
	if percent < 1 || percent > 100 {
		return mcontainer.Resources{}, fmt.Errorf("cpu share %d%%: want 1 to 100", percent)
	}
	return mcontainer.Resources{CPUPeriod: cfsPeriod, CPUQuota: int64(percent) * cfsPeriod / 100}, nil
}

// noCPUCap lifts a cap: a quota of -1 is the kernel's "unlimited" (0 would
// mean "unchanged" to Docker's update).
func noCPUCap() mcontainer.Resources { return mcontainer.Resources{CPUQuota: -1} }

// Starve caps the node's CPU at percent of one CPU (a CFS quota on its
// container's cgroup): every process runs, but only for percent of each
// 100 ms. The cap is the container's setting, so it outlives a power cut.
func (r *Rig) Starve(ctx context.Context, name string, percent int) error {
	res, err := cpuCap(percent)
	if err != nil {
		return fmt.Errorf("rig: starve %s: %w", name, err)
	}
	return r.updateResources(ctx, name, res, fmt.Sprintf("starve to %d%%", percent))
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
