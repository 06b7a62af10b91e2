package headnode

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redswitch/redswitch/faults"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe/analysis"
)

// checkOutages compares the outages the observer serves, explained as
// they closed from a bounded view, with the pure explanation of the
// whole history since the last reset.
func (r *rig) checkOutages(t *testing.T) {
	t.Helper()
	var page headnodeapi.OutagePage
	if code := get(t, r.mux, "/api/v1/outages", &page); code != http.StatusOK {
		t.Fatalf("GET /api/v1/outages: %d", code)
	}
	all := analysis.ExplainOutages(sinceReset(r.all), analysis.OutageOptions{MaxLogLines: maxLogLines})
	// The newest may still wait for its evidence.
	if page.Total > len(all) || page.Total < len(all)-1 {
		t.Fatalf("%d outages served, the history has %d", page.Total, len(all))
	}
	if len(page.Outages) != min(page.Total, headnodeapi.MaxKeptOutages) {
		t.Fatalf("%d outages kept of %d", len(page.Outages), page.Total)
	}
	want := Outages(all[page.Total-len(page.Outages) : page.Total])
	for i := range want {
		if got := page.Outages[i]; !bytes.Equal(jsonOf(t, got), jsonOf(t, want[i])) {
			t.Fatalf("outage %s served:\n%s\nthe full history says:\n%s", got.ID, jsonOf(t, got), jsonOf(t, want[i]))
		}
	}
}

func TestOutagesAPI(t *testing.T) {
	r := newRig(t, false)
	r.run(t, 3*time.Minute) // cuts every 20 s: 8 outages over
	tests := []struct {
		query string
		code  int
		ids   string
		next  string
	}{
		{query: "", code: 200, ids: "outage-1..outage-8"},
		{query: "?limit=3", code: 200, ids: "outage-6..outage-8", next: "outage-6"},
		{query: "?limit=3&before=outage-7", code: 200, ids: "outage-4..outage-6", next: "outage-4"},
		{query: "?limit=5&before=3", code: 200, ids: "outage-1..outage-2"},
		{query: "?limit=5&before=outage-1", code: 200, ids: ""},
		{query: "?limit=0", code: 400},
		{query: "?limit=1001", code: 400},
		{query: "?before=outage-3", code: 400},
		{query: "?limit=2&before=failover-3", code: 400},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			var p headnodeapi.OutagePage
			code := get(t, r.mux, "/api/v1/outages"+tc.query, &p)
			if code != tc.code {
				t.Fatalf("status %d, want %d", code, tc.code)
			}
			if code != 200 {
				return
			}
			ids := ""
			if n := len(p.Outages); n > 0 {
				ids = p.Outages[0].ID + ".." + p.Outages[n-1].ID
			}
			if ids != tc.ids || p.NextBefore != tc.next || p.Total != 8 {
				t.Errorf("page %s next %q total %d, want %s next %q total 8", ids, p.NextBefore, p.Total, tc.ids, tc.next)
			}
			for _, o := range p.Outages {
				// The booth cuts power or freezes the primary.
				if (o.CauseKind != string(analysis.CausePower) && o.Cause != "fault freeze "+o.From) || !o.Failover || o.FailoverID == "" || len(o.Evidence) == 0 {
					t.Errorf("outage %+v", o)
				}
			}
		})
	}
	// Through the typed client, over HTTP.
	srv := httptest.NewServer(r.mux)
	defer srv.Close()
	c := &headnodeapi.Client{BaseURL: srv.URL, HTTP: srv.Client()}
	p, err := c.OutagesPage(context.Background(), 2, "outage-3")
	if err != nil || len(p.Outages) != 2 || p.Outages[0].ID != "outage-1" || p.NextBefore != "" {
		t.Fatalf("client page: %+v, %v", p, err)
	}
	if _, err := c.OutagesPage(context.Background(), 0, ""); err == nil {
		t.Fatal("limit 0 accepted")
	}
}

// Only the latest outages are kept, with a count of all; the oldest
// kept one is the end of the paging.
func TestOutagesBounded(t *testing.T) {
	r := newRig(t, false)
	r.run(t, 40*time.Minute)
	var p headnodeapi.OutagePage
	get(t, r.mux, "/api/v1/outages?limit=1000", &p)
	if p.Total <= headnodeapi.MaxKeptOutages || len(p.Outages) != headnodeapi.MaxKeptOutages || p.NextBefore != "" {
		t.Fatalf("total %d, %d kept, next %q", p.Total, len(p.Outages), p.NextBefore)
	}
	r.checkOutages(t)
}

