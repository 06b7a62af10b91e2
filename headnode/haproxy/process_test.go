package haproxy

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redswitch/redswitch/prereq"
)

func TestSocketPlace(t *testing.T) {
	deep := "/" + strings.Repeat("d", 120)
	// fits is a dir whose haproxy.sock is exactly MaxSocketPath bytes.
	fits := "/" + strings.Repeat("f", MaxSocketPath-len("/")-len("/haproxy.sock"))
	tests := []struct {
		name        string
		dir         string
		runtime     []string
		wantSocket  string // exact, or "" to check only the prefix
		wantPrefix  string
		wantPrivate bool
		wantErr     string
	}{
		{"short data dir keeps it", "/var/lib/redswitch", []string{"/run/redswitch"}, "/var/lib/redswitch/haproxy.sock", "", false, ""},
		{"exactly at the limit", fits, []string{"/run/redswitch"}, fits + "/haproxy.sock", "", false, ""},
		{"one byte over goes to the runtime dir", fits + "x", []string{"/run/redswitch"}, "", "/run/redswitch/haproxy-", true, ""},
		{"deep data dir", deep, []string{"/run/redswitch", "/tmp"}, "", "/run/redswitch/haproxy-", true, ""},
		{"relative runtime dir skipped", deep, []string{"run", "/tmp"}, "", "/tmp/haproxy-", true, ""},
		{"deep runtime dir skipped", deep, []string{deep, "/tmp"}, "", "/tmp/haproxy-", true, ""},
		{"nowhere fits", deep, []string{deep}, "", "", false, "over HAProxy's limit of 97"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			socket, private, err := SocketPlace(tt.dir, tt.runtime)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(socket) > MaxSocketPath {
				t.Errorf("socket %s is %d bytes, over %d", socket, len(socket), MaxSocketPath)
			}
			if tt.wantSocket != "" && socket != tt.wantSocket {
				t.Errorf("socket %s, want %s", socket, tt.wantSocket)
			}
			if !strings.HasPrefix(socket, tt.wantPrefix) {
				t.Errorf("socket %s, want it under %s", socket, tt.wantPrefix)
			}
			if (private != "") != tt.wantPrivate {
				t.Errorf("private dir %q, want one: %v", private, tt.wantPrivate)
			}
			if private != "" && filepath.Dir(socket) != private {
				t.Errorf("socket %s is not in its private dir %s", socket, private)
			}
			// The same data dir finds the same place again (a restarted
			// head node); another data dir gets another.
			again, _, _ := SocketPlace(tt.dir, tt.runtime)
			other, _, _ := SocketPlace(tt.dir+"2", tt.runtime)
			if again != socket {
				t.Errorf("second call: %s, first %s", again, socket)
			}
			if private != "" && other == socket {
				t.Errorf("data dirs %s and %s2 share socket %s", tt.dir, tt.dir, socket)
			}
		})
	}
}

func TestMakePrivateDir(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		name    string
		prepare func(dir string) error
		wantErr string
	}{
		{"created", func(string) error { return nil }, ""},
		{"left by an earlier run", func(dir string) error { return os.Mkdir(dir, 0o700) }, ""},
		{"open to others", func(dir string) error {
			if err := os.Mkdir(dir, 0o700); err != nil {
				return err
			}
			return os.Chmod(dir, 0o777)
		}, "not a private directory"},
		{"a symlink", func(dir string) error { return os.Symlink(root, dir) }, "not a private directory"},
		{"a file", func(dir string) error { return os.WriteFile(dir, nil, 0o600) }, "not a private directory"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(root, "parent", string(rune('a'+i)))
			if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := tt.prepare(dir); err != nil {
				t.Fatal(err)
			}
			err := makePrivateDir(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(dir)
			if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
				t.Errorf("%s: %v, %v; want a 0700 directory", dir, fi, err)
			}
		})
	}
}

