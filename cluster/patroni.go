package cluster

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
)

// Ports a node listens on inside its container or machine.
const (
	PostgresPort = 5432
	PatroniPort  = 8008
	AgentPort    = 8010
)

// CheckpointTimeout is the cluster's checkpoint_timeout. A replica's
// CHECKPOINT can only make a restartpoint at the last checkpoint record it
// replayed, so a fork of it replays the WAL since the primary's last
// checkpoint, and a node a power cut left behind replays as much in crash
// recovery. With PostgreSQL's 5 min a scale-100 fork replayed up to 370 MB
// (3.8 s, 20 s in a longer run); with 30 s at most 160 MB (1.3 s), in
// `bench fork`, which uses this value too. The extra full-page writes cost
// nothing at a booth's write rate.
const CheckpointTimeout = "30s"

// PatroniOptions is everything the agent knows when it renders a node's
// patroni.yml.
type PatroniOptions struct {
	Scope string
	Name  string
	// Address is the node's own address, advertised to the other members and
	// to HAProxy.
	Address string
	// Etcd lists host:port endpoints of the consensus store (etcd v3 API).
	Etcd    []string
	Timings Timings
	// DataDir is PostgreSQL's data directory.
	DataDir string
	// BinDir holds pg_ctl and friends.
	BinDir string
	// EtcdCAFile, EtcdUser and EtcdPassword are Patroni's etcd login:
	// with a CA file it speaks HTTPS and checks etcd's certificate, with
	// a user it logs in (etcd auth). Empty: plain HTTP, no login (the
	// container demo on its own bridge).
	EtcdCAFile   string
	EtcdUser     string
	EtcdPassword string
	// Superuser, Replication and Rewind credentials. Without a rewind
	// password pg_rewind runs as the superuser.
	SuperuserPassword   string
	ReplicationPassword string
	RewindUser          string
	RewindPassword      string
	// RESTUser and RESTPassword guard Patroni's unsafe REST endpoints
	// (POST /failover, /restart, /reinitialize, PATCH /config); reads
	// such as HAProxy's HEAD /primary stay open.
	RESTUser     string
	RESTPassword string
	// SynchronousMode, SynchronousModeStrict, FailsafeMode and
	// MaximumLagOnFailover go into the bootstrap DCS configuration.
	SynchronousMode       bool
	SynchronousModeStrict bool
	FailsafeMode          bool
	MaximumLagOnFailover  int64
	// Tags are Patroni member tags such as nofailover and noloadbalance.
	Tags map[string]bool
}

// Validate reports the first option that cannot produce a working node.
func (o PatroniOptions) Validate() error {
	switch {
	case !validName(o.Scope):
		return fmt.Errorf("scope %q: use letters, digits, '-' and '_'", o.Scope)
	case !validName(o.Name):
		return fmt.Errorf("name %q: use letters, digits, '-' and '_'", o.Name)
	case net.ParseIP(o.Address) == nil && !validHost(o.Address):
		return fmt.Errorf("address %q is not an IP address or host name", o.Address)
	case len(o.Etcd) == 0:
		return fmt.Errorf("etcd: no endpoints")
	case o.DataDir == "" || o.BinDir == "":
		return fmt.Errorf("data dir and bin dir are required")
	case o.SuperuserPassword == "" || o.ReplicationPassword == "":
		return fmt.Errorf("superuser and replication passwords are required")
	case (o.RESTUser == "") != (o.RESTPassword == ""):
		return fmt.Errorf("rest api: user and password go together")
	case (o.RewindUser == "") != (o.RewindPassword == ""):
		return fmt.Errorf("rewind: user and password go together")
	case (o.EtcdUser == "") != (o.EtcdPassword == ""):
		return fmt.Errorf("etcd: user and password go together")
	case o.EtcdUser != "" && o.EtcdCAFile == "":
		// A password over plain HTTP is one anyone on the LAN reads.
		return fmt.Errorf("etcd: a login needs TLS (a CA file)")
	}
	for _, e := range o.Etcd {
		if _, _, err := net.SplitHostPort(e); err != nil {
			return fmt.Errorf("etcd endpoint %q: want host:port: %w", e, err)
		}
	}
	return o.Timings.Validate()
}

func validName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func validHost(s string) bool {
	if s == "" {
		return false
	}
	for _, p := range strings.Split(s, ".") {
		if !validName(p) {
			return false
		}
	}
	return true
}

