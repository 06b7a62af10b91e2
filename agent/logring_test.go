package agent

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
)

func TestLogRing(t *testing.T) {
	t0 := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	r := newLogRing(10)
	for i := range 15 {
		r.add(at(i), "line "+strconv.Itoa(i))
	}
	texts := func(ls []agentapi.LogLine) string {
		var s []string
		for _, l := range ls {
			s = append(s, strings.TrimPrefix(l.Text, "line "))
		}
		return strings.Join(s, ",")
	}
	tests := []struct {
		name     string
		q        agentapi.LogQuery
		want     string
		omitted  int
		complete bool
	}{
		{"all kept, oldest first", agentapi.LogQuery{}, "5,6,7,8,9,10,11,12,13,14", 0, false},
		{"a window", agentapi.LogQuery{Since: at(7), Until: at(9)}, "7,8,9", 0, true},
		{"a window reaching back past the ring", agentapi.LogQuery{Since: at(2), Until: at(6)}, "5,6", 0, false},
		{"first and last when too many", agentapi.LogQuery{Since: at(5), Max: 5}, "5,6,7,13,14", 5, true},
		{"nothing in the window", agentapi.LogQuery{Since: at(20)}, "", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, omitted, complete := r.window(tc.q)
			if texts(got) != tc.want || omitted != tc.omitted || complete != tc.complete {
				t.Errorf("window = %q omitted %d complete %v; want %q %d %v", texts(got), omitted, complete, tc.want, tc.omitted, tc.complete)
			}
		})
	}
	r.add(at(20), strings.Repeat("x", 2000))
	if got, _, _ := r.window(agentapi.LogQuery{Since: at(20)}); len(got) != 1 || len(got[0].Text) > logLineBytes+len("…") {
		t.Errorf("a long line is kept whole: %d bytes", len(got[0].Text))
	}
}

// TestPatroniLogAPI serves the ring through the agent's API and reads it
// with the typed client: behind the token, windowed and bounded.
func TestPatroniLogAPI(t *testing.T) {
	o := Options{Token: "secret", Patroni: cluster.PatroniOptions{Name: "n2"}}
	sup := newSupervisor(o, account{}, newReaper(false), slog.New(slog.DiscardHandler))
	now := time.Now()
	for i := range 10 {
		sup.logs.add(now.Add(time.Duration(i)*time.Second), "INFO: no action. I am (n2), the leader with the lock "+strconv.Itoa(i))
	}
	srv := httptest.NewServer(newAPIServer(sup, sup.log).handler())
	defer srv.Close()
	c := &agentapi.Client{BaseURL: srv.URL, Token: "secret", HTTP: srv.Client()}
	got, err := c.PatroniLog(context.Background(), agentapi.LogQuery{Since: now.Add(2 * time.Second), Until: now.Add(8 * time.Second), Max: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got.Node != "n2" || len(got.Lines) != 4 || got.Omitted != 3 || !got.Complete || !strings.HasSuffix(got.Lines[0].Text, " 2") {
		t.Fatalf("answer: %+v", got)
	}
	c.Token = "wrong"
	var se *agentapi.StatusError
	if _, err := c.PatroniLog(context.Background(), agentapi.LogQuery{}); !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
		t.Fatalf("without the token: %v", err)
	}
	c.Token = "secret"
	resp, err := srv.Client().Do(func() *http.Request {
		r, _ := http.NewRequest("GET", srv.URL+agentapi.PathPatroniLog+"?max=9999", nil)
		r.Header.Set("Authorization", "Bearer secret")
		return r
	}())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("max=9999: %d", resp.StatusCode)
	}
}