func TestAlerts(t *testing.T) {
	tests := []struct{ name, out, want string }{
		{"notices dropped", "[NOTICE]   (1) : haproxy version is 2.6.12\n[NOTICE]   (1) : path to executable is /usr/sbin/haproxy\n" +
			"[ALERT]    (1) : config : 'stats socket' : socket path '/x' too long (max 97)\n\n[ALERT]    (1) : config : Fatal errors found in configuration.\n",
			"[ALERT]    (1) : config : 'stats socket' : socket path '/x' too long (max 97)\n[ALERT]    (1) : config : Fatal errors found in configuration."},
		{"only notices", "[NOTICE] (1) : haproxy version is 2.6.12\n", "[NOTICE] (1) : haproxy version is 2.6.12"},
		{"nothing", "\n", "(no output)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := alerts(tt.out); got != tt.want {
				t.Errorf("alerts = %q, want %q", got, tt.want)
			}
		})
	}
}

// needHAProxy returns the haproxy binary: scripts/install-deps.sh installs
// it, so under CI=true its absence fails the test.
func needHAProxy(t *testing.T) string {
	t.Helper()
	bin, err := lookHAProxy()
	if err != nil {
		prereq.Missing(t, "haproxy is not installed (scripts/install-deps.sh installs it): %v", err)
	}
	return bin
}

// freePorts returns n TCP ports free on 127.0.0.1 a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// deepDir is a data dir far deeper than a unix socket path allows.
func deepDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), strings.Repeat("a-rather-long-directory-name/", 5), "out", "bench-failover")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestApplyInDeepDataDir is issue 18 item 8: `bench failover --out DIR`
// with a deep DIR. HAProxy starts, its admin socket answers, and Stop
// removes the socket's private directory.
func TestApplyInDeepDataDir(t *testing.T) {
	bin := needHAProxy(t)
	dir := deepDir(t)
	if len(filepath.Join(dir, socketName)) <= MaxSocketPath {
		t.Fatalf("test data dir %s is not deep enough", dir)
	}
	p, err := NewProcess(bin, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })
	c := config(t, "aggressive")
	ports := freePorts(t, 3)
	c.PrimaryPort, c.ReplicaPort, c.StatsPort, c.StatsSocket = ports[0], ports[1], ports[2], p.Socket()
	cfg, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(context.Background(), cfg); err != nil {
		t.Fatalf("apply in %s: %v", dir, err)
	}
	states, err := ReadStats(context.Background(), p.Socket())
	if err != nil {
		t.Fatalf("read stats from %s: %v", p.Socket(), err)
	}
	if len(states) != 6 {
		t.Errorf("%d servers in the stats, want 6 (3 members, 2 listeners): %+v", len(states), states)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(p.Socket())); !os.IsNotExist(err) {
		t.Errorf("socket dir %s left after Stop: %v", filepath.Dir(p.Socket()), err)
	}
}

// TestApplyErrorsSayWhy checks that HAProxy's failures carry its own
// reason: a configuration `haproxy -c` rejects, and a HAProxy that exits
// at start because a port is taken.
func TestApplyErrorsSayWhy(t *testing.T) {
	bin := needHAProxy(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		name   string
		mutate func(c *Config)
		raw    func(cfg string) string
		want   []string
	}{
		{"socket path too long", nil, func(cfg string) string {
			deep := "/tmp/" + strings.Repeat("s", 100) + "/haproxy.sock"
			return strings.Replace(cfg, "stats socket ", "stats socket "+deep+" #", 1)
		}, []string{"haproxy: config rejected", "too long (max 97)"}},
		{"port in use", func(c *Config) { c.PrimaryPort = taken.Addr().(*net.TCPAddr).Port }, nil,
			[]string{"haproxy: exited at start", "cannot bind socket"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewProcess(bin, t.TempDir(), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Stop() })
			c := config(t, "aggressive")
			ports := freePorts(t, 3)
			c.PrimaryPort, c.ReplicaPort, c.StatsPort, c.StatsSocket = ports[0], ports[1], ports[2], p.Socket()
			if tt.mutate != nil {
				tt.mutate(&c)
			}
			cfg, err := Render(c)
			if err != nil {
				t.Fatal(err)
			}
			if tt.raw != nil {
				cfg = tt.raw(cfg)
			}
			err = p.Apply(context.Background(), cfg)
			if err == nil {
				t.Fatal("Apply succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if strings.Contains(err.Error(), "[NOTICE]") {
				t.Errorf("error keeps HAProxy's banner: %v", err)
			}
		})
	}
}
