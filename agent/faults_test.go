package agent

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
)

func TestBlockCommands(t *testing.T) {
	for _, c := range []struct {
		name  string
		peers []agentapi.Peer
		want  [][]string
	}{
		{"etcd port only", []agentapi.Peer{{Address: "10.0.0.1", Port: 2379}}, [][]string{
			{"iptables", "-w", "-N", "RS-etcd"},
			{"iptables", "-w", "-A", "RS-etcd", "-p", "tcp", "--dport", "8010", "-j", "RETURN"},
			{"iptables", "-w", "-A", "RS-etcd", "-p", "tcp", "--sport", "8010", "-j", "RETURN"},
			{"iptables", "-w", "-A", "RS-etcd", "-d", "10.0.0.1", "-p", "tcp", "--dport", "2379", "-j", "DROP"},
			{"iptables", "-w", "-A", "RS-etcd", "-s", "10.0.0.1", "-p", "tcp", "--sport", "2379", "-j", "DROP"},
			{"iptables", "-w", "-I", "INPUT", "1", "-j", "RS-etcd"},
			{"iptables", "-w", "-I", "OUTPUT", "1", "-j", "RS-etcd"},
		}},
		{"whole hosts", []agentapi.Peer{{Address: "10.0.0.12"}, {Address: "10.0.0.13"}}, [][]string{
			{"iptables", "-w", "-N", "RS-etcd"},
			{"iptables", "-w", "-A", "RS-etcd", "-p", "tcp", "--dport", "8010", "-j", "RETURN"},
			{"iptables", "-w", "-A", "RS-etcd", "-p", "tcp", "--sport", "8010", "-j", "RETURN"},
			{"iptables", "-w", "-A", "RS-etcd", "-d", "10.0.0.12", "-j", "DROP"},
			{"iptables", "-w", "-A", "RS-etcd", "-s", "10.0.0.12", "-j", "DROP"},
			{"iptables", "-w", "-A", "RS-etcd", "-d", "10.0.0.13", "-j", "DROP"},
			{"iptables", "-w", "-A", "RS-etcd", "-s", "10.0.0.13", "-j", "DROP"},
			{"iptables", "-w", "-I", "INPUT", "1", "-j", "RS-etcd"},
			{"iptables", "-w", "-I", "OUTPUT", "1", "-j", "RS-etcd"},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := blockCommands("etcd", c.peers, cluster.AgentPort); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got\n%q\nwant\n%q", got, c.want)
			}
		})
	}
	want := [][]string{
		{"iptables", "-w", "-D", "INPUT", "-j", "RS-lag"},
		{"iptables", "-w", "-D", "OUTPUT", "-j", "RS-lag"},
		{"iptables", "-w", "-F", "RS-lag"},
		{"iptables", "-w", "-X", "RS-lag"},
	}
	if got := unblockCommands("lag"); !reflect.DeepEqual(got, want) {
		t.Errorf("unblock %q", got)
	}
	// The longest valid block name still makes a legal chain name.
	if n := len(chainOf("abcdefghijklmnop")); n > 28 {
		t.Errorf("chain name %d long", n)
	}
}

func TestSQLBuilders(t *testing.T) {
	got := psqlCommand("/usr/lib/postgresql/15/bin", "/var/run/postgresql", "SELECT 1")
	if got[0] != "/usr/lib/postgresql/15/bin/psql" || got[len(got)-1] != "SELECT 1" || got[len(got)-2] != "-c" {
		t.Errorf("psql %q", got)
	}
	for _, c := range []struct {
		n    int64
		rows string
	}{{1, "generate_series(1, 1)"}, {16 << 20, "generate_series(1, 15253)"}} {
		if s := walFillSQL(c.n); !strings.Contains(s, c.rows) || !strings.Contains(s, "pg_switch_wal()") {
			t.Errorf("walFillSQL(%d) = %s", c.n, s)
		}
	}
}

func TestCorruptionDetection(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{"2024-01-01 FATAL:  incorrect checksum in control file", "incorrect checksum in control file"},
		{"WARNING:  page verification failed, calculated checksum 1 but expected 2", "page verification failed"},
		{"ERROR:  invalid page in block 0 of relation base/5/16384", "invalid page in block"},
		{"PANIC:  could not locate a valid checkpoint record", "could not locate a valid checkpoint record"},
		{"INFO: no action. I am (n2), a secondary, and following a leader (n1)", ""},
		{"LOG:  checkpoint complete", ""},
	} {
		if got := corruptionSignature(c.line); got != c.want {
			t.Errorf("%q: %q, want %q", c.line, got, c.want)
		}
	}
	good := "pg_control version number:            1300\nDatabase cluster state:               in production\n"
	crc := "WARNING: Calculated CRC checksum does not match value stored in file.\nDatabase cluster state: ???\n"
	for _, c := range []struct {
		out  string
		err  error
		want string
	}{
		{good, nil, ""},
		{crc, nil, "pg_control: calculated crc checksum does not match value stored in file"},
		{"pg_controldata: error: could not open file", errors.New("exit status 1"), "pg_control unreadable: pg_controldata: error: could not open file"},
		{"garbage", nil, "pg_control: no cluster state in pg_controldata output"},
	} {
		if got := controlDataVerdict(c.out, c.err); got != c.want {
			t.Errorf("verdict %q, want %q", got, c.want)
		}
	}
}