// RenderPatroni returns the patroni.yml for one node. It is pure so the
// output can be checked against golden files.
func RenderPatroni(o PatroniOptions) (string, error) {
	if err := o.Validate(); err != nil {
		return "", fmt.Errorf("patroni config: %w", err)
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	q := strconv.Quote
	t := o.Timings
	lag := o.MaximumLagOnFailover
	if lag == 0 {
		lag = 1048576
	}
	w("# Rendered by redswitch agent for node %s of %s; profile %s.\n", o.Name, o.Scope, t.Name)
	w("scope: %s\n", q(o.Scope))
	w("name: %s\n", q(o.Name))
	w("log:\n  level: INFO\n  format: '%%(asctime)s %%(levelname)s: %%(message)s'\n")
	w("restapi:\n")
	w("  listen: %s\n", q(fmt.Sprintf("0.0.0.0:%d", PatroniPort)))
	w("  connect_address: %s\n", q(net.JoinHostPort(o.Address, strconv.Itoa(PatroniPort))))
	if o.RESTUser != "" {
		w("  authentication:\n    username: %s\n    password: %s\n", q(o.RESTUser), q(o.RESTPassword))
	}
	w("etcd3:\n")
	if o.EtcdCAFile != "" {
		w("  protocol: https\n  cacert: %s\n", q(o.EtcdCAFile))
	} else {
		w("  protocol: http\n")
	}
	if o.EtcdUser != "" {
		w("  username: %s\n  password: %s\n", q(o.EtcdUser), q(o.EtcdPassword))
		// Patroni 3.0.2 asks etcd for its member list without its token
		// whenever it builds a client, and etcd 3.7 with auth refuses
		// that ("user name is empty"): Patroni then waits on etcd for
		// ever. With use_proxies it takes the hosts below as they are,
		// which are all there is (the booth's one embedded etcd, or
		// every member of an external cluster).
		w("  use_proxies: true\n")
	}
	w("  hosts:\n")
	for _, e := range o.Etcd {
		w("    - %s\n", q(e))
	}
	w("bootstrap:\n  dcs:\n")
	w("    ttl: %d\n    loop_wait: %d\n    retry_timeout: %d\n", t.TTL, t.LoopWait, t.RetryTimeout)
	w("    maximum_lag_on_failover: %d\n", lag)
	w("    synchronous_mode: %t\n    synchronous_mode_strict: %t\n", o.SynchronousMode, o.SynchronousModeStrict)
	w("    failsafe_mode: %t\n", o.FailsafeMode)
	w("    postgresql:\n      use_pg_rewind: true\n      use_slots: true\n      parameters:\n")
	for _, p := range [][2]string{
		{"wal_level", "replica"},
		{"hot_standby", "on"},
		{"wal_log_hints", "on"},
		{"max_wal_senders", "10"},
		{"max_replication_slots", "10"},
		{"wal_keep_size", "256MB"},
		{"checkpoint_timeout", CheckpointTimeout},
		{"max_connections", "100"},
		// A standby that lost its power holds its walsender until this
		// timeout; with synchronous_mode every commit waits for it. One
		// ttl, not PostgreSQL's 60 s, so Patroni can drop it in time.
		{"wal_sender_timeout", fmt.Sprintf("%ds", t.TTL)},
	} {
		w("        %s: %s\n", p[0], q(p[1]))
	}
	w("  initdb:\n    - encoding: UTF8\n    - locale: C.UTF-8\n    - data-checksums\n")
	w("postgresql:\n")
	// A rewind that fails leaves the node stuck on the wrong timeline; seen
	// after many cuts when the source held a socket file pg_rewind cannot
	// read. Re-initialising from the primary is the booth's manual fix,
	// done by Patroni itself.
	w("  remove_data_directory_on_rewind_failure: true\n")
	w("  listen: %s\n", q(fmt.Sprintf("0.0.0.0:%d", PostgresPort)))
	w("  connect_address: %s\n", q(net.JoinHostPort(o.Address, strconv.Itoa(PostgresPort))))
	w("  data_dir: %s\n  bin_dir: %s\n", q(o.DataDir), q(o.BinDir))
	w("  pgpass: /tmp/pgpass-%s\n", o.Name)
	// A fast checkpoint: the default spread one makes a new replica wait
	// seconds for a checkpoint of an almost empty database.
	w("  basebackup:\n    - checkpoint: fast\n")
	w("  authentication:\n")
	w("    superuser:\n      username: postgres\n      password: %s\n", q(o.SuperuserPassword))
	w("    replication:\n      username: replicator\n      password: %s\n", q(o.ReplicationPassword))
	if o.RewindUser != "" {
		// Patroni creates this role at bootstrap with just the functions
		// pg_rewind calls, so a rejoin needs no superuser login.
		w("    rewind:\n      username: %s\n      password: %s\n", q(o.RewindUser), q(o.RewindPassword))
	}
	w("  parameters:\n")
	// The probe reads the serving node's name from SQL.
	w("    redswitch.node: %s\n", q(o.Name))
	w("    unix_socket_directories: '/var/run/postgresql'\n")
	w("  pg_hba:\n")
	w("    - local all all trust\n")
	w("    - host replication replicator all scram-sha-256\n")
	w("    - host all all all scram-sha-256\n")
	// With ttl 5 Patroni warns every loop that the watchdog safety margin
	// cannot be met; there is no watchdog in a container or on the booth.
	w("watchdog:\n  mode: \"off\"\n  safety_margin: -1\n")
	w("tags:\n")
	keys := []string{"nofailover", "noloadbalance", "clonefrom", "nosync"}
	for k := range o.Tags {
		if !contains(keys, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys[4:])
	for _, k := range keys {
		w("  %s: %t\n", k, o.Tags[k])
	}
	return b.String(), nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
