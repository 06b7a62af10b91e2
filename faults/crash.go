package faults

import (
	"context"
)

// pgCrash SIGKILLs the postmaster. Patroni sees PostgreSQL gone within a
// loop and starts it again (crash recovery); the primary keeps its leader
// key if that happens within ttl. Heals by itself.
type pgCrash struct{}

func (pgCrash) Info() Info { return Info{Kind: KindPGCrash, NodeTarget: true} }

func (pgCrash) Inject(ctx context.Context, env *Env, f *Fault) error {
	a, err := env.Agent(f.Node)
	if err != nil {
		return err
	}
	_, err = a.CrashPostgres(ctx)
	return err
}

func (pgCrash) Recover(context.Context, *Env, *Fault, string) error { return nil }
