package faults

import (
	"context"
	"errors"
	"fmt"
	"path"
)

// corrupt damages a node's data directory while it is powered off, as an
// SSD without power-loss protection does: it cuts the power, overwrites
// the head of global/pg_control (its CRC no longer matches, so PostgreSQL
// refuses to start), and powers the node on again. Healing is the agent's:
// it detects the damage, wipes the data directory once another member
// leads, and Patroni re-initialises the node from the primary; the agent
// reports "reinitialised", which the manager records as a node event.
type corrupt struct{}

func (corrupt) Info() Info { return Info{Kind: KindCorrupt, NodeTarget: true} }

// controlFile is pg_control's path under the data directory.
const controlFile = "global/pg_control"

// damageControlFile returns a copy of pg_control with bytes 8..72 (the
// checkpoint fields after the system identifier) inverted: a bounded,
// deterministic damage that always changes the CRC-covered data.
func damageControlFile(b []byte) ([]byte, error) {
	if len(b) < 512 {
		return nil, fmt.Errorf("corrupt: pg_control is %d bytes, want at least 512", len(b))
	}
	out := append([]byte(nil), b...)
	for i := 8; i < 72; i++ {
		out[i] = ^out[i]
	}
	return out, nil
}

func (corrupt) Inject(ctx context.Context, env *Env, f *Fault) error {
	if env.Power == nil || env.Files == nil {
		return errors.New("corrupt: needs a power driver and file access to the node")
	}
	if err := env.Power.SetPower(ctx, f.Node, false, "fault "+f.ID); err != nil {
		return err
	}
	file := path.Join(env.DataDir, controlFile)
	b, fi, err := env.Files.ReadFile(ctx, f.Node, file)
	if err != nil {
		return errors.Join(err, env.Power.SetPower(context.WithoutCancel(ctx), f.Node, true, "fault "+f.ID))
	}
	bad, err := damageControlFile(b)
	if err == nil {
		err = env.Files.WriteFile(ctx, f.Node, file, bad, fi)
	}
	// Power comes back whatever happened: the fault is the damage, not the cut.
	return errors.Join(err, env.Power.SetPower(context.WithoutCancel(ctx), f.Node, true, "fault "+f.ID))
}

func (corrupt) Recover(context.Context, *Env, *Fault, string) error { return nil }
