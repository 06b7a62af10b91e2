package agentapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestDecodeBlockRequest(t *testing.T) {
	for _, c := range []struct {
		name, body, err string
	}{
		{"ok", `{"peers":[{"address":"10.0.0.1","port":2379},{"address":"10.0.0.2"}]}`, ""},
		{"empty", ``, "empty body"},
		{"no peers", `{"peers":[]}`, "at least one"},
		{"bad address", `{"peers":[{"address":"example.com"}]}`, "peers[0].address"},
		{"ipv6", `{"peers":[{"address":"::1"}]}`, "IPv4"},
		{"bad port", `{"peers":[{"address":"10.0.0.1","port":70000}]}`, "peers[0].port"},
		{"unknown field", `{"peers":[{"address":"10.0.0.1"}],"chain":"INPUT"}`, "chain"},
		{"trailing", `{"peers":[{"address":"10.0.0.1"}]}x`, "trailing"},
		{"stray bracket", `{"peers":[{"address":"10.0.0.1"}]}]`, "trailing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeBlockRequest(strings.NewReader(c.body))
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Errorf("error %v, want %q", err, c.err)
			}
		})
	}
}

func TestDecodeOthers(t *testing.T) {
	if r, err := DecodeFillRequest(strings.NewReader(`{"max_bytes":10,"leave_bytes":1}`)); err != nil || r.MaxBytes != 10 {
		t.Errorf("fill: %+v %v", r, err)
	}
	for _, b := range []string{`{"max_bytes":0}`, `{"max_bytes":5,"leave_bytes":-1}`, `{}`} {
		if _, err := DecodeFillRequest(strings.NewReader(b)); err == nil {
			t.Errorf("fill %s accepted", b)
		}
	}
	if r, err := DecodeWALRequest(strings.NewReader(`{"bytes":1000}`)); err != nil || r.Bytes != 1000 {
		t.Errorf("wal: %+v %v", r, err)
	}
	for _, b := range []string{`{"bytes":0}`, `{"bytes":2000000000}`} {
		if _, err := DecodeWALRequest(strings.NewReader(b)); err == nil {
			t.Errorf("wal %s accepted", b)
		}
	}
	if r, err := DecodePatroniCrashRequest(strings.NewReader(`{"hold":true}`)); err != nil || !r.Hold {
		t.Errorf("crash: %+v %v", r, err)
	}
	for name, ok := range map[string]bool{"etcd": true, "partition": true, "a_1": true, "": false, "Etcd": false,
		"1x": false, "x; rm": false, "abcdefghijklmnopq": false} {
		if (ValidBlockName(name) == nil) != ok {
			t.Errorf("ValidBlockName(%q) ok=%v", name, !ok)
		}
	}
}

func FuzzDecodeBlockRequest(f *testing.F) {
	f.Add(`{"peers":[{"address":"10.0.0.1","port":2379}]}`)
	f.Add(`{"peers":null}`)
	f.Add(`{`)
	f.Fuzz(func(t *testing.T, body string) {
		req, err := DecodeBlockRequest(strings.NewReader(body))
		if err != nil {
			return
		}
		if len(req.Peers) == 0 || len(req.Peers) > 64 {
			t.Fatalf("accepted %d peers", len(req.Peers))
		}
		for _, p := range req.Peers {
			// Addresses go into iptables argv: never an option or a name.
			if strings.HasPrefix(p.Address, "-") || p.Port < 0 || p.Port > 65535 {
				t.Fatalf("accepted peer %+v", p)
			}
		}
	})
}

func FuzzDecodeFillRequest(f *testing.F) {
	f.Add(`{"max_bytes":10}`)
	f.Add(`{"max_bytes":-1}`)
	f.Fuzz(func(t *testing.T, body string) {
		req, err := DecodeFillRequest(strings.NewReader(body))
		if err == nil && (req.MaxBytes <= 0 || req.LeaveBytes < 0) {
			t.Fatalf("accepted %+v", req)
		}
	})
}

