package main

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/redswitch/redswitch/agent"
	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/credentials"
	"github.com/redswitch/redswitch/etcdaccess"
)

func runAgent(ctx context.Context, env *environ, args []string) error {
	fs := newFlags(env, "agent", "Runs on a database node: renders patroni.yml, runs Patroni as user postgres and\nrestarts it when it dies, and registers the node in etcd under /redswitch/<scope>/agents/<name>.\nEvery flag also reads REDSWITCH_<FLAG> from the environment (e.g. REDSWITCH_NAME).")
	e := func(k, def string) string { return envDefault(env, "REDSWITCH_"+k, def) }
	scope := fs.String("scope", e("SCOPE", "redswitch"), "Patroni scope (cluster name)")
	name := fs.String("name", e("NAME", ""), "this node's name, e.g. n1")
	etcd := fs.String("etcd", e("ETCD", ""), "etcd endpoints host:port, comma separated")
	timings := fs.String("timings", e("TIMINGS", "aggressive"), "timing profile: aggressive, default or TTL/LOOP_WAIT/RETRY_TIMEOUT")
	address := fs.String("address", e("ADDRESS", ""), "address other members and HAProxy reach this node at (default: first non-loopback IPv4)")
	dataDir := fs.String("data-dir", e("DATA_DIR", "/data/pg"), "PostgreSQL data directory")
	binDir := fs.String("bin-dir", e("BIN_DIR", "/usr/lib/postgresql/15/bin"), "PostgreSQL binaries")
	creds := fs.String("credentials", e("CREDENTIALS", ""), "`FILE` with this node's credentials bundle (JSON, from the head node's data_dir/secrets/nodes/NAME.json): PostgreSQL, Patroni REST and etcd logins and etcd's CA; it replaces the password flags")
	suPassFlag := addSecret(fs, env, "superuser-password", "REDSWITCH_SUPERUSER_PASSWORD", "", "password of the postgres superuser (without --credentials; a well-known one such as postgres is refused)")
	replPassFlag := addSecret(fs, env, "replication-password", "REDSWITCH_REPLICATION_PASSWORD", "", "password of the replication user (without --credentials)")
	sync := fs.Bool("synchronous-mode", e("SYNCHRONOUS_MODE", "") == "true", "Patroni synchronous_mode")
	syncStrict := fs.Bool("synchronous-mode-strict", e("SYNCHRONOUS_MODE_STRICT", "") == "true", "Patroni synchronous_mode_strict")
	failsafe := fs.Bool("failsafe-mode", e("FAILSAFE_MODE", "") == "true", "Patroni failsafe_mode")
	maxLag := fs.Int64("maximum-lag-on-failover", 0, "bytes a replica may lag and still be promoted (default Patroni's 1 MiB)")
	tags := fs.String("tags", e("TAGS", ""), "Patroni tags set to true, comma separated (nofailover, noloadbalance)")
	token := fs.String("cluster-token", e("CLUSTER_TOKEN", ""), "token guarding the agent's API (default: read from --cluster-token-file; on the command line every user of the machine can read it: prefer $REDSWITCH_CLUSTER_TOKEN or the file)")
	tokenFile := fs.String("cluster-token-file", e("CLUSTER_TOKEN_FILE", agentapi.TokenFile), "`FILE` the cluster token is read from on every request when --cluster-token is not given (the head node's rig installs it there)")
	postmortem := fs.Bool("postmortem-forks", e("POSTMORTEM_FORKS", "") == "true", "before a crashed primary rejoins (and pg_rewind discards what it alone had), keep a running fork of its data directory; the newest one is kept")
	autoHeal := fs.Bool("auto-heal", e("AUTO_HEAL", "true") != "false", "wipe a corrupt data directory and let Patroni re-initialise it from the primary")
	configPath := fs.String("config", e("CONFIG", "/etc/redswitch/patroni.yml"), "where to write patroni.yml")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	suPass, err := suPassFlag.resolve(fs, env, env.log)
	if err != nil {
		return err
	}
	replPass, err := replPassFlag.resolve(fs, env, env.log)
	if err != nil {
		return err
	}
	warnArgvSecret(fs, "cluster-token", *token != "", "set $REDSWITCH_CLUSTER_TOKEN or use --cluster-token-file", env.log)
	if *name == "" {
		return usagef("--name is required")
	}
	t, err := cluster.ParseTimings(*timings)
	if err != nil {
		return usagef("--timings: %v", err)
	}
	endpoints := splitList(*etcd)
	if len(endpoints) == 0 {
		return usagef("--etcd: at least one host:port is required")
	}
	for i, ep := range endpoints {
		endpoints[i] = strings.TrimPrefix(strings.TrimPrefix(ep, "http://"), "https://")
	}
	if *address == "" {
		a, err := agent.DetectAddress()
		if err != nil {
			return usagef("--address: %v", err)
		}
		*address = a
	}
	tagMap := map[string]bool{}
	for _, tg := range splitList(*tags) {
		tagMap[tg] = true
	}
	po := cluster.PatroniOptions{
		Scope: *scope, Name: *name, Address: *address, Etcd: endpoints, Timings: t,
		DataDir: *dataDir, BinDir: *binDir, SuperuserPassword: suPass, ReplicationPassword: replPass,
		SynchronousMode: *sync, SynchronousModeStrict: *syncStrict, FailsafeMode: *failsafe,
		MaximumLagOnFailover: *maxLag, Tags: tagMap,
	}
	etcdAccess := etcdaccess.Access{Endpoints: endpoints}
	if *creds != "" {
		n, err := credentials.ReadNode(*creds)
		if err != nil {
			return usagef("--credentials: %v", err)
		}
		if etcdAccess, err = applyCredentials(n, &po, filepath.Dir(*configPath)); err != nil {
			return usagef("--credentials %s: %v", *creds, err)
		}
	}
	if err := checkPasswords(po); err != nil {
		return err
	}
	return agent.Run(ctx, agent.Options{
		Patroni:         po,
		Etcd:            etcdAccess,
		ConfigPath:      *configPath,
		Token:           *token,
		TokenFile:       *tokenFile,
		NoAutoHeal:      !*autoHeal,
		PostmortemForks: *postmortem,
		Log:             env.log,
	})
}
