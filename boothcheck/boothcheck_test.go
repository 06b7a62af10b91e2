package boothcheck

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/redswitch/redswitch/booth"
)

func shipped(t *testing.T) *booth.Config {
	t.Helper()
	cfg, err := booth.Load("../deploy/booth/booth.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestPlan(t *testing.T) {
	cfg := shipped(t)
	plan, err := Plan(cfg, "192.168.50.2")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Attempt{}
	for _, a := range plan {
		got[a.Target] = a
	}
	for _, want := range []Attempt{
		{KindAPIRead, "head node API (public)", "192.168.50.2:8080", true},
		{KindAPIWrite, "head node API without token", "192.168.50.2:8080", false},
		{KindEtcd, "etcd", "192.168.50.2:2379", false},
		{KindPostgres, "HAProxy primary", "192.168.50.2:5432", false},
		{KindStats, "HAProxy stats", "192.168.50.2:7000", false},
		{KindPatroni, "n1 Patroni REST", "192.168.50.11:8008", false},
		{KindPostgres, "n2 PostgreSQL", "192.168.50.12:5432", false},
		{KindAgent, "n3 agent", "192.168.50.13:8010", false},
	} {
		if got[want.Target] != want {
			t.Errorf("attempt %q = %+v, want %+v", want.Target, got[want.Target], want)
		}
	}
	if len(plan) != 6+3*len(cfg.Nodes) {
		t.Errorf("%d attempts, want %d", len(plan), 6+3*len(cfg.Nodes))
	}
	t.Run("a listener on one address is tried there", func(t *testing.T) {
		c := *cfg
		c.Listen.EtcdClient = "192.168.50.3:2379"
		plan, err := Plan(&c, "192.168.50.2")
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range plan {
			if a.Kind == KindEtcd && a.Addr != "192.168.50.3:2379" {
				t.Errorf("etcd tried at %s, want 192.168.50.3:2379", a.Addr)
			}
		}
	})
	if _, err := Plan(cfg, ""); err == nil {
		t.Error("Plan without the head node's address: no error")
	}
}

func TestClassifyHTTP(t *testing.T) {
	for _, tt := range []struct {
		kind   Kind
		status int
		body   string
		want   Outcome
	}{
		{KindAPIRead, 200, `{"scope":"redswitch"}`, Open},
		{KindAPIWrite, 401, `{"error":"operator token required"}`, Refused},
		{KindAPIWrite, 404, `{"error":"unknown node"}`, Open},
		{KindAPIWrite, 200, `{}`, Open},
		{KindEtcd, 200, `{"header":{"cluster_id":"1"},"count":"12"}`, Open},
		{KindEtcd, 400, `{"error":"etcdserver: user name is empty","code":3}`, Refused},
		{KindEtcd, 500, `{"error":"etcdserver: invalid auth token"}`, Refused},
		{KindEtcd, 404, `404 page not found`, Unknown},
		{KindPatroni, 401, `no auth header received`, Refused},
		{KindPatroni, 400, `Incorrect value of schedule`, Open},
		{KindPatroni, 422, `Unable to parse scheduled timestamp`, Open},
		{KindPatroni, 503, ``, Unknown},
		{KindAgent, 401, `{"error":"cluster token required"}`, Refused},
		{KindAgent, 200, `{"node":"n1"}`, Open},
		{KindStats, 200, `<html>`, Open},
		{KindStats, 403, ``, Refused},
	} {
		t.Run(string(tt.kind)+"/"+http.StatusText(tt.status), func(t *testing.T) {
			if got := ClassifyHTTP(tt.kind, tt.status, tt.body); got != tt.want {
				t.Fatalf("ClassifyHTTP(%s, %d, %q) = %s, want %s", tt.kind, tt.status, tt.body, got, tt.want)
			}
		})
	}
}

func TestClassifyPostgres(t *testing.T) {
	for code, want := range map[string]Outcome{"28P01": Refused, "28000": Refused, "57P03": Unknown} {
		if got := ClassifyPostgres(code); got != want {
			t.Errorf("ClassifyPostgres(%s) = %s, want %s", code, got, want)
		}
	}
}

func TestResultOKAndTable(t *testing.T) {
	results := []Result{
		{Attempt: Attempt{Kind: KindAPIRead, Target: "api", Addr: "h:8080", Public: true}, Outcome: Open, Detail: "200"},
		{Attempt: Attempt{Kind: KindEtcd, Target: "etcd", Addr: "h:2379"}, Outcome: Refused, Detail: "user name is empty"},
		{Attempt: Attempt{Kind: KindStats, Target: "stats", Addr: "h:7000"}, Outcome: Unreachable},
	}
	table := Table(results)
	if len(Failed(results)) != 0 || !strings.Contains(table, "nothing open that should not be") {
		t.Fatalf("a safe booth judged unsafe:\n%s", table)
	}
	results = append(results,
		Result{Attempt: Attempt{Kind: KindPostgres, Target: "n1 PostgreSQL", Addr: "n1:5432"}, Outcome: Open, Detail: "logged in"},
		Result{Attempt: Attempt{Kind: KindPatroni, Target: "n1 Patroni REST", Addr: "n1:8008"}, Outcome: Unknown, Detail: "503"},
		Result{Attempt: Attempt{Kind: KindAPIRead, Target: "api down", Addr: "h:8080", Public: true}, Outcome: Unreachable})
	table = Table(results)
	bad := Failed(results)
	if len(bad) != 3 {
		t.Fatalf("Failed = %+v, want the open database, the unknown answer and the dead public API", bad)
	}
	if !strings.Contains(table, "3 of 6 attempts not as they should be: api down, n1 Patroni REST, n1 PostgreSQL") {
		t.Errorf("verdict missing:\n%s", table)
	}
	if !strings.Contains(table, "n1 PostgreSQL") || !strings.Contains(table, "NO") {
		t.Errorf("table does not mark the failures:\n%s", table)
	}
}

// TestNetHTTP runs the HTTP attempts against local servers that answer as
// an open and as a closed booth would.
func TestNetHTTP(t *testing.T) {
	open := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/restart":
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte("Incorrect value of schedule"))
		case "/v3/kv/range":
			w.Write([]byte(`{"header":{"revision":"7"},"count":"3"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer open.Close()
	// A TLS server that wants a client certificate, as a hardened etcd.
	closed := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	closed.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert}
	closed.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	closed.StartTLS()
	defer closed.Close()
	// An HTTPS server without client certificates that checks a password.
	authed := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	authed.Config.ErrorLog = log.New(io.Discard, "", 0)
	authed.StartTLS()
	defer authed.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()

	addr := func(s *httptest.Server) string { return s.Listener.Addr().String() }
	for _, tt := range []struct {
		name string
		a    Attempt
		want Outcome
	}{
		{"open patroni", Attempt{Kind: KindPatroni, Addr: addr(open)}, Open},
		{"open etcd", Attempt{Kind: KindEtcd, Addr: addr(open)}, Open},
		{"open api write", Attempt{Kind: KindAPIWrite, Addr: addr(open)}, Open},
		{"client certificate", Attempt{Kind: KindEtcd, Addr: addr(closed)}, Refused},
		{"https password", Attempt{Kind: KindPatroni, Addr: addr(authed)}, Refused},
		{"nothing there", Attempt{Kind: KindAgent, Addr: dead}, Unreachable},
		{"postgres nothing there", Attempt{Kind: KindPostgres, Addr: dead}, Unreachable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, detail := Net{}.Try(context.Background(), tt.a)
			if got != tt.want {
				t.Fatalf("Try(%+v) = %s (%s), want %s", tt.a, got, detail, tt.want)
			}
		})
	}
}

func TestMain(m *testing.M) {
	// The outsider must not go through a proxy of this machine.
	os.Unsetenv("HTTP_PROXY")
	os.Unsetenv("HTTPS_PROXY")
	os.Exit(m.Run())
}
