package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/booth"
	"github.com/redswitch/redswitch/credentials"
	"github.com/redswitch/redswitch/etcdaccess"
	"github.com/redswitch/redswitch/fiu"
	"github.com/redswitch/redswitch/headnode"
	"github.com/redswitch/redswitch/headnode/etcd"
	"github.com/redswitch/redswitch/headnode/service"
	"github.com/redswitch/redswitch/power"
	"github.com/redswitch/redswitch/rig"
	"github.com/redswitch/redswitch/scenarios/runapi"
)

// runHeadnode runs the head node of a booth (or any rig of real machines)
// from its booth configuration: the same service `redswitch demo` runs.
func runHeadnode(ctx context.Context, env *environ, args []string) error {
	fs := newFlags(env, "headnode", "Runs the head node of a booth: embedded etcd (or external), HAProxy, the switches of the\nFailure Injection Unit and their relays, the commit probe, the journal, faults, forks,\nscenario runs, the API and dashboard.")
	config := fs.String("config", envDefault(env, "REDSWITCH_CONFIG", "/etc/redswitch/booth.yaml"), "booth configuration file")
	external := fs.String("etcd-endpoints", envDefault(env, "REDSWITCH_ETCD_ENDPOINTS", ""), "use this external etcd cluster (comma-separated URLs) instead of the embedded one")
	extCA := fs.String("etcd-ca-file", envDefault(env, "REDSWITCH_ETCD_CA_FILE", ""), "with --etcd-endpoints: the `PEM` file of the CA of the external etcd's certificate (then https)")
	extUser := fs.String("etcd-user", envDefault(env, "REDSWITCH_ETCD_USER", ""), "with --etcd-endpoints: the etcd user the head node logs in as (it needs read and write on the whole keyspace)")
	extPass := addSecret(fs, env, "etcd-password", "REDSWITCH_ETCD_PASSWORD", "", "with --etcd-user: its password")
	probeOn := fs.Bool("probe", true, "run the commit probe (where the booth file's probe section says)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	extPassword, err := extPass.resolve(fs, env, env.log)
	if err != nil {
		return err
	}
	ext := etcdaccess.Access{Endpoints: splitList(*external), CAFile: *extCA, User: *extUser, Password: extPassword}
	if len(ext.Endpoints) > 0 && (ext.CAFile == "" || ext.User == "") {
		// The booth's LAN is shared: an open etcd is one anyone there can
		// rewrite. Say so, but an operator may know their network.
		env.log.Warn("external etcd without TLS or login: anyone who reaches it can delete the leader key", "endpoints", ext.Endpoints)
	}
	cfg, err := booth.Load(*config)
	if err != nil {
		return err
	}
	o, closeDriver, err := headnodeOptions(ctx, env, cfg, *probeOn, ext)
	if err != nil {
		return err
	}
	defer closeDriver()
	o.Etcd = ext
	svc, err := service.Start(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "redswitch head node for %s: dashboard %s/  primary %s  etcd %s\n",
		cfg.Scope, svc.URL, cfg.Listen.Primary, strings.Join(svc.Access.URLs(), ","))
	select {
	case <-ctx.Done():
	case <-svc.Done():
	}
	cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return errors.Join(svc.Err(), svc.Close(cctx))
}

// headnodeOptions maps a booth configuration onto the head node service.
// The returned func releases what the power driver holds (the GPIO chip,
// the Docker client).
func headnodeOptions(ctx context.Context, env *environ, cfg *booth.Config, probeOn bool, external etcdaccess.Access) (service.Options, func(), error) {
	var o service.Options
	noop := func() {}
	token, err := cfg.OperatorToken.Resolve(env.getenv)
	if err != nil {
		return o, noop, usagef("%s: operator token: %v", cfg.File, err)
	}
	if token == "" {
		return o, noop, usagef("%s: no operator token: set operator_token (or its env) in the booth file", cfg.File)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return o, noop, fmt.Errorf("data dir: %w", err)
	}
	log := env.log
	backend, err := fiu.Open(fiu.BackendOptions{Kind: cfg.GPIO.Backend, Chip: cfg.GPIO.Chip, Debounce: cfg.GPIO.Debounce,
		Switches: cfg.FIUSwitches(), Lines: cfg.GPIOLines()})
	if err != nil {
		return o, noop, fmt.Errorf("switches: %w", err)
	}
	closers := []func(){func() { backend.Close() }}
	release := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	fail := func(err error) (service.Options, func(), error) {
		release()
		return o, noop, err
	}
	// The agents accept only requests carrying the cluster token: soft
	// power cuts, agent faults and forks need it.
	ctoken, ctErr := cfg.ClusterToken.Resolve(env.getenv)
	if ctErr == nil && ctoken == "" {
		ctErr = errors.New("no cluster_token or cluster_token_env in the booth file")
	}
	var agentOf func(string, time.Duration) (*agentapi.Client, bool)
	if ctErr == nil {
		agentOf = func(node string, timeout time.Duration) (*agentapi.Client, bool) {
			for _, n := range cfg.Nodes {
				if n.Name == node && n.Agent != "" {
					return &agentapi.Client{BaseURL: strings.TrimSuffix(n.Agent, "/"), Token: ctoken,
						HTTP: &http.Client{Timeout: timeout}}, true
				}
			}
			return nil, false
		}
	} else {
		log.Warn("no cluster token: forks and the agents' faults are off (the agents accept only requests with it)", "err", ctErr)
	}
	switch cfg.Power {
	case booth.PowerRelay:
		pins := map[string]power.RelayPin{}
		for _, r := range cfg.Relays {
			pins[r.Node] = power.RelayPin{Pin: r.Pin, ActiveHigh: r.Active == booth.High}
		}
		o.Power = power.NewRelay(backend, pins, log)
	case booth.PowerObserve:
		o.Power = power.NewObserve()
	case booth.PowerAgent:
		if ctErr != nil {
			return fail(usagef("%s: power: agent needs the cluster token: %v", cfg.File, ctErr))
		}
		agents := map[string]power.AgentClient{}
		for _, n := range cfg.Nodes {
			// Polled every second: a node that does not answer must not
			// hold the poll up for long.
			if c, ok := agentOf(n.Name, 5*time.Second); ok {
				agents[n.Name] = c
			}
		}
		o.Power = power.NewAgent(agents)
	case booth.PowerContainer:
		cli, err := rig.Docker(ctx)
		if err != nil {
			return fail(fmt.Errorf("%s: power: container: %w", cfg.File, err))
		}
		closers = append(closers, func() { cli.Close() })
		names := map[string]string{}
		for _, n := range cfg.Nodes {
			names[n.Name] = n.Container
		}
		r, err := rig.Attach(ctx, cli, names, log)
		if err != nil {
			return fail(fmt.Errorf("%s: power: container: %w", cfg.File, err))
		}
		o.Power, o.Freezer, o.Starver, o.Files, o.Logs = r, r, r, r, r.Logs
	default:
		return fail(usagef("%s: power %q is not supported", cfg.File, cfg.Power))
	}

	for _, n := range cfg.Nodes {
		o.Members = append(o.Members, headnode.Member{Name: n.Name, Address: n.Address})
	}
	bind, primaryPort, err := hostPort(cfg.Listen.Primary)
	if err != nil {
		return fail(usagef("%s: listen.primary: %v", cfg.File, err))
	}
	_, replicaPort, err := hostPort(cfg.Listen.Replicas)
	if err != nil {
		return fail(usagef("%s: listen.replicas: %v", cfg.File, err))
	}
	statsBind, statsPort, err := hostPort(cfg.Listen.Stats)
	if err != nil {
		return fail(usagef("%s: listen.stats: %v", cfg.File, err))
	}
	etcdHost, etcdPort, err := hostPort(cfg.Listen.EtcdClient)
	if err != nil {
		return fail(usagef("%s: listen.etcd_client: %v", cfg.File, err))
	}
	if etcdHost == "0.0.0.0" || etcdHost == "::" {
		// The nodes' view of a wildcard is not known: etcd_outage stays
		// off until listen.etcd_client names the head node's address.
		etcdHost = ""
	}
	secrets, security, err := boothSecrets(cfg, etcdHost, external)
	if err != nil {
		return fail(err)
	}
	o.EtcdSecurity = security
	if probeOn && !cfg.Probe.Off {
		dsn, where, err := cfg.ProbeDSN(secrets.Probe)
		if err != nil {
			return fail(err)
		}
		o.ProbeDSN, o.ProbeSource, o.ProbeInterval = dsn, where, cfg.Probe.Interval
		if cfg.Probe.DSN == "" {
			// The probe makes its own role through the superuser, on the
			// probe's own route (HAProxy's primary).
			o.ProbeSetupDSN = withLogin(dsn, credentials.SuperuserName, secrets.Superuser)
		}
	}
	sw := service.Switches{Pins: backend, Config: cfg.FIUSwitches(), Window: cfg.GPIO.Debounce,
		Poll: cfg.GPIO.PollInterval(), Observe: cfg.Power == booth.PowerObserve}
	if v, ok := backend.(*fiu.Virtual); ok {
		sw.Virtual = v
	}
	o.Scope, o.Timings, o.DataDir = cfg.Scope, cfg.Timings, cfg.DataDir
	o.EtcdClientAddrs, o.EtcdPeerAddr = []string{cfg.Listen.EtcdClient}, cfg.Listen.EtcdPeer
	o.NodeEtcd = agentapi.Peer{Address: etcdHost, Port: etcdPort}
	o.HAProxyBind, o.PrimaryPort, o.ReplicaPort, o.StatsPort = bind, primaryPort, replicaPort, statsPort
	// listen.stats is where the booth file puts the stats page (loopback
	// in the shipped one), not where the primary is.
	o.StatsBind = statsBind
	o.Switches, o.Agent = sw, agentOf
	// The booth's embedded etcd runs on the head node, apart from the
	// database nodes.
	o.Shape = runapi.Shape{EtcdApart: true}
	o.Listen, o.OperatorToken, o.Log = cfg.Listen.API, token, log
	return o, release, nil
}

// boothSecrets generates the booth's secrets on first start (kept in
// data_dir/secrets, 0600): passwords, etcd's CA and certificate for every
// address of this machine (and etcdHost), etcd's users, and each node's
// bundle for the crew to copy onto the node. The booth's etcd always
// speaks TLS with authentication: the LAN is shared. With an external
// etcd the bundles carry its CA (external.CAFile) and the users are made
// there; its certificates and its authentication switch are its own.
func boothSecrets(cfg *booth.Config, etcdHost string, external etcdaccess.Access) (credentials.Booth, etcd.Security, error) {
	dir := filepath.Join(cfg.DataDir, "secrets")
	names := make([]string, len(cfg.Nodes))
	for i, n := range cfg.Nodes {
		names[i] = n.Name
	}
	var set credentials.Set
	var err error
	if len(external.Endpoints) > 0 {
		if set.Booth, err = credentials.Ensure(dir, names); err != nil {
			return set.Booth, etcd.Security{}, fmt.Errorf("%s: secrets: %w", cfg.File, err)
		}
		if external.CAFile != "" {
			ca, err := os.ReadFile(external.CAFile)
			if err != nil {
				return set.Booth, etcd.Security{}, fmt.Errorf("--etcd-ca-file: %w", err)
			}
			set.CA = string(ca)
		}
	} else {
		hosts, err := localAddresses()
		if err != nil {
			return set.Booth, etcd.Security{}, err
		}
		if etcdHost != "" {
			hosts = append(hosts, etcdHost)
		}
		if set, err = credentials.EnsureSet(dir, names, hosts); err != nil {
			return set.Booth, etcd.Security{}, fmt.Errorf("%s: secrets: %w", cfg.File, err)
		}
	}
	if err := credentials.WriteNodes(dir, set.Booth, names, set.CA); err != nil {
		return set.Booth, etcd.Security{}, fmt.Errorf("%s: secrets: %w", cfg.File, err)
	}
	sec := etcd.BoothSecurity(set.PKI, set.Booth, cfg.Scope, names)
	if len(external.Endpoints) > 0 {
		// Only the users are ours to make on someone else's etcd: its
		// TLS and its root are its operator's.
		sec = etcd.Security{Users: sec.Users}
	}
	return set.Booth, sec, nil
}

// localAddresses are this machine's addresses, which the nodes may reach
// etcd at: etcd's certificate names them all.
func localAddresses() ([]string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("etcd certificate: local addresses: %w", err)
	}
	var out []string
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLinkLocalUnicast() {
			out = append(out, ipn.IP.String())
		}
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		out = append(out, h)
	}
	return out, nil
}

// withLogin is dsn (a postgres:// URL) with another user and password.
func withLogin(dsn, user, password string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return ""
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}

func hostPort(s string) (string, int, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("port %q out of range", p)
	}
	return h, port, nil
}
