package demo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/redswitch/redswitch/prereq"
)

// chromiumPath finds the browser; scripts/install-deps.sh installs
// chromium, so under CI=true its absence fails the test. Under -short the
// test skips first (it needs the rig anyway).
func chromiumPath(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test on a cluster; skipped with -short")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	prereq.Missing(t, "needs chromium (apt-get install -y chromium) for the browser test")
	return ""
}

// TestBrowserDashboardOnCluster drives Debian's chromium against the demo
// cluster: the page shows three nodes and their roles; the operator flips
// the primary's switch; the page shows the node down, a new primary and the
// measured failover time. Screenshots land in $REDSWITCH_ARTIFACTS.
func TestBrowserDashboardOnCluster(t *testing.T) {
	chromium := chromiumPath(t)
	d := startRig(t, Options{Nodes: 3, Probe: true})
	wctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	h, err := d.WaitHealthy(wctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	art := t.TempDir()
	if a := os.Getenv("REDSWITCH_ARTIFACTS"); a != "" {
		art = filepath.Join(a, "dashboard-cluster")
		if err := os.MkdirAll(art, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.WindowSize(1920, 1080),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancelC := chromedp.NewContext(actx)
	defer cancelC()
	ctx, cancelT := context.WithTimeout(ctx, 4*time.Minute)
	defer cancelT()

	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return s
	}
	wait := func(what, js string, within time.Duration) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(within))); err != nil {
			t.Fatalf("waiting for %s: %v\npage: %s", what, err, eval(`document.body.innerText`))
		}
	}
	shot := func(name string, w, h int64, mobile bool) {
		t.Helper()
		var vp []chromedp.EmulateViewportOption
		if mobile {
			vp = append(vp, chromedp.EmulateScale(2), chromedp.EmulateMobile)
		}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, h, vp...), chromedp.Sleep(700*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(art, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s", p)
	}

	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(d.URL+"/")); err != nil {
		t.Fatal(err)
	}
	wait("three node cards", `document.querySelectorAll("#nodes .node").length === 3`, 20*time.Second)
	wait("the primary's role", `document.querySelector('.node[data-name="`+h.Leader+`"] .role').textContent === "primary"`, 20*time.Second)
	roles := eval(`[...document.querySelectorAll("#nodes .node")].map(n => n.dataset.name + "=" + n.querySelector(".role").textContent).join(",")`)
	if strings.Count(roles, "=primary") != 1 || strings.Count(roles, "=replica") != 2 {
		t.Fatalf("roles on screen = %q, want one primary and two replicas", roles)
	}
	shot("cluster-1920x1080.png", 1920, 1080, false)

	// The operator unlocks the console and flips the primary's switch.
	if err := chromedp.Do(ctx, chromedp.Click("#op-toggle"), chromedp.SendKeys("#token", d.Token+"\r")); err != nil {
		t.Fatal(err)
	}
	wait("operator mode", `document.body.classList.contains("operator")`, 10*time.Second)
	idx, err := strconv.Atoi(strings.TrimPrefix(h.Leader, "n"))
	if err != nil {
		t.Fatal(err)
	}
	// Clicked from the page's own script: the cards are re-rendered on
	// every state message, and a node found by one DevTools call may be
	// gone by the next (seen: "Could not find node with given id").
	sel := `.node-col:nth-child(` + strconv.Itoa(idx) + `) .switch`
	wait("the primary's switch clicked", `(() => { const b = document.querySelector("`+sel+`"); if (!b) return false; b.click(); return true; })()`, 10*time.Second)
	wait("the old primary down", `document.querySelector('.node[data-name="`+h.Leader+`"] .role').textContent === "down"`, 20*time.Second)
	wait("a new primary", `[...document.querySelectorAll("#nodes .node")].some(n => n.dataset.name !== "`+h.Leader+`" && n.querySelector(".role").textContent === "primary")`, 60*time.Second)
	wait("the measured failover time", `/\d+(\.\d)? s · \d+ commits? lost/.test(document.getElementById("last-big").textContent)`, 60*time.Second)
	t.Logf("screen says: %s", eval(`document.getElementById("last-big").textContent`))
	shot("cluster-failover-1920x1080.png", 1920, 1080, false)
	shot("cluster-failover-390x844.png", 390, 844, true)
	if st := d.Head.State(); st.Leader == h.Leader || st.Leader == "" {
		t.Errorf("head node's leader after the switch = %q", st.Leader)
	}
}
