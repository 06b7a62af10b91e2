package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/booth"
	"github.com/redswitch/redswitch/dashboard"
	"github.com/redswitch/redswitch/fiu"
	"github.com/redswitch/redswitch/forks"
	"github.com/redswitch/redswitch/headnode"
	"github.com/redswitch/redswitch/headnode/etcd"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/power"
	"github.com/redswitch/redswitch/probe"
)

// runHeadnode runs the head node of a booth (or any rig of real machines)
// from its booth configuration.
func runHeadnode(ctx context.Context, env *environ, args []string) error {
	fs := newFlags(env, "headnode", "Runs the head node of a booth: embedded etcd (or external), HAProxy, the switches of the\nFailure Injection Unit and their relays, the commit probe, the journal, the API and dashboard.")
	config := fs.String("config", envDefault(env, "REDSWITCH_CONFIG", "/etc/redswitch/booth.yaml"), "booth configuration file")
	external := fs.String("etcd-endpoints", envDefault(env, "REDSWITCH_ETCD_ENDPOINTS", ""), "use this external etcd cluster (comma-separated URLs) instead of the embedded one")
	probeOn := fs.Bool("probe", true, "run the commit probe through the primary port")
	probeInterval := fs.Duration("probe-interval", 10*time.Millisecond, "time between probe commits")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := booth.Load(*config)
	if err != nil {
		return err
	}
	token, err := cfg.OperatorToken.Resolve(env.getenv)
	if err != nil {
		return usagef("%s: operator token: %v", cfg.File, err)
	}
	if token == "" {
		return usagef("%s: no operator token: set operator_token (or its env) in the booth file", cfg.File)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	log := env.log

	endpoints := splitList(*external)
	if len(endpoints) == 0 {
		srv, err := etcd.Start(ctx, etcd.Options{Dir: filepath.Join(cfg.DataDir, "etcd"),
			ClientAddrs: []string{cfg.Listen.EtcdClient}, PeerAddr: cfg.Listen.EtcdPeer, Log: log})
		if err != nil {
			return err
		}
		defer srv.Close()
		endpoints = srv.Endpoints()
	}

	backend, err := fiu.Open(fiu.BackendOptions{Kind: cfg.GPIO.Backend, Chip: cfg.GPIO.Chip, Debounce: cfg.GPIO.Debounce,
		Switches: cfg.FIUSwitches(), Lines: cfg.GPIOLines()})
	if err != nil {
		return fmt.Errorf("switches: %w", err)
	}
	defer backend.Close()
	// The agents accept only requests carrying the cluster token: soft
	// power cuts and forks need it, the rest of the booth does not.
	ctoken, ctErr := cfg.ClusterToken.Resolve(env.getenv)
	if ctErr == nil && ctoken == "" {
		ctErr = errors.New("no cluster_token or cluster_token_env in the booth file")
	}
	agentOf := func(node string, timeout time.Duration) (*agentapi.Client, bool) {
		for _, n := range cfg.Nodes {
			if n.Name == node && n.Agent != "" {
				return &agentapi.Client{BaseURL: strings.TrimSuffix(n.Agent, "/"), Token: ctoken,
					HTTP: &http.Client{Timeout: timeout}}, true
			}
		}
		return nil, false
	}
	var drv headnode.Power
	var relay *power.Relay
	switch cfg.Power {
	case booth.PowerRelay:
		pins := map[string]power.RelayPin{}
		for _, r := range cfg.Relays {
			pins[r.Node] = power.RelayPin{Pin: r.Pin, ActiveHigh: r.Active == booth.High}
		}
		relay = power.NewRelay(backend, pins, log)
		drv = relay
	case booth.PowerObserve:
		drv = power.NewObserve()
	case booth.PowerAgent:
		if ctErr != nil {
			return usagef("%s: power: agent needs the cluster token: %v", cfg.File, ctErr)
		}
		agents := map[string]power.AgentClient{}
		for _, n := range cfg.Nodes {
			if c, ok := agentOf(n.Name, 5*time.Second); ok {
				agents[n.Name] = c
			}
		}
		drv = power.NewAgent(agents)
	default:
		return usagef("%s: power %q is not supported by `redswitch headnode` (use relay, agent or observe; containers run with `redswitch demo`)", cfg.File, cfg.Power)
	}

	clock := journal.NewClock()
	j, history, err := journal.Open(filepath.Join(cfg.DataDir, "journal.jsonl"), log, journal.Options{Clock: clock})
	if err != nil {
		return err
	}
	defer j.Close()
	events := headnode.NewEventLog(j, history)
	var members []headnode.Member
	for _, n := range cfg.Nodes {
		members = append(members, headnode.Member{Name: n.Name, Address: n.Address})
	}
	bind, primaryPort, err := hostPort(cfg.Listen.Primary)
	if err != nil {
		return usagef("%s: listen.primary: %v", cfg.File, err)
	}
	_, replicaPort, err := hostPort(cfg.Listen.Replicas)
	if err != nil {
		return usagef("%s: listen.replicas: %v", cfg.File, err)
	}
	_, statsPort, err := hostPort(cfg.Listen.Stats)
	if err != nil {
		return usagef("%s: listen.stats: %v", cfg.File, err)
	}
	head, err := headnode.New(headnode.Options{Scope: cfg.Scope, Timings: cfg.Timings, Members: members, Etcd: endpoints,
		Power: drv, Journal: events, Clock: clock.Now, HAProxyDir: cfg.DataDir, HAProxyBind: bind,
		PrimaryPort: primaryPort, ReplicaPort: replicaPort, StatsPort: statsPort, OperatorToken: token, Log: log})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	run(func(ctx context.Context) {
		if err := head.Run(ctx); err != nil {
			log.Error("head node stopped", "err", err)
		}
	})
	var pr *probe.Probe
	var ps headnode.ProbeStats
	if *probeOn {
		dsn := fmt.Sprintf("postgres://postgres:postgres@%s/postgres", net.JoinHostPort(bind, fmt.Sprint(primaryPort)))
		pr = probe.New(probe.Options{DSN: dsn, Interval: *probeInterval, Clock: clock, StartAfter: probe.LastSeq(history), Log: log})
		ps = pr
		run(func(ctx context.Context) { _ = pr.Run(ctx, events) })
	}
	virt, _ := backend.(*fiu.Virtual)
	sw, err := headnode.NewSwitches(headnode.SwitchesOptions{Head: head, Events: events, Pins: backend, Virtual: virt,
		Config: cfg.FIUSwitches(), Window: cfg.GPIO.Debounce, Poll: cfg.GPIO.PollInterval(),
		Observe: cfg.Power == booth.PowerObserve, Log: log})
	if err != nil {
		return err
	}
	run(func(ctx context.Context) {
		if err := sw.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("switches stopped", "err", err)
		}
	})
	hub := dashboard.NewHub(dashboard.HubOptions{Log: log})
	run(func(ctx context.Context) { _ = hub.Run(ctx) })
	ob := headnode.NewObserver(headnode.ObserverOptions{Head: head, Events: events, Probe: ps, Switches: sw, Hub: hub, Log: log})
	run(ob.Run)
	mux := head.Handler()
	ob.Mount(mux, nil)
	sw.Mount(mux)
	if ctErr == nil {
		fs := forks.New(forks.Options{
			Agent: func(node string) (forks.Agent, error) {
				// The agents make the forks; a copy fallback takes minutes.
				c, ok := agentOf(node, 6*time.Minute)
				if !ok {
					return nil, fmt.Errorf("%w: %q", forks.ErrUnknownNode, node)
				}
				return c, nil
			},
			State: head.State, Record: events.Append, Log: log.With("component", "forks")})
		fs.Mount(mux, head.RequireOperator)
	} else {
		log.Warn("no cluster token: the fork API is off (the agents accept only requests with it)", "err", ctErr)
	}
	srv := &http.Server{Addr: cfg.Listen.API, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", cfg.Listen.API)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen.API, err)
	}
	go func() { _ = srv.Serve(ln) }()
	fmt.Fprintf(env.stdout, "redswitch head node for %s: dashboard http://%s/  primary %s  etcd %s\n",
		cfg.Scope, cfg.Listen.API, cfg.Listen.Primary, strings.Join(endpoints, ","))
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	wg.Wait()
	if relay != nil {
		// Outputs keep their level after the process exits: de-energise
		// every relay so no node stays cut by a head node that is gone.
		if err := relay.Release(sctx); err != nil {
			return fmt.Errorf("release relays: %w", err)
		}
	}
	return nil
}

func hostPort(s string) (string, int, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	var port int
	if _, err := fmt.Sscanf(p, "%d", &port); err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("port %q out of range", p)
	}
	return h, port, nil
}
