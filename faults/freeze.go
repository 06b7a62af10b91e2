package faults

import (
	"context"
	"errors"
)

// freeze stops every process of a node at the same instant (the cgroup
// freezer behind a container pause): a hung machine whose sockets stay
// open and whose peers hear nothing. Thaw resumes them where they were. A
// power cut kills the frozen processes; the thaw after power-on then finds
// nothing paused, which a Freezer accepts.
type freeze struct{}

func (freeze) Info() Info {
	return Info{Kind: KindFreeze, Recoverable: true, NodeTarget: true, InNode: true}
}

func (freeze) Inject(ctx context.Context, env *Env, f *Fault) error {
	if env.Freezer == nil {
		return errors.New("freeze: no freezer")
	}
	return env.Freezer.Pause(ctx, f.Node)
}

func (freeze) Recover(ctx context.Context, env *Env, _ *Fault, node string) error {
	if env.Freezer == nil {
		return errors.New("freeze: no freezer")
	}
	return env.Freezer.Unpause(ctx, node)
}
