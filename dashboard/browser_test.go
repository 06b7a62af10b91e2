package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/prereq"
)

// fakeAPI stands in for the head node's operator API: it records what it
// was asked and refuses power changes, so the page's error display shows.
// It also serves the scenario-run API (a run of primary-power-cut passes
// after two polls, one of negative-control runs until cancelled) and the
// fork API (a fork named "bad" is refused), with the contracts'
// JSON shapes.
type fakeAPI struct {
	mu    sync.Mutex
	calls []string
	runs  []*fakeRun
	forks []map[string]any
}

type fakeRun struct {
	id, name  string
	polls     int
	cancelled bool
}

// json is the run as GET /api/v1/scenarios/runs/{id} answers; a poll
// moves it on.
func (r *fakeRun) json(poll bool) map[string]any {
	if poll {
		r.polls++
	}
	started := time.Now().Add(-time.Duration(r.polls+1) * time.Second)
	out := map[string]any{"id": r.id, "name": r.name, "state": "running", "started_at": started,
		"progress": []map[string]any{
			{"at": started, "text": "starting a cluster (head node at http://127.0.0.1:8080)"},
			{"at": started.Add(500 * time.Millisecond), "text": "line 14: wait streaming"},
		}}
	switch {
	case r.cancelled:
		out["state"], out["cancelled"], out["ended_at"] = "error", true, time.Now()
		out["error"] = "interrupted before line 15: context canceled"
		out["result"] = map[string]any{"name": r.name, "passed": false, "duration_seconds": 3.5, "error": out["error"],
			"steps": []map[string]any{{"line": 14, "text": "wait streaming", "ok": true}}}
	case r.name == "primary-power-cut" && r.polls >= 2:
		out["state"], out["ended_at"] = "passed", time.Now()
		out["result"] = map[string]any{"name": r.name, "passed": true, "duration_seconds": 41.2,
			"steps": []map[string]any{{"line": 14, "text": "wait streaming", "ok": true},
				{"line": 15, "text": "power off primary", "ok": true, "detail": "power off n2"},
				{"line": 16, "text": "expect failover within 10s, lost_commits <= 0", "ok": true, "detail": "failover took 5.3s"}},
			"measurements": map[string]any{"failover_s": 5.312, "lost_commits": 0}}
	}
	return out
}

