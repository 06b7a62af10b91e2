package faults

import (
	"context"
	"errors"
)

// power cuts a node's power through the head node's power driver, so the
// cut is also recorded as a power event; recover restores it.
type power struct{}

func (power) Info() Info { return Info{Kind: KindPower, Recoverable: true, NodeTarget: true} }

func (power) Inject(ctx context.Context, env *Env, f *Fault) error {
	if env.Power == nil {
		return errors.New("power: no power driver")
	}
	return env.Power.SetPower(ctx, f.Node, false, "fault "+f.ID)
}

func (power) Recover(ctx context.Context, env *Env, f *Fault, node string) error {
	if env.Power == nil {
		return errors.New("power: no power driver")
	}
	return env.Power.SetPower(ctx, node, true, "fault "+f.ID)
}
