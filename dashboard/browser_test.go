package dashboard

import (
	"context"
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
)

// fakeAPI stands in for the head node's operator API: it records what it
// was asked and refuses power changes, so the page's error display shows.
type fakeAPI struct {
	mu    sync.Mutex
	calls []string
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
	t.Skip("needs chromium (apt-get install -y chromium) for the browser test")
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
	if roles != "n1=replica,n2=primary,n3=replica" {
		t.Fatalf("node roles on screen = %q", roles)
	}
	if got := eval(`document.getElementById("last-big").textContent`); got != "5.2 s · 0 commits lost" {
		t.Fatalf("last failover text = %q", got)
	}
	if got := eval(`String(document.querySelectorAll("#phases span").length) + "/" + document.querySelectorAll("#history tbody tr").length`); got != "3/1" {
		t.Fatalf("phase segments/history rows = %s, want 3/1", got)
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
	v2.Nodes[0].Role, v2.Nodes[0].State, v2.Nodes[0].Timeline = cluster.RolePrimary, "running", 3
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

	excMu.Lock()
	defer excMu.Unlock()
	if len(exceptions) > 0 {
		t.Fatalf("JavaScript exceptions: %s", strings.Join(exceptions, "; "))
	}
}