// An outage's Patroni log is fetched from the agents once it closed,
// journaled, attached, and found again by a head node restarted on the
// journal.
func TestOutagePatroniLogs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	j, _, err := journal.Open(dir, nil, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	events := NewEventLog(j, nil)
	t0 := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	var mu sync.Mutex
	var asked []string
	fetched := make(chan struct{}, 8)
	logs := func(ctx context.Context, node string, from, to time.Time, max int) ([]journal.LogLine, error) {
		mu.Lock()
		asked = append(asked, node)
		mu.Unlock()
		defer func() { fetched <- struct{}{} }()
		if node == "n1" {
			return nil, errors.New("no route to host") // its power is off
		}
		if max != maxLogLines || !from.Before(t0.Add(10*time.Second)) || !to.After(t0.Add(17*time.Second)) {
			t.Errorf("window %v..%v max %d", from, to, max)
		}
		return []journal.LogLine{{At: t0.Add(15 * time.Second), Text: "INFO: promoted self to leader by acquiring session lock"}}, nil
	}
	mk := func(history []journal.Event) *Observer {
		return NewObserver(ObserverOptions{Events: events, History: history, Clock: func() time.Time { return now }, PatroniLogs: logs})
	}
	ob := mk(nil)
	add := func(e journal.Event) {
		if _, err := events.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	ack := func(node string, tl int, from, to float64, first uint64) {
		at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
		add(journal.Event{At: at(to), Kind: journal.KindProbeAck, Node: node, Timeline: tl, First: first, Last: first + 9,
			FirstAt: at(from), LastAt: at(to)})
	}
	ack("n1", 1, 9, 10, 1)
	add(journal.Event{At: t0.Add(10*time.Second + 20*time.Millisecond), Kind: journal.KindPower, Node: "n1",
		On: journal.Bool(false), Source: "switch 1"})
	ack("n2", 2, 17, 18, 11)
	now = t0.Add(19 * time.Second)
	ob.Tick()
	var p headnodeapi.OutagePage
	mux := http.NewServeMux()
	ob.Mount(mux, nil)
	if get(t, mux, "/api/v1/outages", &p); p.Total != 0 {
		t.Fatalf("explained before its evidence is in: %+v", p)
	}
	now = t0.Add(21 * time.Second)
	ob.Tick()
	for range 2 {
		select {
		case <-fetched:
		case <-time.After(5 * time.Second):
			t.Fatal("no log fetched")
		}
	}
	mu.Lock()
	if !slices.Equal(asked, []string{"n1", "n2"}) {
		t.Errorf("asked %v for logs", asked)
	}
	mu.Unlock()
	// The append of the log comes after the fetch returned.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ob.Tick()
		get(t, mux, "/api/v1/outages", &p)
		if len(p.Outages) == 1 && len(p.Outages[0].PatroniLog) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(p.Outages) != 1 || len(p.Outages[0].PatroniLog) != 1 || p.Outages[0].PatroniLog[0].Node != "n2" ||
		!strings.Contains(p.Outages[0].PatroniLog[0].Lines[0].Text, "promoted self") {
		t.Fatalf("outages: %+v", p)
	}
	before := jsonOf(t, p)

	// A restarted head node reads it all back from the journal.
	history, err := journal.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ob2 := mk(history)
	mux2 := http.NewServeMux()
	ob2.Mount(mux2, nil)
	var p2 headnodeapi.OutagePage
	get(t, mux2, "/api/v1/outages", &p2)
	if after := jsonOf(t, p2); !bytes.Equal(before, after) {
		t.Fatalf("after a restart:\n%s\nbefore:\n%s", after, before)
	}
}

// Every fault kind the fault manager injects has its cause kind: a new
// kind gets one on purpose, not by falling through.
func TestEveryFaultKindHasACause(t *testing.T) {
	want := map[faults.Kind]analysis.CauseKind{
		faults.KindPower: analysis.CausePower, faults.KindEtcdOutage: analysis.CauseEtcd,
		faults.KindPGCrash: analysis.CauseCrash, faults.KindPatroniCrash: analysis.CauseCrash,
		faults.KindFreeze: analysis.CauseFault, faults.KindPartition: analysis.CauseFault,
		faults.KindDiskFull: analysis.CauseFault, faults.KindCorrupt: analysis.CauseFault,
		faults.KindReplicaLag: analysis.CauseFault, faults.KindCPUStarve: analysis.CauseFault,
	}
	for _, inj := range faults.Kinds() {
		k := inj.Info().Kind
		w, ok := want[k]
		if !ok {
			t.Errorf("fault kind %s: no cause kind decided for it here", k)
			continue
		}
		if got := analysis.FaultCause(string(k)); got != w {
			t.Errorf("FaultCause(%s) = %s, want %s", k, got, w)
		}
	}
}

func TestPageQuery(t *testing.T) {
	for _, tc := range []struct {
		query         string
		limit, before int
		ok            bool
	}{
		{"", 0, -1, true},
		{"limit=5", 5, -1, true},
		{"limit=5&before=outage-3", 5, 2, true},
		{"limit=5&before=3", 5, 2, true},
		{"limit=5&before=outage-0", 0, 0, false},
		{"limit=5&before=failover-3", 0, 0, false},
		{"before=outage-3", 0, 0, false},
		{"limit=-1", 0, 0, false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/outages?"+tc.query, nil)
		limit, before, err := pageQuery(r, "outage-")
		if (err == nil) != tc.ok || (tc.ok && (limit != tc.limit || before != tc.before)) {
			t.Errorf("%q: %d, %d, %v", tc.query, limit, before, err)
		}
	}
}

// FuzzPageQuery: an accepted page query is bounded, and the page it
// makes lies within the list whatever its length.
func FuzzPageQuery(f *testing.F) {
	f.Add("limit=3&before=outage-7", 8)
	f.Add("limit=1000&before=99999999999999999999", 3)
	f.Add("before=outage-1", 0)
	f.Fuzz(func(t *testing.T, raw string, total int) {
		total = max(0, total%100000)
		r := httptest.NewRequest(http.MethodGet, "/api/v1/outages", nil)
		r.URL.RawQuery = raw
		limit, before, err := pageQuery(r, "outage-")
		if err != nil {
			if !errors.As(err, new(apiError)) {
				t.Fatalf("%q: an error that is not a bad request: %v", raw, err)
			}
			return
		}
		if limit < 0 || limit > MaxFailoverPage || before < -1 || (before >= 0 && limit == 0) {
			t.Fatalf("%q: limit %d before %d", raw, limit, before)
		}
		if limit == 0 {
			return
		}
		start, end := pageBounds(limit, before, total)
		if start < 0 || end > total || start > end || end-start > limit {
			t.Fatalf("%q over %d: page %d..%d", raw, total, start, end)
		}
	})
}

func TestViewOutages(t *testing.T) {
	t0 := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	ev := func(s float64, kind journal.Kind, node, detail string) analysis.EvidenceEvent {
		return analysis.EvidenceEvent{At: t0.Add(time.Duration(s * float64(time.Second))), Kind: kind, Node: node, Detail: detail}
	}
	many := make([]analysis.EvidenceEvent, 40)
	for i := range many {
		many[i] = ev(float64(i), journal.KindMark, "", "noise")
	}
	got := viewOutages([]analysis.ExplainedOutage{
		{ID: "outage-1", Start: t0, Duration: 5 * time.Second, From: "n1", To: "n2", Failover: true, Cause: "power off n1 (switch 1)",
			CauseKind: analysis.CausePower, Evidence: []analysis.EvidenceEvent{ev(0, journal.KindPower, "n1", "off")}},
		{ID: "outage-2", Start: t0, Duration: time.Second, From: "n2", To: "n2", Cause: "unknown", CauseKind: analysis.CauseUnknown,
			Evidence:   []analysis.EvidenceEvent{ev(-0.5, journal.KindHAProxy, "n2", "primary down")},
			PatroniLog: []analysis.NodeLog{{Node: "n2", Lines: []journal.LogLine{{At: t0.Add(time.Second), Text: "INFO: demoting"}}}}},
		{ID: "outage-3", Start: t0, CauseKind: analysis.CauseUnknown, Cause: "unknown", Evidence: many},
	})
	if got[0].Evidence != nil {
		t.Errorf("a known cause shows evidence: %v", got[0].Evidence)
	}
	if want := []string{"-0.50 s haproxy n2: primary down", "+1.00 s n2 log: INFO: demoting"}; !slices.Equal(got[1].Evidence, want) {
		t.Errorf("evidence %q, want %q", got[1].Evidence, want)
	}
	if n := len(got[2].Evidence); n != 24 || !strings.HasPrefix(got[2].Evidence[23], "… 17 more") {
		t.Errorf("%d evidence lines, last %q", n, got[2].Evidence[n-1])
	}
}
