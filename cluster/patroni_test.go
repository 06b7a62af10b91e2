package cluster

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the rendered output:\n--- got ---\n%s", path, got)
	}
}

func baseOptions(profile string) PatroniOptions {
	tm, _ := ParseTimings(profile)
	return PatroniOptions{Scope: "redswitch", Name: "n1", Address: "172.30.1.11", Etcd: []string{"172.30.1.1:2379"},
		Timings: tm, DataDir: "/data/pg", BinDir: "/usr/lib/postgresql/15/bin",
		SuperuserPassword: "postgres", ReplicationPassword: "replicator"}
}

func TestRenderPatroniGolden(t *testing.T) {
	for _, profile := range []string{"aggressive", "default"} {
		t.Run(profile, func(t *testing.T) {
			got, err := RenderPatroni(baseOptions(profile))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "patroni-"+profile+".yml", got)
		})
	}
	t.Run("sync-tags", func(t *testing.T) {
		o := baseOptions("aggressive")
		o.SynchronousMode, o.FailsafeMode, o.MaximumLagOnFailover = true, true, 4096
		o.Tags = map[string]bool{"nofailover": true, "zone_b": true}
		got, err := RenderPatroni(o)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "patroni-sync-tags.yml", got)
	})
	t.Run("secured", func(t *testing.T) {
		o := baseOptions("aggressive")
		o.EtcdCAFile, o.EtcdUser, o.EtcdPassword = "/etc/redswitch/etcd-ca.pem", "patroni", "etcd-secret-0123"
		o.SuperuserPassword, o.ReplicationPassword = "su-secret-0123", "repl-secret-0123"
		o.RewindUser, o.RewindPassword = "rewinder", "rewind-secret-0123"
		o.RESTUser, o.RESTPassword = "redswitch", "rest-secret-0123"
		got, err := RenderPatroni(o)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "patroni-secured.yml", got)
	})
}

func TestRenderPatroniRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*PatroniOptions)
		want   string
	}{
		{"bad scope", func(o *PatroniOptions) { o.Scope = "a b" }, `scope "a b"`},
		{"no name", func(o *PatroniOptions) { o.Name = "" }, `name ""`},
		{"bad address", func(o *PatroniOptions) { o.Address = "not an address!" }, "is not an IP address or host name"},
		{"no etcd", func(o *PatroniOptions) { o.Etcd = nil }, "etcd: no endpoints"},
		{"etcd without port", func(o *PatroniOptions) { o.Etcd = []string{"10.0.0.1"} }, `etcd endpoint "10.0.0.1": want host:port`},
		{"no password", func(o *PatroniOptions) { o.ReplicationPassword = "" }, "passwords are required"},
		{"rest user without password", func(o *PatroniOptions) { o.RESTUser = "redswitch" }, "rest api: user and password go together"},
		{"rewind password without user", func(o *PatroniOptions) { o.RewindPassword = "x" }, "rewind: user and password go together"},
		{"etcd login over plain http", func(o *PatroniOptions) { o.EtcdUser, o.EtcdPassword = "patroni", "x" }, "etcd: a login needs TLS"},
		{"bad timings", func(o *PatroniOptions) { o.Timings.RetryTimeout = 1 }, "retry_timeout 1 s is below 2 s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := baseOptions("aggressive")
			tt.mutate(&o)
			_, err := RenderPatroni(o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