func TestClient(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			_ = json.NewEncoder(w).Encode(Error{Error: "cluster token required"})
			return
		}
		got = append(got, r.Method+" "+r.URL.Path)
		switch r.URL.Path {
		case PathPostgresKill:
			_ = json.NewEncoder(w).Encode(KillResponse{PID: 42})
		case PathDiskFill:
			w.WriteHeader(409)
			_ = json.NewEncoder(w).Encode(Error{Error: "too big"})
		default:
			_, _ = w.Write([]byte(`{"ok":true}`))
		}
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, Token: "tok", HTTP: &http.Client{Timeout: 5 * time.Second}}
	ctx := context.Background()
	if err := c.Block(ctx, "etcd", []Peer{{Address: "10.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	if r, err := c.CrashPostgres(ctx); err != nil || r.PID != 42 {
		t.Fatalf("crash: %+v %v", r, err)
	}
	_, err := c.FillDisk(ctx, FillRequest{MaxBytes: 1})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 409 || se.Msg != "too big" {
		t.Fatalf("fill error %v", err)
	}
	bad := &Client{BaseURL: srv.URL, Token: "wrong"}
	if err := bad.Unblock(ctx, "etcd"); !errors.As(err, &se) || se.Code != 401 {
		t.Fatalf("wrong token: %v", err)
	}
	want := []string{"PUT /v1/blocks/etcd", "POST /v1/postgres/crash", "PUT /v1/disk/fill"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("requests %v, want %v", got, want)
	}
	if nc := NewClient("10.0.0.5", 8010, "t"); nc.BaseURL != "http://10.0.0.5:8010" {
		t.Errorf("NewClient base %s", nc.BaseURL)
	}
}

func TestDecodePowerRequest(t *testing.T) {
	tests := []struct {
		body    string
		on, bad bool
	}{
		{`{"on":true}`, true, false},
		{`{"on":false}`, false, false},
		{`{}`, false, true},
		{``, false, true},
		{`{"on":"off"}`, false, true},
		{`{"on":false,"node":"n1"}`, false, true},
		{`{"on":false} {}`, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			r, err := DecodePowerRequest(strings.NewReader(tc.body))
			if tc.bad {
				if err == nil {
					t.Fatalf("accepted %+v", r)
				}
				return
			}
			if err != nil || *r.On != tc.on {
				t.Fatalf("got %+v %v", r, err)
			}
		})
	}
}

func FuzzDecodePowerRequest(f *testing.F) {
	f.Add(`{"on":true}`)
	f.Add(`{"on":null}`)
	f.Fuzz(func(t *testing.T, body string) {
		req, err := DecodePowerRequest(strings.NewReader(body))
		if err == nil && req.On == nil {
			t.Fatalf("accepted a request without on: %q", body)
		}
	})
}

func TestDecodeForkRequest(t *testing.T) {
	for body, want := range map[string]string{
		`{"name":"staging","port":6001}`: "",
		`{"name":"staging"}`:             "",
		`{}`:                             "name: required",
		`{"name":"x","port":70000}`:      "port 70000",
		`{"name":"x","port":-1}`:         "port -1",
		`{"name":"x","from":"n1"}`:       "unknown field",
		`[1]`:                            "fork request",
	} {
		t.Run(body, func(t *testing.T) {
			_, err := DecodeForkRequest(strings.NewReader(body))
			if want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err %v, want %q", err, want)
			}
		})
	}
}

func FuzzDecodeForkRequest(f *testing.F) {
	f.Add(`{"name":"a","port":5440}`)
	f.Fuzz(func(t *testing.T, body string) {
		req, err := DecodeForkRequest(strings.NewReader(body))
		if err == nil && (req.Name == "" || req.Port < 0 || req.Port > 65535) {
			t.Fatalf("accepted %+v", req)
		}
	})
}

func TestForkInfoReplayedMB(t *testing.T) {
	for n, want := range map[int64]string{0: "", -1: "", 33671704: "33.7 MB", 999: "0.0 MB"} {
		if got := (ForkInfo{ReplayBytes: n}).ReplayedMB(); got != want {
			t.Errorf("ReplayedMB(%d) = %q, want %q", n, got, want)
		}
	}
}
