package headnode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe"
	"github.com/redswitch/redswitch/probe/analysis"
	"github.com/redswitch/redswitch/probe/synth"
)

// sinceReset is the reference: the events after the last history reset.
func sinceReset(events []journal.Event) []journal.Event {
	for i := len(events) - 1; i >= 0; i-- {
		if isReset(events[i]) {
			return events[i+1:]
		}
	}
	return events
}

func jsonOf(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func get(t *testing.T, mux *http.ServeMux, path string, out any) int {
	t.Helper()
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if out != nil && rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return rec.Code
}

// rig is a journal, an event log bounded to a few minutes and an observer
// on a simulated clock, fed by a generated booth.
type rig struct {
	booth *synth.Booth
	log   *EventLog
	ob    *Observer
	mux   *http.ServeMux
	now   time.Time
	all   []journal.Event
}

func newRig(t *testing.T, full bool) *rig {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "journal")
	j, _, err := journal.Open(dir, nil, journal.Options{SyncKinds: []journal.Kind{}, SyncInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	r := &rig{booth: synth.New(synth.Options{FailoverEvery: 20 * time.Second, StallEvery: 3 * time.Minute, DeadAt: 20 * time.Minute,
		DeadFor: 5 * time.Minute, DeadEvery: time.Hour, RestartEvery: 29 * time.Minute, LostEvery: 3, ReadbackEvery: 4})}
	r.now = r.booth.Now()
	keep := 10 * time.Minute
	if full {
		keep = -1 // the full analysis reads the history in memory
	}
	r.log = NewEventLog(j, nil, EventLogOptions{Keep: keep})
	r.ob = NewObserver(ObserverOptions{Events: r.log, Clock: func() time.Time { return r.now }, Full: full,
		ReadJournal: func() ([]journal.Event, error) { return journal.ReadDir(dir) }})
	r.mux = http.NewServeMux()
	r.ob.Mount(r.mux, nil)
	return r
}

func (r *rig) append(t *testing.T, e journal.Event) {
	t.Helper()
	e, err := r.log.Append(e)
	if err != nil {
		t.Fatal(err)
	}
	r.all = append(r.all, e)
}

// run plays the booth for d, a tick a second.
func (r *rig) run(t *testing.T, d time.Duration) {
	t.Helper()
	for end := r.now.Add(d); r.now.Before(end); {
		r.now = r.now.Add(time.Second)
		for _, e := range r.booth.Until(r.now) {
			r.append(t, e)
		}
		r.ob.Tick()
	}
}

// check compares everything the observer serves with a full analysis of
// the history since the last reset.
func (r *rig) check(t *testing.T) {
	t.Helper()
	want := analysis.Analyze(sinceReset(r.all), analysis.Options{})
	if got := r.ob.Report(); !bytes.Equal(jsonOf(t, got), jsonOf(t, want)) {
		t.Fatalf("report: %d failovers, %d outages, %d lost; full analysis %d, %d, %d",
			len(got.Failovers), len(got.Outages), len(got.Lost), len(want.Failovers), len(want.Outages), len(want.Lost))
	}
	wantAPI := Failovers(want)
	var all headnodeapi.FailoverPage
	if code := get(t, r.mux, "/api/v1/failovers", &all); code != http.StatusOK || all.Total != len(wantAPI) ||
		!bytes.Equal(jsonOf(t, all.Failovers), jsonOf(t, wantAPI)) {
		t.Fatalf("GET /api/v1/failovers: %d, %d of %d failovers, differs from the full analysis", code, len(all.Failovers), all.Total)
	}
	// Walking back page by page gives the same list.
	var paged []headnodeapi.Failover
	path := "/api/v1/failovers?limit=7"
	for pages := 0; ; pages++ {
		var p headnodeapi.FailoverPage
		if code := get(t, r.mux, path, &p); code != http.StatusOK || pages > len(wantAPI) {
			t.Fatalf("GET %s: %d after %d pages", path, code, pages)
		}
		paged = append(p.Failovers, paged...)
		if p.NextBefore == "" {
			break
		}
		path = "/api/v1/failovers?limit=7&before=" + p.NextBefore
	}
	if !bytes.Equal(jsonOf(t, paged), jsonOf(t, wantAPI)) {
		t.Fatalf("pages of 7: %d failovers, differ from the full list of %d", len(paged), len(wantAPI))
	}
	if !r.ob.o.Full {
		r.checkOutages(t)
	}
	var pj ProbeJSON
	if get(t, r.mux, "/api/v1/probe", &pj); !bytes.Equal(jsonOf(t, pj.Totals), jsonOf(t, want.Totals)) {
		t.Fatalf("GET /api/v1/probe totals %+v, want %+v", pj.Totals, want.Totals)
	}
	if got, want := r.log.Acked(), probe.AckedRanges(r.all); !slices.Equal(got, want) {
		t.Fatalf("acked ranges %v, want %v", got, want)
	}
}

// The observer, fed through the journal and a bounded event log, serves
// what a full analysis of the whole history says, across a history reset
// and a late event that forces a rebuild.
func TestObserverEqualsFullAnalysis(t *testing.T) {
	r := newRig(t, false)
	beforeReset := 0
	steps := []struct {
		name string
		do   func(t *testing.T)
	}{
		{"40 minutes with a dead port", func(t *testing.T) { r.run(t, 40*time.Minute) }},
		{"a history reset", func(t *testing.T) {
			beforeReset = len(r.ob.Report().Failovers)
			r.append(t, journal.Event{Kind: journal.KindMark, Detail: historyResetDetail, Source: "api", At: r.now})
			r.ob.Tick()
			if n := len(r.ob.Report().Failovers); n != 0 {
				t.Fatalf("%d failovers right after the reset", n)
			}
			r.run(t, 25*time.Minute)
		}},
		{"an event from long ago", func(t *testing.T) {
			r.append(t, journal.Event{Kind: journal.KindPower, Node: "n2", On: journal.Bool(false), At: r.now.Add(-20 * time.Minute)})
			r.run(t, 5*time.Second)
			if late := r.ob.AnalysisStats(); late.Events == 0 {
				t.Fatal("no analysis after the rebuild")
			}
		}},
		{"more booth", func(t *testing.T) { r.run(t, 10*time.Minute) }},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.do(t)
			r.check(t)
			st := r.ob.AnalysisStats()
			t.Logf("%d events analysed, %d settled failovers, tail %d; event log %+v", st.Events, st.SettledFailovers, st.Tail, r.log.Stats())
		})
	}
	if st := r.log.Stats(); st.Window >= st.Total/2 {
		t.Errorf("event log keeps %d of %d events: not bounded", st.Window, st.Total)
	}
	// The metrics count every failover once, before and after the reset
	// (whose IDs start again) and across the rebuild.
	rec := httptest.NewRecorder()
	r.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	counted := 0
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "redswitch_failover_duration_seconds_count") {
			var n int
			if _, err := fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &n); err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			counted += n
		}
	}
	if want := beforeReset + len(r.ob.Report().Failovers); counted != want {
		t.Errorf("metrics counted %d failovers, want %d", counted, want)
	}
}