func TestFillSize(t *testing.T) {
	for _, c := range []struct {
		free int64
		req  agentapi.FillRequest
		want int64
		err  bool
	}{
		{100, agentapi.FillRequest{MaxBytes: 1000}, 100, false},
		{100, agentapi.FillRequest{MaxBytes: 1000, LeaveBytes: 30}, 70, false},
		{100, agentapi.FillRequest{MaxBytes: 1000, LeaveBytes: 300}, 0, false},
		{80 << 30, agentapi.FillRequest{MaxBytes: 1 << 30}, 0, true},
	} {
		got, err := fillSize(c.free, c.req)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("fillSize(%d, %+v) = %d, %v", c.free, c.req, got, err)
		}
	}
}

func TestPostmasterPID(t *testing.T) {
	dir := t.TempDir()
	if postmasterPID(dir) != 0 {
		t.Error("pid without a lock file")
	}
	os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte("4242\n/data/pg\n"), 0o600)
	if got := postmasterPID(dir); got != 4242 {
		t.Errorf("pid %d", got)
	}
	os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte("1\n"), 0o600)
	if got := postmasterPID(dir); got != 0 {
		t.Errorf("pid 1 accepted: %d", got)
	}
}

// TestAPIGuardsAndBadRequests runs the agent API without a node: the token
// is required, and bad bodies get a 4xx naming the problem before anything
// runs.
func TestAPIGuardsAndBadRequests(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	o := Options{TokenFile: tokenFile, Patroni: cluster.PatroniOptions{Name: "n1", DataDir: filepath.Join(dir, "pg")}}
	sup := newSupervisor(o, account{}, newReaper(false), slog.New(slog.DiscardHandler))
	a := newAPIServer(sup, sup.log)
	srv := httptest.NewServer(a.handler())
	defer srv.Close()
	do := func(method, path, token, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String()
	}
	// No token provisioned: nothing passes, not even the right-looking one.
	if code, _ := do("GET", agentapi.PathStatus, "secret", ""); code != 401 {
		t.Errorf("without a provisioned token: %d", code)
	}
	os.WriteFile(tokenFile, []byte("secret\n"), 0o600)
	for _, c := range []struct {
		method, path, token, body string
		status                    int
		contains                  string
	}{
		{"GET", agentapi.PathStatus, "wrong", "", 401, "token"},
		{"GET", agentapi.PathStatus, "secret", "", 200, `"node":"n1"`},
		{"PUT", agentapi.PathBlocks + "Bad-Name", "secret", `{"peers":[{"address":"10.0.0.1"}]}`, 400, "block name"},
		{"PUT", agentapi.PathBlocks + "etcd", "secret", `{"peers":[{"address":"-j ACCEPT"}]}`, 400, "peers[0].address"},
		{"POST", agentapi.PathPostgresKill, "secret", "", 409, "not running"},
		{"POST", agentapi.PathPatroniKill, "secret", `{"hold":true}`, 409, "not running"},
		{"POST", agentapi.PathPatroniKill, "secret", `{"hold":"yes"}`, 400, "patroni crash request"},
		{"PUT", agentapi.PathDiskFill, "secret", `{"max_bytes":0}`, 400, "max_bytes"},
		{"PUT", agentapi.PathDiskFill, "secret", `{"max_bytes":1}`, 409, "max_bytes"},
		{"POST", agentapi.PathWAL, "secret", `{"bytes":-1}`, 400, "bytes"},
		{"PUT", agentapi.PathPower, "secret", `{}`, 400, "on: required"},
		{"PUT", agentapi.PathPower, "wrong", `{"on":false}`, 401, "token"},
		{"POST", agentapi.PathForks, "secret", `{"name":"Bad Name"}`, 400, "fork name"},
		{"POST", agentapi.PathForks, "secret", `{"port":5440}`, 400, "name: required"},
		{"DELETE", agentapi.PathForks + "/Bad_Name", "secret", "", 400, "fork name"},
	} {
		code, out := do(c.method, c.path, c.token, c.body)
		if code != c.status || !strings.Contains(out, c.contains) {
			t.Errorf("%s %s %s: %d %s; want %d with %q", c.method, c.path, c.body, code, out, c.status, c.contains)
		}
	}
	if sup.isHeld() || sup.isSoftOff() {
		t.Error("a refused request left Patroni held")
	}
}

func TestFillFile(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "fill")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := fillFile(int(f.Fd()), 8<<20)
	if err != nil {
		// The filesystem under TMPDIR is the machine's, not something our
		// scripts install (tmpfs and ext4 can, some overlay setups
		// cannot): a skip, even in CI.
		t.Skipf("this filesystem cannot fallocate: %v", err)
	}
	st, _ := f.Stat()
	if n != 8<<20 || st.Size() != 8<<20 {
		t.Fatalf("allocated %d, file size %d, want %d", n, st.Size(), 8<<20)
	}
}
