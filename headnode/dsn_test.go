package headnode

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/redswitch/redswitch/etcdaccess"
)

func TestPublicDSN(t *testing.T) {
	tests := []struct {
		user, host string
		port       int
		want       string
	}{
		{"postgres", "127.0.0.1", 5000, "postgres://postgres@127.0.0.1:5000/postgres"},
		{"app", "::1", 5432, "postgres://app@[::1]:5432/postgres"},
		{"a b", "booth.local", 5001, "postgres://a%20b@booth.local:5001/postgres"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := publicDSN(tc.user, tc.host, tc.port); got != tc.want {
				t.Fatalf("publicDSN = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestStateDSNsWithoutPassword reads GET /api/v1/state as anyone on the
// LAN may: its DSNs name user, host and port, and no password.
func TestStateDSNsWithoutPassword(t *testing.T) {
	h, err := New(Options{Scope: "s", Etcd: etcdaccess.Access{Endpoints: []string{"127.0.0.1:1"}}, Power: &seeingPower{j: &memJournal{}},
		Journal: &memJournal{}, Members: []Member{{Name: "n1", Address: "10.0.0.1"}},
		HAProxyBind: "127.0.0.1", PrimaryPort: 5000, ReplicaPort: 5001})
	if err != nil {
		t.Fatal(err)
	}
	defer h.etcd.Close()
	rec := httptest.NewRecorder()
	h.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/state", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/state: %d %s", rec.Code, rec.Body)
	}
	var st struct {
		DSN        string `json:"dsn"`
		ReplicaDSN string `json:"replica_dsn"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dsn, port string
	}{
		{"primary", st.DSN, "5000"},
		{"replica", st.ReplicaDSN, "5001"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := url.Parse(tc.dsn)
			if err != nil {
				t.Fatalf("DSN %q: %v", tc.dsn, err)
			}
			if _, has := u.User.Password(); has || u.Query().Has("password") {
				t.Fatalf("DSN %q carries a password", tc.dsn)
			}
			if u.User.Username() != "postgres" || u.Hostname() != "127.0.0.1" || u.Port() != tc.port {
				t.Fatalf("DSN %q: want user postgres at 127.0.0.1:%s", tc.dsn, tc.port)
			}
		})
	}
	// The default password of the rig appears nowhere in the state.
	if body := rec.Body.String(); strings.Contains(body, "postgres:postgres@") {
		t.Fatalf("state carries the password: %s", body)
	}
}