// The observer's Full mode (the old path, kept for the soak bench's
// comparison) serves the same.
func TestObserverFullMode(t *testing.T) {
	r := newRig(t, true)
	r.run(t, 10*time.Minute)
	r.check(t)
	r.append(t, journal.Event{Kind: journal.KindMark, Detail: historyResetDetail, Source: "api", At: r.now})
	r.run(t, 3*time.Minute)
	r.check(t)
}

func TestFailoverPageQuery(t *testing.T) {
	r := newRig(t, false)
	r.run(t, 3*time.Minute) // cuts every 20 s: 8 failovers over
	tests := []struct {
		query string
		code  int
		ids   string
		next  string
	}{
		{query: "", code: 200, ids: "failover-1..failover-8"},
		{query: "?limit=3", code: 200, ids: "failover-6..failover-8", next: "failover-6"},
		{query: "?limit=3&before=failover-7", code: 200, ids: "failover-4..failover-6", next: "failover-4"},
		{query: "?limit=5&before=3", code: 200, ids: "failover-1..failover-2"},
		{query: "?limit=5&before=failover-1", code: 200, ids: ""},
		{query: "?limit=0", code: 400},
		{query: "?limit=1001", code: 400},
		{query: "?limit=x", code: 400},
		{query: "?before=failover-3", code: 400},
		{query: "?limit=2&before=failover-x", code: 400},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			var p headnodeapi.FailoverPage
			code := get(t, r.mux, "/api/v1/failovers"+tc.query, &p)
			if code != tc.code {
				t.Fatalf("status %d, want %d", code, tc.code)
			}
			if code != 200 {
				return
			}
			ids := ""
			if n := len(p.Failovers); n > 0 {
				ids = p.Failovers[0].ID + ".." + p.Failovers[n-1].ID
			}
			if ids != tc.ids || p.NextBefore != tc.next || p.Total != 8 {
				t.Errorf("page %s next %q total %d, want %s next %q total 8", ids, p.NextBefore, p.Total, tc.ids, tc.next)
			}
		})
	}
}