// scenarios serves the scenario-run and fork APIs; false when the path
// is neither.
func (f *fakeAPI) scenarios(w http.ResponseWriter, r *http.Request, body []byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	reply := func(code int, v any) {
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	find := func(id string) *fakeRun {
		for _, run := range f.runs {
			if run.id == id {
				return run
			}
		}
		return nil
	}
	id, isRun := strings.CutPrefix(r.URL.Path, "/api/v1/scenarios/runs/")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/scenarios":
		reply(http.StatusOK, []map[string]any{
			{"name": "primary-power-cut", "description": "Cut the primary's power.", "nodes": 3, "steps": 6, "runnable": true},
			{"name": "cold-start", "description": "Cut every node at once.", "nodes": 3, "steps": 7, "runnable": false,
				"unmet": []string{"needs synchronous_mode: true; this cluster runs with false"}},
			{"name": "negative-control", "description": "Do nothing.", "nodes": 3, "steps": 3, "runnable": true},
		})
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/scenarios/run":
		var req struct{ Name string }
		_ = json.Unmarshal(body, &req)
		for _, run := range f.runs {
			if run.json(false)["state"] == "running" {
				reply(http.StatusConflict, map[string]any{"error": "a scenario is already running: " + run.name, "run": run.json(false)})
				return true
			}
		}
		run := &fakeRun{id: fmt.Sprintf("run-%d", len(f.runs)+1), name: req.Name}
		f.runs = append(f.runs, run)
		reply(http.StatusAccepted, run.json(false))
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/scenarios/runs":
		out := []map[string]any{}
		for i := len(f.runs) - 1; i >= 0; i-- {
			out = append(out, f.runs[i].json(false))
		}
		reply(http.StatusOK, out)
	case isRun && find(id) == nil:
		reply(http.StatusNotFound, map[string]any{"error": "unknown run " + id})
	case isRun && r.Method == http.MethodGet:
		reply(http.StatusOK, find(id).json(true))
	case isRun && r.Method == http.MethodDelete:
		run := find(id)
		out := run.json(false)
		run.cancelled = true
		out["cancelled"] = true
		reply(http.StatusAccepted, out)
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/forks":
		reply(http.StatusOK, append([]map[string]any{}, f.forks...))
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/forks":
		var req struct{ From, Name string }
		_ = json.Unmarshal(body, &req)
		if req.Name == "bad" {
			reply(http.StatusConflict, map[string]any{"error": "fork bad: n2 has no room for a snapshot"})
			return true
		}
		from := req.From
		if from == "" {
			from = "n1"
		}
		fk := map[string]any{"name": req.Name, "node": from, "port": 6001 + len(f.forks),
			"dsn":    fmt.Sprintf("postgres://postgres:postgres@127.0.0.1:%d/postgres", 6001+len(f.forks)),
			"method": "btrfs-snapshot", "timeline": 3, "to_writable_s": 0.84}
		f.forks = append(f.forks, fk)
		reply(http.StatusCreated, fk)
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/api/v1/forks/"):
		name := strings.TrimPrefix(r.URL.Path, "/api/v1/forks/")
		for i, fk := range f.forks {
			if fk["name"] == name {
				f.forks = append(f.forks[:i], f.forks[i+1:]...)
				reply(http.StatusOK, fk)
				return true
			}
		}
		reply(http.StatusNotFound, map[string]any{"error": "no fork " + name})
	default:
		return false
	}
	return true
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
	call := r.Method + " " + r.URL.Path + " " + r.Header.Get("Authorization")
	if len(body) > 0 {
		call += " " + string(body)
	}
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bearer s3cret" {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"operator token required"}`))
		return
	}
	if f.scenarios(w, r, body) {
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/faults":
		_, _ = w.Write([]byte(`[{"id":"f7","kind":"freeze","target":"n3"}]`))
	case strings.HasSuffix(r.URL.Path, "/power"):
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(`{"error":"relay 1 does not answer"}`))
	default:
		_, _ = w.Write([]byte(`{}`))
	}
}

func (f *fakeAPI) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func artifactsDir(t *testing.T) string {
	if d := os.Getenv("REDSWITCH_ARTIFACTS"); d != "" {
		d = filepath.Join(d, "dashboard")
		must(t, os.MkdirAll(d, 0o755))
		return d
	}
	return t.TempDir()
}

func findChromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	// scripts/install-deps.sh installs chromium: missing under CI=true,
	// it fails the test.
	prereq.Missing(t, "needs chromium (apt-get install -y chromium) for the browser test")
	return ""
}

func TestBrowserDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chromium := findChromium(t)
	art := artifactsDir(t)

	hub := NewHub(HubOptions{})
	now := time.Now()
	v := sampleView(now)
	must(t, hub.SetView(v))
	// A minute of commits with one outage, as the strip shows it.
	for i := 240; i >= 0; i-- {
		at := now.Add(-time.Duration(i) * 250 * time.Millisecond)
		rate := 95 + float64(i%7)
		if i > 150 && i < 172 {
			rate = 0
		}
		must(t, hub.Publish(RateMessage(RateSample{T: at, Rate: rate})))
	}
	for _, l := range []string{"power cut on n1 (switch 1)", "leader key expired", "n2 promoted on timeline 2", "n1 rejoined after pg_rewind"} {
		must(t, hub.Publish(LineMessage(Line{At: now, Text: l, Kind: LineInfo})))
	}

	api := &fakeAPI{}
	mux := http.NewServeMux()
	mux.Handle("/ws", Handler(hub, HandlerOptions{}))
	mux.Handle("/api/", api)
	mux.Handle("/", Static())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.WindowSize(1920, 1080),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	var excMu sync.Mutex
	var exceptions []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok && e.ExceptionDetails != nil {
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			excMu.Lock()
			exceptions = append(exceptions, msg)
			excMu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}

	shot := func(name string, w, h int64, mobile bool) {
		t.Helper()
		vp := []chromedp.EmulateViewportOption{}
		if mobile {
			vp = append(vp, chromedp.EmulateScale(2), chromedp.EmulateMobile)
		}
		must(t, chromedp.Do(ctx, chromedp.EmulateViewport(w, h, vp...), chromedp.Sleep(600*time.Millisecond)))
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		must(t, err)
		p := filepath.Join(art, name)
		must(t, os.WriteFile(p, png, 0o644))
		t.Logf("screenshot %s", p)
	}
	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return s
	}
	wait := func(what, js string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("waiting for %s: %v\nbody: %s", what, err, eval(`document.body.innerText`))
		}
	}

	must(t, chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(srv.URL+"/")))
	wait("three node cards", `document.querySelectorAll("#nodes .node").length === 3`)
	wait("the failover time", `document.getElementById("last-big").textContent.includes("5.2 s")`)

	roles := eval(`[...document.querySelectorAll("#nodes .node")].map(n => n.dataset.name + "=" + n.querySelector(".role").textContent).join(",")`)
	if roles != "n1=replica (sync),n2=primary,n3=replica" { // n1 is the synchronous standby
		t.Fatalf("node roles on screen = %q", roles)
	}
	if got := eval(`document.getElementById("last-big").textContent`); got != "5.2 s · 0 commits lost" {
		t.Fatalf("last failover text = %q", got)
	}
	if got := eval(`String(document.querySelectorAll("#phases span").length) + "/" + document.querySelectorAll("#history tbody tr").length`); got != "3/1" {
		t.Fatalf("phase segments/history rows = %s, want 3/1", got)
	}
	// Patroni's role publication is told apart, after the first commit.
	if got := eval(`document.getElementById("phase-note").textContent`); got != "writable → first commit (the rig's own share): 20 ms · Patroni published the role +1.2 s after the first commit" {
		t.Fatalf("phase note = %q", got)
	}
	// Each outage shows its cause; the unknown one its evidence.
	if got := eval(`[...document.querySelectorAll("#outages tbody tr")].map(r => r.dataset.cause + ":" + r.querySelectorAll(".evidence li").length).join(",")`); got != "unknown:2,power:0" {
		t.Fatalf("outage rows (newest first) = %q", got)
	}
	if got := eval(`document.querySelector("#outages tbody tr .evidence li").textContent`); got != "+0.31 s haproxy n2: primary down" {
		t.Fatalf("first evidence line = %q", got)
	}
	if got := eval(`document.getElementById("log").textContent`); !strings.Contains(got, "n1 rejoined after pg_rewind") {
		t.Fatalf("event log = %q", got)
	}
	if got := eval(`document.getElementById("conn-text").textContent`); got != "live" {
		t.Fatalf("connection state = %q", got)
	}
	// Nobody unlocked the operator view: no power button is shown.
	if got := eval(`String(document.querySelector(".power-btn").offsetParent === null)`); got != "true" {
		t.Fatal("power button visible without the operator token")
	}
	shot("desktop-1920x1080.png", 1920, 1080, false)

	// n2 loses its power: n1 takes over; the second failover lost a commit.
	v2 := sampleView(now)
	v2.Cluster.Leader = "n1"
	v2.Nodes[0].Role, v2.Nodes[0].State, v2.Nodes[0].Timeline, v2.Nodes[0].Sync = cluster.RolePrimary, "running", 3, false
	v2.Nodes[1] = Node{Name: "n2", Power: "off", Role: cluster.RoleDown, Switch: &Switch{ID: 2, On: false}}
	v2.Nodes[2].Timeline = 3
	v2.Probe.OutageInProgress, v2.Probe.OutageSince = true, time.Now().Add(-3*time.Second)
	v2.Failovers = append(v2.Failovers, Failover{ID: "f2", StartedAt: now.Add(-10 * time.Second), DurationS: 4.8,
		LostCommits: 1, OldPrimary: "n2", NewPrimary: "n1", Cause: "power cut on n2 (switch 2)",
		Phases: []Phase{{"lease expiry", 4.3}, {"promotion", 4.5}, {"routing", 4.8}}})
	must(t, hub.SetView(v2))
	must(t, hub.PublishEvent(ev(journal.KindLeader, nil)))
	wait("n2 shown down", `document.querySelector('.node[data-name="n2"] .role').textContent === "down"`)
	wait("n1 shown primary", `document.querySelector('.node[data-name="n1"] .role').textContent === "primary"`)
	if got := eval(`document.getElementById("last-big").textContent`); got != "4.8 s · 1 commit lost" {
		t.Fatalf("last failover after update = %q", got)
	}
	if got := eval(`document.querySelector('.node-col:nth-child(2) .switch').dataset.on + "/" + document.querySelector('.node[data-name="n2"] .power').textContent`); got != "false/power off" {
		t.Fatalf("n2 switch/power = %q", got)
	}
	wait("the outage counting up", `/writes failing · [3-9]\.\d s/.test(document.getElementById("outage").textContent)`)
	wait("the new log line", `document.querySelector("#log li").textContent.includes("leader key expired")`)
	shot("desktop-1920x1080-failover.png", 1920, 1080, false)
	shot("phone-390x844.png", 390, 844, true)

	// A failed journal records nothing more: the banner says so until the
	// error is gone (a restart).
	v3 := v2
	v3.JournalError = "journal failed: sync /data/journal/000003.jsonl: input/output error"
	must(t, hub.SetView(v3))
	wait("the journal banner", `!document.getElementById("journal-error").hidden && document.getElementById("journal-error").textContent.includes("input/output error")`)
	shot("desktop-1920x1080-journal-failed.png", 1920, 1080, false)
	must(t, hub.SetView(v2))
	wait("the banner gone", `document.getElementById("journal-error").hidden`)

	// The third day of a booth: the view carries the latest 20 failovers
	// and the summary of all 57; the page counts, draws and quotes them all.
	v4 := v2
	v4.Failovers = nil
	for i := range ShownFailovers {
		v4.Failovers = append(v4.Failovers, Failover{ID: fmt.Sprintf("failover-%d", 38+i), StartedAt: now.Add(time.Duration(i-20) * 2 * time.Minute),
			DurationS: 5 + float64(i%3)/10, OldPrimary: "n1", NewPrimary: "n2", Cause: "power off n1 (switch)",
			Phases: []Phase{{"leader_expired", 4.4}, {"first_commit", 5}}})
	}
	v4.Summary = FailoverSummary{Count: 57, WithLoss: 2, LostCommits: 3, MinS: 4.8, MeanS: 5.3, P50S: 5.1, P90S: 6.2, P99S: 9.4, MaxS: 31.5,
		Buckets: []Bucket{{S: 4, N: 9}, {S: 5, N: 40, Lost: 1}, {S: 6, N: 5}, {S: 9, N: 2, Lost: 1}, {S: 31, N: 1}}}
	must(t, hub.SetView(v4))
	wait("the count of all failovers", `document.getElementById("fo-count").textContent === "(57)"`)
	if got := eval(`document.querySelectorAll("#history tbody tr").length + "|" + document.querySelector("#history tbody td").textContent + "|" + document.getElementById("history-note").textContent`); got !=
		"20|57|the latest 20 of 57; the histogram and figures count them all" {
		t.Fatalf("history rows|first number|note = %q", got)
	}
	if got := eval(`document.getElementById("hist-stats").textContent`); got != "median 5.1 s · p90 6.2 s · p99 9.4 s · longest 31.5 s · 3 commits lost in 2 failovers" {
		t.Fatalf("histogram figures = %q", got)
	}
	shot("desktop-1920x1080-day3.png", 1920, 1080, false)
	must(t, hub.SetView(v2))
	wait("two failovers again", `document.getElementById("fo-count").textContent === "(2)" && document.getElementById("history-note").hidden`)

	// Operator: a wrong token is refused, the right one unlocks the power
	// buttons, and the API's error reaches the screen.
	must(t, chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080), chromedp.Click("#op-toggle"),
		chromedp.SendKeys("#token", "wrong"), chromedp.Click(`#token-form button[type="submit"]`)))
	wait("the refusal", `document.getElementById("op-status").textContent.includes("token refused")`)
	if got := eval(`String(document.body.classList.contains("operator"))`); got != "false" {
		t.Fatal("a wrong token unlocked the operator view")
	}
	must(t, chromedp.Do(ctx, chromedp.SendKeys("#token", "s3cret\r")))
	wait("operator mode", `document.body.classList.contains("operator")`)
	wait("the active fault", `document.getElementById("faults").textContent.includes("freeze on n3")`)
	if got := eval(`sessionStorage.getItem("redswitch.operatorToken")`); got != "s3cret" {
		t.Fatalf("sessionStorage token = %q", got)
	}
	shot("desktop-1920x1080-operator.png", 1920, 1080, false)
	must(t, chromedp.Do(ctx, chromedp.Click("#op-close"), chromedp.Click(`.node[data-name="n1"] .power-btn`)))
	wait("the API error", `document.getElementById("toast").textContent.includes("relay 1 does not answer")`)
	if got := eval(`document.getElementById("toast").textContent`); !strings.Contains(got, "409") {
		t.Fatalf("toast = %q, want the status too", got)
	}
	must(t, chromedp.Do(ctx, chromedp.Click(`.node-col:nth-child(2) .switch`)))
	waitFor(t, func() bool {
		for _, c := range api.seen() {
			if c == `POST /api/v1/switches/2 Bearer s3cret {"on":true}` {
				return true
			}
		}
		return false
	})
	calls := strings.Join(api.seen(), "\n")
	if !strings.Contains(calls, `POST /api/v1/nodes/n1/power Bearer s3cret {"on":false}`) {
		t.Fatalf("API calls:\n%s", calls)
	}

	// Run a scenario from the menu: the unrunnable one is marked, the run
	// is polled live, and its verdict and numbers show when it is done.
	must(t, chromedp.Do(ctx, chromedp.Click("#op-toggle")))
	wait("the scenario menu", `document.querySelectorAll("#scenario-name option").length === 3`)
	if got := eval(`[...document.querySelectorAll("#scenario-name option")].map(o => o.textContent).join("|")`); got !=
		"primary-power-cut|cold-start (not on this cluster)|negative-control" {
		t.Fatalf("scenario menu = %q", got)
	}
	must(t, chromedp.Do(ctx, chromedp.SetValue("#scenario-name", "cold-start"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("scenario-name").dispatchEvent(new Event("change"))`)))
	wait("the unmet needs", `document.getElementById("scenario-desc").textContent.includes("needs synchronous_mode: true")`)
	if got := eval(`String(document.getElementById("scenario-run").disabled)`); got != "true" {
		t.Fatal("Run is enabled for a scenario this cluster cannot run")
	}
	must(t, chromedp.Do(ctx, chromedp.SetValue("#scenario-name", "primary-power-cut"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("scenario-name").dispatchEvent(new Event("change"))`),
		chromedp.Click("#scenario-run")))
	wait("the run shown running", `document.getElementById("run-state").textContent === "running"`)
	wait("its progress", `document.getElementById("run-progress").textContent.includes("line 14: wait streaming")`)
	wait("the verdict", `document.getElementById("run-state").textContent === "passed"`)
	if got := eval(`document.getElementById("run-result").textContent`); !strings.Contains(got, "PASSED in 41.2 s") ||
		!strings.Contains(got, "failover_s5.312") || !strings.Contains(got, "failover took 5.3s") {
		t.Fatalf("run result = %q", got)
	}
	if got := eval(`String(document.getElementById("scenario-cancel").hidden)`); got != "true" {
		t.Fatal("Cancel offered for a finished run")
	}
	shot("desktop-1920x1080-scenario.png", 1920, 1080, false)

	// A run that does not end by itself is cancelled from the page.
	must(t, chromedp.Do(ctx, chromedp.SetValue("#scenario-name", "negative-control"), chromedp.Click("#scenario-run")))
	wait("the second run", `document.getElementById("run-name").textContent === "negative-control" && !document.getElementById("scenario-cancel").hidden`)
	must(t, chromedp.Do(ctx, chromedp.Click("#scenario-cancel")))
	wait("the cancelled run", `document.getElementById("run-state").textContent === "cancelled"`)
	if got := eval(`document.getElementById("run-result").textContent`); !strings.Contains(got, "CANCELLED") || !strings.Contains(got, "context canceled") {
		t.Fatalf("cancelled run result = %q", got)
	}

	// Fork a node: "a replica" by default, the answer shown, the fork
	// listed and destroyed; a refusal shows the API's message.
	if got := eval(`[...document.querySelectorAll("#fork-from option")].map(o => o.value + "=" + o.textContent).join(",")`); got !=
		"=a replica,n1=n1,n2=n2,n3=n3" {
		t.Fatalf("fork sources = %q", got)
	}
	must(t, chromedp.Do(ctx, chromedp.SendKeys("#fork-name", "staging1"), chromedp.Click("#fork-create")))
	wait("the fork's answer", `document.getElementById("fork-answer").textContent.includes("postgres://postgres:postgres@127.0.0.1:6001/postgres")`)
	if got := eval(`document.getElementById("fork-answer").textContent`); !strings.Contains(got, "btrfs-snapshot") || !strings.Contains(got, "0.8 s") {
		t.Fatalf("fork answer = %q", got)
	}
	wait("the fork listed", `document.querySelector('#forks li[data-name="staging1"] button') !== null`)
	shot("phone-390x844-operator.png", 390, 844, true)
	must(t, chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080), chromedp.SetValue("#fork-from", "n2"),
		chromedp.SendKeys("#fork-name", "bad"), chromedp.Click("#fork-create")))
	wait("the fork refusal", `document.getElementById("toast").textContent.includes("n2 has no room for a snapshot")`)
	must(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.Click(`#forks li[data-name="staging1"] button`)))
	wait("the fork destroyed", `document.getElementById("forks").textContent === "no forks"`)
	calls = strings.Join(api.seen(), "\n")
	for _, want := range []string{
		`POST /api/v1/scenarios/run Bearer s3cret {"name":"primary-power-cut"}`,
		`DELETE /api/v1/scenarios/runs/run-2 Bearer s3cret`,
		`POST /api/v1/forks Bearer s3cret {"name":"staging1"}`,
		`POST /api/v1/forks Bearer s3cret {"from":"n2","name":"bad"}`,
		`DELETE /api/v1/forks/staging1 Bearer s3cret`,
	} {
		if !strings.Contains(calls, want) {
			t.Errorf("no %s in the API calls:\n%s", want, calls)
		}
	}

	excMu.Lock()
	defer excMu.Unlock()
	if len(exceptions) > 0 {
		t.Fatalf("JavaScript exceptions: %s", strings.Join(exceptions, "; "))
	}
}
