package faults

import (
	"context"

	"github.com/redswitch/redswitch/agentapi"
)

// diskFull fills the filesystem of a node's data directory (one
// fallocated file beside it) until PostgreSQL cannot write WAL; release
// deletes the file. The agent refuses to fill more than MaxFill bytes, so
// a data directory on the host's own disk is never used to fill the host.
// The file is on the data volume, so it outlives a power cut: a node that
// was off during recovery is released when it runs again (and its agent
// removes the file when it starts).
type diskFull struct{}

func (diskFull) Info() Info {
	return Info{Kind: KindDiskFull, Recoverable: true, NodeTarget: true, InNode: true}
}

func (diskFull) Inject(ctx context.Context, env *Env, f *Fault) error {
	a, err := env.Agent(f.Node)
	if err != nil {
		return err
	}
	limit := f.Request.MaxFill
	if limit == 0 {
		limit = env.MaxFill
	}
	_, err = a.FillDisk(ctx, agentapi.FillRequest{MaxBytes: limit})
	return err
}

func (diskFull) Recover(ctx context.Context, env *Env, _ *Fault, node string) error {
	a, err := env.Agent(node)
	if err != nil {
		return err
	}
	return a.ReleaseDisk(ctx)
}
