// Package agent runs on every database node: it renders the node's Patroni
// configuration, runs Patroni as user postgres and restarts it when it dies,
// and announces the node in etcd with a lease so the head node sees agents
// appear and vanish. It also serves the agent API (package agentapi) for
// the faults that must act inside the node (and clears what they leave when
// it starts and when a soft cut ends), and heals a corrupt data
// directory by wiping it once another member leads, so that Patroni
// re-initialises the node from the primary.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/etcdaccess"
	"github.com/redswitch/redswitch/fork"
	"github.com/redswitch/redswitch/fork/pglocal"
)

// Options configure one node's agent.
type Options struct {
	Patroni cluster.PatroniOptions
	// Etcd is the agent's own way into etcd (its key, its node events,
	// the leader key). Without endpoints it is Patroni.Etcd over plain
	// HTTP without a user: the container demo's etcd.
	Etcd etcdaccess.Access
	// ConfigPath is where patroni.yml is written.
	ConfigPath string
	// PatroniBin is the patroni executable.
	PatroniBin string
	// User runs Patroni and PostgreSQL (PostgreSQL refuses root).
	User string
	// RestartDelay is the pause before Patroni is started again after it died.
	RestartDelay time.Duration
	// RegisterTTL is the lease of the agent's key in etcd.
	RegisterTTL time.Duration
	// Token guards the agent API; when empty the token is read from
	// TokenFile on every request (the rig provisions it there).
	Token     string
	TokenFile string
	// APIAddr is where the agent API listens (default: the node's address
	// on cluster.AgentPort); "-" disables it.
	APIAddr string
	// NoAutoHeal turns off re-initialisation of a corrupt data directory
	// (on by default: the booth's one manual fix, done by itself).
	NoAutoHeal bool
	// PostmortemForks keeps a fork of the data directory of a primary
	// that crashed, taken before Patroni starts and pg_rewind throws away
	// the commits no replica received.
	PostmortemForks bool
	Log             *slog.Logger
}

func (o *Options) defaults() {
	if len(o.Etcd.Endpoints) == 0 {
		o.Etcd = etcdaccess.Access{Endpoints: o.Patroni.Etcd}
	}
	if o.ConfigPath == "" {
		o.ConfigPath = "/etc/redswitch/patroni.yml"
	}
	if o.PatroniBin == "" {
		o.PatroniBin = "patroni"
	}
	if o.User == "" {
		o.User = "postgres"
	}
	if o.RestartDelay == 0 {
		o.RestartDelay = time.Second
	}
	if o.RegisterTTL == 0 {
		o.RegisterTTL = 3 * time.Second
	}
	if o.TokenFile == "" {
		o.TokenFile = agentapi.TokenFile
	}
	if o.APIAddr == "" {
		o.APIAddr = net.JoinHostPort(o.Patroni.Address, strconv.Itoa(cluster.AgentPort))
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Run renders the configuration, then supervises Patroni and keeps the
// agent registered until ctx ends. It returns when Patroni has stopped.
func Run(ctx context.Context, o Options) error {
	o.defaults()
	log := o.Log.With("node", o.Patroni.Name)
	cfg, err := cluster.RenderPatroni(o.Patroni)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	acct, err := lookupAccount(o.User)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if err := writeOwned(o.ConfigPath, []byte(cfg), 0o600, acct); err != nil {
		return fmt.Errorf("agent: write %s: %w", o.ConfigPath, err)
	}
	// Patroni runs initdb into DataDir: its parent must belong to the user.
	if err := os.MkdirAll(filepath.Dir(o.Patroni.DataDir), 0o755); err != nil {
		return fmt.Errorf("agent: data dir parent: %w", err)
	}
	if err := os.Chown(filepath.Dir(o.Patroni.DataDir), acct.uid, acct.gid); err != nil {
		return fmt.Errorf("agent: chown data dir parent: %w", err)
	}
	// On btrfs the data directory is a subvolume of its own, so a fork is
	// one snapshot. Patroni may later replace it by a plain directory
	// (re-initialisation); forks then fall back to reflink copies.
	if on, _ := fork.OnBtrfs(filepath.Dir(o.Patroni.DataDir)); on {
		if _, err := os.Stat(o.Patroni.DataDir); errors.Is(err, os.ErrNotExist) {
			if err := fork.CreateSubvolume(ctx, o.Patroni.DataDir, pglocal.Owner{UID: acct.uid, GID: acct.gid}); err != nil {
				log.Warn("data directory is a plain directory: forks will copy instead of snapshot", "err", err)
			} else {
				log.Info("data directory created as a btrfs subvolume", "path", o.Patroni.DataDir)
			}
		}
	}
	log.Info("agent starting", "scope", o.Patroni.Scope, "address", o.Patroni.Address,
		"etcd", strings.Join(o.Etcd.URLs(), ","), "etcd_user", o.Etcd.User, "timings", o.Patroni.Timings.Name)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := newReaper(os.Getpid() == 1)
	defer r.stop()
	sup := newSupervisor(o, acct, r, log)
	api := newAPIServer(sup, log)
	// Before the agent registers and Patroni starts: faults an earlier
	// agent left in this node (its network namespace or its data volume
	// outlived that agent) go, a leftover etcd block first of all.
	if err := api.clearFaults(ctx, "agent start"); err != nil {
		log.Warn("agent start: faults left in the node not all cleared", "err", err)
	}
	regDone := make(chan struct{})
	go func() {
		defer close(regDone)
		register(ctx, o, log)
	}()
	apiDone := make(chan struct{})
	go func() {
		defer close(apiDone)
		if o.APIAddr != "-" {
			serveAPI(ctx, o.APIAddr, api)
		}
	}()
	err = sup.run(ctx)
	cancel()
	<-regDone
	<-apiDone
	return err
}

func writeOwned(path string, data []byte, mode os.FileMode, a account) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chown(tmp, a.uid, a.gid); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// DetectAddress returns the first non-loopback IPv4 address of this
// machine: in a container, its address on the rig's network.
func DetectAddress() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", fmt.Errorf("list interface addresses: %w", err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.To4() == nil {
			continue
		}
		return ipn.IP.String(), nil
	}
	return "", errors.New("no non-loopback IPv4 address: pass --address")
}
