package faults

import (
	"context"
	"fmt"
)

// DefaultCPUPercent is cpu_starve's share of one CPU when the request
// names none. Measured on the rig (Patroni 3.0.2, probe writing every
// 10 ms): at 1% an aggressive Patroni (ttl 5, loop_wait 1, retry_timeout
// 2) lost its leader key within 7-34 s while one with the shipped timings
// (30/10/10) kept it for a minute; at 2% and 5% both kept it.
const DefaultCPUPercent = 1.0

// MinCPUPercent is the smallest cap: Docker refuses a CFS quota under
// 1 ms, and a period over 1 s.
const MinCPUPercent = 0.1

// cpuStarve caps a node's CPU at CPUPercent of one CPU (a CFS quota on its
// container): a noisy neighbour, a throttled VM, a node swapping. Every
// process still runs, only slowly, so Patroni's loop, its etcd calls and
// PostgreSQL all take longer than their timings expect. Recover lifts the
// cap. The cap is the container's setting, not a process's state: it
// outlives a power cut and is lifted while the node is off, so it is no
// in-node fault. It needs a Starver: containers have one; a booth
// machine's head node has none (the agents cannot throttle their own
// node), so there the kind is not offered and an injection fails.
type cpuStarve struct{}

func (cpuStarve) Info() Info {
	return Info{Kind: KindCPUStarve, Recoverable: true, NodeTarget: true}
}

// errNoStarver is the injection's error where nothing can cap a node's
// CPU: a request this head node can never serve.
func errNoStarver() error {
	return fmt.Errorf("%w: cpu_starve: this head node cannot cap a node's CPU (containers only: a booth machine's agents have no CPU cap)", ErrBadRequest)
}

func (cpuStarve) Inject(ctx context.Context, env *Env, f *Fault) error {
	if env.Starver == nil {
		return errNoStarver()
	}
	pct := f.Request.CPUPercent
	if pct == 0 {
		pct = DefaultCPUPercent
	}
	if err := env.Starver.Starve(ctx, f.Node, pct); err != nil {
		return fmt.Errorf("cpu_starve %s to %g%%: %w", f.Node, pct, err)
	}
	return nil
}

// Recover without a Starver succeeds: nothing can have been capped.
func (cpuStarve) Recover(ctx context.Context, env *Env, _ *Fault, node string) error {
	if env.Starver == nil {
		return nil
	}
	if err := env.Starver.Unstarve(ctx, node); err != nil {
		return fmt.Errorf("cpu_starve: lift the cap on %s: %w", node, err)
	}
	return nil
}
