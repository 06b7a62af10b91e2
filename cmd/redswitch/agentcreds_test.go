package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/credentials"
)

func TestApplyCredentials(t *testing.T) {
	b := credentials.New([]string{"n1"})
	const ca = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"
	t.Run("tls bundle", func(t *testing.T) {
		dir := t.TempDir()
		o := cluster.PatroniOptions{Name: "n1", Etcd: []string{"10.0.0.1:2379"}}
		acc, err := applyCredentials(b.Node("n1", ca), &o, dir)
		if err != nil {
			t.Fatal(err)
		}
		caFile := filepath.Join(dir, etcdCAName)
		if got, err := os.ReadFile(caFile); err != nil || string(got) != ca {
			t.Fatalf("CA file %q, %v", got, err)
		}
		if fi, _ := os.Stat(caFile); fi.Mode().Perm() != 0o644 {
			t.Errorf("CA file mode %v: Patroni (user postgres) must read it", fi.Mode().Perm())
		}
		if o.SuperuserPassword != b.Superuser || o.RewindUser != credentials.RewindUser || o.RESTPassword != b.REST ||
			o.EtcdCAFile != caFile || o.EtcdUser != credentials.EtcdPatroniUser || o.EtcdPassword != b.EtcdPatroni {
			t.Errorf("Patroni options %+v", o)
		}
		if acc.CAFile != caFile || acc.User != "agent-n1" || acc.Password != b.EtcdAgents["n1"] || acc.Endpoints[0] != "10.0.0.1:2379" {
			t.Errorf("agent's etcd access %+v", acc)
		}
	})
	t.Run("plain bundle", func(t *testing.T) {
		o := cluster.PatroniOptions{Name: "n1", Etcd: []string{"10.0.0.1:2379"}}
		acc, err := applyCredentials(b.Node("n1", ""), &o, t.TempDir())
		if err != nil || acc.TLS() || acc.User != "" || o.EtcdUser != "" {
			t.Fatalf("plain bundle: %+v, %+v, %v", acc, o, err)
		}
	})
	t.Run("another node's bundle", func(t *testing.T) {
		o := cluster.PatroniOptions{Name: "n2"}
		if _, err := applyCredentials(b.Node("n1", ""), &o, t.TempDir()); err == nil || !strings.Contains(err.Error(), "node n1's, this is n2") {
			t.Fatalf("err %v", err)
		}
	})
}
