package faults

import "context"

// patroniCrash SIGKILLs Patroni and keeps it down (the agent holds its
// restart) until recovered; PostgreSQL runs on unsupervised. A primary's
// leader key expires after ttl and a replica takes over while the old
// primary still accepts writes locally: HAProxy's check on Patroni's REST
// API fails at once, so clients are routed away. On recover Patroni
// starts, finds PostgreSQL running and demotes or rejoins it. The hold
// lives in the agent: a container cut restarts the agent without it, and
// the end of a soft cut releases it; the release after power-on is a
// safeguard.
type patroniCrash struct{}

func (patroniCrash) Info() Info {
	return Info{Kind: KindPatroniCrash, Recoverable: true, NodeTarget: true, InNode: true}
}

func (patroniCrash) Inject(ctx context.Context, env *Env, f *Fault) error {
	a, err := env.Agent(f.Node)
	if err != nil {
		return err
	}
	_, err = a.CrashPatroni(ctx, true)
	return err
}

func (patroniCrash) Recover(ctx context.Context, env *Env, _ *Fault, node string) error {
	a, err := env.Agent(node)
	if err != nil {
		return err
	}
	return a.ReleasePatroni(ctx)
}
