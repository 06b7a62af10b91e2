package pki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func mustEnsure(t *testing.T, dir string, hosts []string, now time.Time) Files {
	t.Helper()
	f, err := ensure(dir, hosts, now)
	if err != nil {
		t.Fatalf("ensure: %v", err)
	}
	return f
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnsureCreatesAndReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	now := time.Now()
	f := mustEnsure(t, dir, []string{"10.0.0.1", "headnode.local"}, now)
	ca, srv := read(t, f.CACert), read(t, f.ServerCert)

	again := mustEnsure(t, dir, []string{"headnode.local", "10.0.0.1"}, now.Add(time.Hour))
	if again != f {
		t.Fatalf("files moved: %+v then %+v", f, again)
	}
	if !bytes.Equal(read(t, f.CACert), ca) {
		t.Fatal("CA re-made on the second call")
	}
	if !bytes.Equal(read(t, f.ServerCert), srv) {
		t.Fatal("server certificate re-issued although it covers every host")
	}
}

func TestEnsureReissues(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name  string
		hosts []string
		at    time.Time
		// spoil damages the directory before the second call.
		spoil func(t *testing.T, f Files)
	}{
		{name: "new host", hosts: []string{"10.0.0.1", "10.0.0.2"}, at: now},
		{name: "new name", hosts: []string{"10.0.0.1", "booth"}, at: now},
		{name: "near expiry", hosts: []string{"10.0.0.1"}, at: now.Add(serverLifetime - 10*24*time.Hour)},
		{name: "key lost", hosts: []string{"10.0.0.1"}, at: now, spoil: func(t *testing.T, f Files) {
			if err := os.Remove(f.ServerKey); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "key of another pair", hosts: []string{"10.0.0.1"}, at: now, spoil: func(t *testing.T, f Files) {
			other := mustEnsure(t, t.TempDir(), nil, now)
			if err := os.WriteFile(f.ServerKey, read(t, other.ServerKey), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f := mustEnsure(t, dir, []string{"10.0.0.1"}, now)
			ca, srv := read(t, f.CACert), read(t, f.ServerCert)
			if tc.spoil != nil {
				tc.spoil(t, f)
			}
			mustEnsure(t, dir, tc.hosts, tc.at)
			if !bytes.Equal(read(t, f.CACert), ca) {
				t.Fatal("CA changed: agents trusting it would be cut off")
			}
			if bytes.Equal(read(t, f.ServerCert), srv) {
				t.Fatal("server certificate not re-issued")
			}
			cert, err := parseCert(read(t, f.ServerCert))
			if err != nil {
				t.Fatal(err)
			}
			caCert, _ := parseCert(ca)
			if err := cert.CheckSignatureFrom(caCert); err != nil {
				t.Fatalf("re-issued certificate not signed by the CA: %v", err)
			}
			for _, h := range append([]string{"127.0.0.1", "::1", "localhost"}, tc.hosts...) {
				if err := cert.VerifyHostname(h); err != nil {
					t.Errorf("re-issued certificate: %v", err)
				}
			}
		})
	}
}

func TestEnsureModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := mustEnsure(t, dir, nil, time.Now())
	modes := map[string]os.FileMode{dir: 0o700, f.CAKey: 0o600, f.ServerKey: 0o600, f.CACert: 0o600, f.ServerCert: 0o600}
	for path, want := range modes {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", path, got, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("directory holds %d entries, want 4 (temporary files left?)", len(entries))
	}
}

func TestEnsureErrors(t *testing.T) {
	tests := []struct {
		name  string
		hosts []string
		spoil func(t *testing.T, f Files)
		want  string
	}{
		{name: "CA key lost", spoil: func(t *testing.T, f Files) { os.Remove(f.CAKey) }, want: CAKeyName},
		{name: "CA certificate garbled", spoil: func(t *testing.T, f Files) {
			os.WriteFile(f.CACert, []byte("not pem"), 0o600)
		}, want: CACertName},
		{name: "CA key of another CA", spoil: func(t *testing.T, f Files) {
			other := mustEnsure(t, t.TempDir(), nil, time.Now())
			os.WriteFile(f.CAKey, read(t, other.CAKey), 0o600)
		}, want: "does not match"},
		{name: "empty host", hosts: []string{""}, want: "empty host"},
		{name: "host with a port", hosts: []string{"headnode:2379"}, want: "headnode:2379"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f := mustEnsure(t, dir, nil, time.Now())
			if tc.spoil != nil {
				tc.spoil(t, f)
			}
			_, err := Ensure(dir, tc.hosts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestEnsureMakesCAWhenOnlyItsKeyIsLeft(t *testing.T) {
	dir := t.TempDir()
	f := mustEnsure(t, dir, nil, time.Now())
	if err := os.Remove(f.CACert); err != nil {
		t.Fatal(err)
	}
	mustEnsure(t, dir, nil, time.Now())
}

// TestHandshake serves TLS with the files and dials it as an agent would,
// trusting only the CA: a host in the list verifies, another does not.
func TestHandshake(t *testing.T) {
	f := mustEnsure(t, t.TempDir(), []string{"10.9.8.7", "etcd.booth"}, time.Now())
	pair, err := tls.LoadX509KeyPair(f.ServerCert, f.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(read(t, f.CACert)) {
		t.Fatal("CA certificate not PEM")
	}
	tests := []struct {
		serverName string
		ok         bool
	}{
		{"127.0.0.1", true}, {"localhost", true}, {"10.9.8.7", true}, {"etcd.booth", true},
		{"10.9.8.6", false}, {"other.booth", false},
	}
	for _, tc := range tests {
		t.Run(tc.serverName, func(t *testing.T) {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(),
				&tls.Config{RootCAs: pool, ServerName: tc.serverName, MinVersion: tls.VersionTLS12})
			if err == nil {
				c.Close()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("handshake as %s: err = %v, want ok=%v", tc.serverName, err, tc.ok)
			}
		})
	}
}

func FuzzSANs(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "::1", "[fe80::1]", "headnode.local", "HeadNode.", "", "a b", "x:1", ".", "a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		names, ips, err := sans([]string{h})
		if err != nil {
			return
		}
		if len(ips) < 2 || len(names) < 1 {
			t.Fatalf("loopback SANs missing: %v %v", names, ips)
		}
		for _, n := range names {
			if !dnsName(n) {
				t.Fatalf("bad DNS SAN %q from %q", n, h)
			}
		}
	})
}