// The bounded event log keeps the last Keep of events, the state before
// them, and what a hold asks for.
func TestEventLogWindow(t *testing.T) {
	j, _, err := journal.Open(filepath.Join(t.TempDir(), "journal"), nil, journal.Options{SyncKinds: []journal.Kind{}, SyncInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	l := NewEventLog(j, nil, EventLogOptions{Keep: 10 * time.Minute})
	b := synth.New(synth.Options{FailoverEvery: 20 * time.Second})
	now := b.Now()
	var all []journal.Event
	play := func(d time.Duration) {
		for end := now.Add(d); now.Before(end); now = now.Add(time.Second) {
			for _, e := range b.Until(now) {
				e, err := l.Append(e)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, e)
			}
		}
	}
	play(30 * time.Minute)
	holdAt := now
	release := l.Hold(holdAt)
	play(30 * time.Minute)

	latest := func(events []journal.Event, match func(journal.Event) bool) journal.Event {
		var out journal.Event
		for _, e := range events {
			if match(e) {
				out = e
			}
		}
		return out
	}
	tests := []struct {
		name  string
		check func(ev []journal.Event) error
	}{
		{"journal order", func(ev []journal.Event) error {
			if !slices.IsSortedFunc(ev, func(a, b journal.Event) int { return int(a.Seq) - int(b.Seq) }) {
				return fmt.Errorf("events out of order")
			}
			return nil
		}},
		{"held events kept", func(ev []journal.Event) error {
			for _, e := range all {
				if !e.At.Before(holdAt) && !slices.ContainsFunc(ev, func(x journal.Event) bool { return x.Seq == e.Seq }) {
					return fmt.Errorf("event %d at %s, after the hold, is gone", e.Seq, e.At)
				}
			}
			return nil
		}},
		{"latest state carried", func(ev []journal.Event) error {
			for _, match := range []func(journal.Event) bool{
				func(e journal.Event) bool { return e.Kind == journal.KindLeader },
				func(e journal.Event) bool { return e.Kind == journal.KindRole && e.Node == "n3" },
				func(e journal.Event) bool { return e.Kind == journal.KindAgent && e.Node == "n2" },
				func(e journal.Event) bool { return e.Kind == journal.KindMark && e.Detail == analysis.ProbeStartDetail },
			} {
				if w := latest(all, match); w.Seq == 0 || latest(ev, match).Seq != w.Seq {
					return fmt.Errorf("latest %s %s: %d in memory, %d in the journal", w.Kind, w.Node, latest(ev, match).Seq, w.Seq)
				}
			}
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.check(l.Events()); err != nil {
				t.Fatal(err)
			}
		})
	}
	release()
	play(5 * time.Minute)
	ev := l.Events()
	if st := l.Stats(); st.Window > len(all)/3 || ev[st.Carried].At.Before(now.Add(-15*time.Minute)) {
		t.Errorf("released hold: %d of %d events in memory from %s, now %s", st.Window, len(all), ev[st.Carried].At, now)
	}
	// A listener from a sequence number gets the events after it first.
	var got []uint64
	last := all[len(all)-1].Seq
	l.ListenAfter(last-3, func(e journal.Event) { got = append(got, e.Seq) })
	if !slices.Equal(got, []uint64{last - 2, last - 1, last}) {
		t.Errorf("ListenAfter replayed %v", got)
	}
}
