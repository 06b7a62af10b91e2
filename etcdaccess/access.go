// Package etcdaccess says how a client reaches etcd: its endpoints, the CA
// that signed the server's certificate, and the user it logs in as. The
// head node, the agents and Patroni's rendered etcd3 section all take one
// Access, so plain HTTP and TLS with authentication are one switch.
package etcdaccess

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Access is one client's way into etcd.
type Access struct {
	// Endpoints are host:port, without a scheme.
	Endpoints []string
	// CAFile is the PEM file of the CA that signed etcd's server
	// certificate. Empty means plain HTTP (the demo on its own bridge).
	CAFile string
	// User and Password log the client in when etcd has auth enabled.
	User     string
	Password string
}

// TLS reports whether the client speaks TLS.
func (a Access) TLS() bool { return a.CAFile != "" }

// Scheme is "https" with a CA, else "http".
func (a Access) Scheme() string {
	if a.TLS() {
		return "https"
	}
	return "http"
}

// URLs are the endpoints with their scheme.
func (a Access) URLs() []string {
	out := make([]string, len(a.Endpoints))
	for i, e := range a.Endpoints {
		out[i] = a.Scheme() + "://" + strings.TrimPrefix(strings.TrimPrefix(e, "http://"), "https://")
	}
	return out
}

// ClientConfig is a clientv3 configuration for a.
func (a Access) ClientConfig(dialTimeout time.Duration) (clientv3.Config, error) {
	if len(a.Endpoints) == 0 {
		return clientv3.Config{}, fmt.Errorf("etcd: no endpoints")
	}
	cfg := clientv3.Config{Endpoints: a.URLs(), DialTimeout: dialTimeout, Logger: zap.NewNop(),
		Username: a.User, Password: a.Password}
	if a.TLS() {
		pem, err := os.ReadFile(a.CAFile)
		if err != nil {
			return clientv3.Config{}, fmt.Errorf("etcd CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return clientv3.Config{}, fmt.Errorf("etcd CA %s: no PEM certificate in it", a.CAFile)
		}
		cfg.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return cfg, nil
}

// New opens a client for a.
func (a Access) New(dialTimeout time.Duration) (*clientv3.Client, error) {
	cfg, err := a.ClientConfig(dialTimeout)
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd client %s: %w", strings.Join(cfg.Endpoints, ","), err)
	}
	return cli, nil
}
