package headnodeapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestClient(t *testing.T) {
	var gotAuth, gotBody, gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPath = r.Header.Get("Authorization"), r.Method+" "+r.URL.Path
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		switch r.URL.Path {
		case "/api/v1/state":
			json.NewEncoder(w).Encode(State{Scope: "s", Leader: "n2"})
		case "/api/v1/failovers":
			if r.URL.RawQuery != "" {
				gotPath += "?" + r.URL.RawQuery
				w.Write([]byte(`{"failovers":[{"id":"failover-5"},{"id":"failover-6"}],"total":9,"next_before":"failover-5"}`))
				return
			}
			w.Write([]byte(`{"failovers":[{"id":"failover-1","duration_s":7.1,"new_primary":"n2"}]}`))
		case "/api/v1/switches":
			w.Write([]byte(`{"switches":[{"id":1,"node":"n1","on":true,"known":true}],"virtual":true}`))
		case "/api/v1/switches/3":
			w.Write([]byte(`{"id":3,"on":false}`))
		case "/api/v1/nodes/n9/power":
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"unknown node \"n9\""}`))
		default:
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("plain text failure\n"))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c := &Client{BaseURL: srv.URL, Token: "tok"}

	t.Run("state", func(t *testing.T) {
		st, err := c.State(ctx)
		if err != nil || st.Leader != "n2" || st.Scope != "s" {
			t.Fatalf("State = %+v, %v", st, err)
		}
		if gotAuth != "Bearer tok" {
			t.Errorf("Authorization %q", gotAuth)
		}
	})
	t.Run("failovers", func(t *testing.T) {
		fo, err := c.Failovers(ctx)
		if err != nil || len(fo) != 1 || fo[0].DurationS != 7.1 || fo[0].NewPrimary != "n2" {
			t.Fatalf("Failovers = %+v, %v", fo, err)
		}
	})
	t.Run("a page of failovers", func(t *testing.T) {
		p, err := c.FailoversPage(ctx, 2, "failover-7")
		if err != nil || len(p.Failovers) != 2 || p.Total != 9 || p.NextBefore != "failover-5" {
			t.Fatalf("FailoversPage = %+v, %v", p, err)
		}
		if gotPath != "GET /api/v1/failovers?before=failover-7&limit=2" {
			t.Errorf("asked %s", gotPath)
		}
	})
	t.Run("switches", func(t *testing.T) {
		sw, err := c.Switches(ctx)
		if err != nil || len(sw) != 1 || !sw[0].On || sw[0].Node != "n1" {
			t.Fatalf("Switches = %+v, %v", sw, err)
		}
	})
	t.Run("set switch", func(t *testing.T) {
		if err := c.SetSwitch(ctx, 3, false); err != nil {
			t.Fatal(err)
		}
		if gotPath != "POST /api/v1/switches/3" || gotBody != `{"on":false}` {
			t.Errorf("sent %s %s", gotPath, gotBody)
		}
	})
	t.Run("error body", func(t *testing.T) {
		err := c.SetPower(ctx, "n9", true)
		var se *StatusError
		if !errors.As(err, &se) || se.Code != http.StatusNotFound || se.Msg != `unknown node "n9"` {
			t.Fatalf("SetPower error = %#v", err)
		}
		if gotBody != `{"on":true}` {
			t.Errorf("body %s", gotBody)
		}
	})
	t.Run("plain error", func(t *testing.T) {
		err := c.Do(ctx, http.MethodGet, "/nowhere", nil, nil)
		var se *StatusError
		if !errors.As(err, &se) || se.Code != http.StatusBadGateway || se.Msg != "plain text failure" {
			t.Fatalf("Do error = %#v", err)
		}
	})
	t.Run("no token no header", func(t *testing.T) {
		anon := &Client{BaseURL: srv.URL}
		if _, err := anon.State(ctx); err != nil {
			t.Fatal(err)
		}
		if gotAuth != "" {
			t.Errorf("Authorization %q sent without a token", gotAuth)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		dead := &Client{BaseURL: "http://127.0.0.1:1"}
		if _, err := dead.State(ctx); err == nil {
			t.Fatal("no error from a closed port")
		}
	})
}
