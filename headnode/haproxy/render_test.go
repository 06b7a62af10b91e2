package haproxy

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/prereq"
)

var update = flag.Bool("update", false, "rewrite golden files")

func config(t *testing.T, profile string) Config {
	t.Helper()
	tm, err := cluster.ParseTimings(profile)
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Members: []Member{
			{Name: "n2", Address: "172.30.1.12"},
			{Name: "n1", Address: "172.30.1.11"},
			{Name: "n3", Address: "172.30.1.13"},
		},
		Bind: "127.0.0.1", PrimaryPort: 5000, ReplicaPort: 5001, StatsPort: 7000,
		StatsSocket: "/var/lib/redswitch/haproxy.sock", Timings: tm,
	}
}

func TestRenderStatsBind(t *testing.T) {
	c := config(t, "aggressive")
	c.Bind, c.StatsBind = "192.168.50.2", "127.0.0.1"
	got, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "listen stats\n    mode http\n    bind 127.0.0.1:") || !strings.Contains(got, "bind 192.168.50.2:") {
		t.Fatalf("stats not on loopback while the primary is on the LAN:\n%s", got)
	}
	c.StatsBind = "not-an-ip"
	if _, err := Render(c); err == nil || !strings.Contains(err.Error(), `stats bind "not-an-ip"`) {
		t.Fatalf("Render with a bad stats bind: %v", err)
	}
}

func TestRenderGolden(t *testing.T) {
	for _, profile := range []string{"aggressive", "default"} {
		t.Run(profile, func(t *testing.T) {
			got, err := Render(config(t, profile))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "haproxy-"+profile+".cfg")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(want) != got {
				t.Errorf("%s differs:\n%s", path, got)
			}
		})
	}
}

func TestRenderRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"bad bind", func(c *Config) { c.Bind = "localhost" }, `bind "localhost" is not an IP address`},
		{"port clash", func(c *Config) { c.ReplicaPort = 5000 }, "are both 5000"},
		{"port range", func(c *Config) { c.StatsPort = 70000 }, "stats port 70000 out of range"},
		{"dup member", func(c *Config) { c.Members[1].Name = "n2" }, `member "n2" listed twice`},
		{"bad address", func(c *Config) { c.Members[0].Address = "x" }, `member "n2": address "x"`},
		{"bad name", func(c *Config) { c.Members[0].Name = "a b" }, `bad name "a b"`},
		{"no socket", func(c *Config) { c.StatsSocket = "" }, "stats socket path is required"},
		{"deep socket", func(c *Config) { c.StatsSocket = "/" + strings.Repeat("d", 90) + "/haproxy.sock" },
			"is 104 bytes, over HAProxy's limit of 97 for a unix socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config(t, "aggressive")
			tt.mutate(&c)
			_, err := Render(c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestRenderAcceptedByHAProxy checks the rendered file with HAProxy itself.
func TestRenderAcceptedByHAProxy(t *testing.T) {
	bin, err := lookHAProxy()
	if err != nil {
		prereq.Missing(t, "haproxy is not installed (scripts/install-deps.sh installs it): %v", err)
	}
	for _, profile := range []string{"aggressive", "default"} {
		c := config(t, profile)
		c.StatsSocket = filepath.Join(t.TempDir(), "s.sock")
		got, err := Render(c)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "haproxy.cfg")
		if err := os.WriteFile(path, []byte(got), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := runCheck(bin, path); err != nil {
			t.Errorf("%s: haproxy -c rejects the rendered config: %v\n%s", profile, err, out)
		}
	}
}

const statsCSV = `# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight
stats,FRONTEND,,,0,1,2000,1,0,0,0,0,0,,,,,OPEN,
primary,FRONTEND,,,0,0,2000,0,0,0,0,0,0,,,,,OPEN,
primary,n1,0,0,0,0,200,0,0,0,,0,,0,0,0,0,UP,1
primary,n2,0,0,0,0,200,0,0,0,,0,,0,0,0,0,DOWN,1
primary,n3,0,0,0,0,200,0,0,0,,0,,0,0,0,0,DOWN 1/2,1
primary,BACKEND,0,0,0,0,200,0,0,0,0,0,,0,0,0,0,UP,1
replicas,n2,0,0,0,0,200,0,0,0,,0,,0,0,0,0,UP 1/3,1
`

func TestParseStats(t *testing.T) {
	got, err := ParseStats(strings.NewReader(statsCSV))
	if err != nil {
		t.Fatal(err)
	}
	want := []ServerState{
		{"primary", "n1", true, "UP"},
		{"primary", "n2", false, "DOWN"},
		{"primary", "n3", false, "DOWN 1/2"},
		{"replicas", "n2", true, "UP 1/3"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d servers, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("server %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := ParseStats(strings.NewReader("# a,b\n")); err == nil || !strings.Contains(err.Error(), `lacks column "pxname"`) {
		t.Errorf("missing columns: err = %v", err)
	}
}

func FuzzParseStats(f *testing.F) {
	f.Add(statsCSV)
	f.Add("")
	f.Add("# pxname,svname,status\n\"unterminated")
	f.Fuzz(func(t *testing.T, s string) {
		states, err := ParseStats(strings.NewReader(s))
		if err != nil && states == nil {
			return
		}
		for _, st := range states {
			if st.Server == "FRONTEND" || st.Server == "BACKEND" {
				t.Fatalf("summary line reported as a server: %+v", st)
			}
		}
	})
}
