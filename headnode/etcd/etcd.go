// Package etcd runs the head node's embedded etcd server: the consensus
// store Patroni keeps its leader lease and member keys in. With Security
// it serves TLS and requires every client to log in, each with the keys
// it needs and no more; without, it serves plain HTTP to anyone, which
// only the container demo on its own bridge should do.
package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/redswitch/redswitch/etcdaccess"
)

// Options configure the embedded server.
type Options struct {
	// Name of the member; also part of the initial cluster.
	Name string
	// Dir is the data directory; it is kept across restarts of the head
	// node so Patroni's keys survive.
	Dir string
	// ClientAddrs are host:port addresses to serve clients on: loopback for
	// the head node itself, the container network's gateway for the nodes.
	ClientAddrs []string
	// PeerAddr is the host:port for the (single-member) peer listener.
	PeerAddr string
	// StartTimeout bounds how long Start waits for the server to be ready.
	StartTimeout time.Duration
	// Security turns on TLS and authentication; the zero value serves
	// plain HTTP without authentication.
	Security Security
	Log      *slog.Logger
}

// Server is a running embedded etcd.
type Server struct {
	e         *embed.Etcd
	endpoints []string
	// addrs are the client addresses (host:port); the first is the one
	// the head node itself dials.
	addrs        []string
	caFile       string
	rootPassword string
}

// Start starts the server and waits until it serves clients or ctx ends.
func Start(ctx context.Context, o Options) (*Server, error) {
	if len(o.ClientAddrs) == 0 || o.PeerAddr == "" || o.Dir == "" {
		return nil, errors.New("etcd: data dir, client and peer addresses are required")
	}
	if err := o.Security.validate(); err != nil {
		return nil, err
	}
	if o.Name == "" {
		o.Name = "headnode"
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 30 * time.Second
	}
	cfg := embed.NewConfig()
	cfg.Name = o.Name
	cfg.Dir = o.Dir
	// etcd's own zap logs (and its shutdown noise) go to a file in its
	// data dir; the head node reports what matters through slog.
	cfg.LogLevel = "warn"
	cfg.Logger = "zap"
	cfg.LogOutputs = []string{filepath.Join(o.Dir, "etcd.log")}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("etcd: data dir: %w", err)
	}
	scheme := "http"
	if sec := o.Security; sec.TLS() {
		scheme = "https"
		cfg.ClientTLSInfo = transport.TLSInfo{CertFile: sec.CertFile, KeyFile: sec.KeyFile}
		// The peer port takes only members holding a certificate of the
		// booth's CA: raft messages from anyone else on the LAN could
		// rewrite the store without any password.
		cfg.PeerTLSInfo = transport.TLSInfo{CertFile: sec.CertFile, KeyFile: sec.KeyFile,
			TrustedCAFile: sec.CAFile, ClientCertAuth: true}
	}
	var clients []url.URL
	var endpoints []string
	for _, a := range o.ClientAddrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("etcd: client address %q: %w", a, err)
		}
		clients = append(clients, url.URL{Scheme: scheme, Host: a})
		endpoints = append(endpoints, scheme+"://"+a)
	}
	peer := url.URL{Scheme: scheme, Host: o.PeerAddr}
	cfg.ListenClientUrls = clients
	cfg.AdvertiseClientUrls = advertised(clients)
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// A single member on one machine: no need for long elections.
	cfg.TickMs = 100
	cfg.ElectionMs = 1000
	cfg.AutoCompactionMode = embed.CompactorModePeriodic
	cfg.AutoCompactionRetention = "1h"

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd: start in %s: %w", o.Dir, err)
	}
	timer := time.NewTimer(o.StartTimeout)
	defer timer.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd: failed while starting: %w", err)
	case <-timer.C:
		e.Close()
		return nil, fmt.Errorf("etcd: not ready after %s", o.StartTimeout)
	case <-ctx.Done():
		e.Close()
		return nil, fmt.Errorf("etcd: start: %w", ctx.Err())
	}
	s := &Server{e: e, endpoints: endpoints, addrs: o.ClientAddrs, caFile: o.Security.CAFile,
		rootPassword: o.Security.RootPassword}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Security.Auth() && !o.Security.TLS() {
		log.Warn("etcd authentication without TLS: passwords and tokens cross the network in the clear")
	}
	if err := s.secure(ctx, o.Security, o.StartTimeout, log); err != nil {
		e.Close()
		return nil, fmt.Errorf("etcd: %w", err)
	}
	log.Info("embedded etcd ready", "endpoints", endpoints, "dir", o.Dir,
		"tls", o.Security.TLS(), "auth", o.Security.Auth())
	return s, nil
}

// advertised picks the client URLs etcd tells its clients about. Patroni
// replaces its configured hosts by the member list it gets back, and a
// loopback URL there points a node at itself (seen in the nodes' logs as
// refused connections on every cluster discovery); the head node dials
// loopback directly and needs no advertisement.
func advertised(clients []url.URL) []url.URL {
	var out []url.URL
	for _, u := range clients {
		if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() || u.Hostname() == "localhost" {
			continue
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return clients
	}
	return out
}

// Endpoints are the client URLs the server answers on.
func (s *Server) Endpoints() []string { return s.endpoints }

// Access is the way in for user: the first client address (the one the
// head node dials; a node elsewhere replaces Endpoints with the address it
// reaches), the CA when the server speaks TLS, and the credentials. An
// empty user is an anonymous client, which only a server without
// authentication serves.
func (s *Server) Access(user, password string) etcdaccess.Access {
	return etcdaccess.Access{Endpoints: []string{dialable(s.addrs[0])}, CAFile: s.caFile, User: user, Password: password}
}

// dialable turns a wildcard listen address into the loopback one with the
// same port: a certificate never names 0.0.0.0, so TLS to it cannot verify.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch ip := net.ParseIP(host); {
	case host == "":
		return net.JoinHostPort("127.0.0.1", port)
	case ip == nil || !ip.IsUnspecified():
		return addr
	case ip.To4() != nil:
		return net.JoinHostPort("127.0.0.1", port)
	default:
		return net.JoinHostPort("::1", port)
	}
}

// Root is the head node's own Access: user root when authentication is on,
// anonymous otherwise.
func (s *Server) Root() etcdaccess.Access {
	if s.rootPassword == "" {
		return s.Access("", "")
	}
	return s.Access(RootUser, s.rootPassword)
}

// Err reports a fatal error of the running server.
func (s *Server) Err() <-chan error { return s.e.Err() }

// Close stops the server and waits for it.
func (s *Server) Close() { s.e.Close() }
