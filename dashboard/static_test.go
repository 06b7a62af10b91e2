package dashboard

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestStatic(t *testing.T) {
	srv := httptest.NewServer(Static())
	defer srv.Close()
	tests := []struct {
		path, ctype, contains string
	}{
		{"/", "text/html", `<div class="nodes" id="nodes">`},
		{"/app.js", "javascript", `new WebSocket(`},
		{"/style.css", "text/css", `.node[data-role="primary"]`},
	}
	external := regexp.MustCompile(`(?i)(src|href)=["']?(https?:)?//|@import|https?://[a-z]`)
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tt.path)
			must(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			must(t, err)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, tt.ctype) {
				t.Fatalf("Content-Type %q, want %q", ct, tt.ctype)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
				t.Fatalf("CSP %q", csp)
			}
			if !strings.Contains(string(body), tt.contains) {
				t.Fatalf("body lacks %q", tt.contains)
			}
			// No CDN, no third-party code: the booth may be offline.
			if m := external.FindString(string(body)); m != "" {
				t.Fatalf("external reference %q", m)
			}
		})
	}
	resp, err := http.Get(srv.URL + "/missing.js")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("missing file: status %d", resp.StatusCode)
	}
}

// staticFile reads one embedded file of the page.
func staticFile(t *testing.T, name string) string {
	t.Helper()
	b, err := staticFiles.ReadFile("static/" + name)
	must(t, err)
	return string(b)
}

// TestStaticOperatorControls checks the operator view has its controls:
// a scenario menu with run, cancel and live status, and a fork form with
// the list of forks, wired to the token-protected API.
func TestStaticOperatorControls(t *testing.T) {
	html := staticFile(t, "index.html")
	js := staticFile(t, "app.js")
	tests := []struct {
		name, file, want string
	}{
		{"scenario menu", html, `<select id="scenario-name"`},
		{"run button", html, `id="scenario-run"`},
		{"cancel button", html, `id="scenario-cancel"`},
		{"run status", html, `id="scenario-status"`},
		{"run progress", html, `id="run-progress"`},
		{"run result", html, `id="run-result"`},
		{"fork source", html, `<select id="fork-from"`},
		{"fork source defaults to a replica", html, `<option value="">a replica</option>`},
		{"fork name", html, `id="fork-name"`},
		{"fork create", html, `id="fork-create"`},
		{"fork answer", html, `id="fork-answer"`},
		{"fork list", html, `id="forks"`},
		{"lists scenarios", js, `api("GET", "/api/v1/scenarios")`},
		{"runs a scenario", js, `api("POST", "/api/v1/scenarios/run", { name })`},
		{"polls the run", js, "api(\"GET\", `/api/v1/scenarios/runs/${encodeURIComponent(id)}`)"},
		{"cancels the run", js, "act(\"DELETE\", `/api/v1/scenarios/runs/${encodeURIComponent(scen.runId)}`"},
		{"creates a fork", js, `act("POST", "/api/v1/forks", body`},
		{"lists forks", js, `api("GET", "/api/v1/forks")`},
		{"destroys a fork", js, "act(\"DELETE\", `/api/v1/forks/${encodeURIComponent(f.name)}`"},
		{"sends the token", js, "Authorization: `Bearer ${state.token}`"},
		{"journal failure banner", html, `<p class="warning alarm" id="journal-error" role="alert" hidden>`},
		{"shows the journal failure", js, `renderJournal(v.journal_error || "")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(tt.file, tt.want) {
				t.Errorf("missing %s", tt.want)
			}
		})
	}
	// Actions go through the HTTP API only: the websocket is read-only.
	if strings.Contains(js, ".send(") {
		t.Error("app.js sends on the websocket")
	}
}

// TestStaticIDs checks every element app.js looks up by id exists in
// index.html, so a renamed control cannot silently break a button.
func TestStaticIDs(t *testing.T) {
	html := staticFile(t, "index.html")
	js := staticFile(t, "app.js")
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(`\sid="([^"]+)"`).FindAllStringSubmatch(html, -1) {
		if ids[m[1]] {
			t.Errorf("id %q appears twice in index.html", m[1])
		}
		ids[m[1]] = true
	}
	used := regexp.MustCompile(`\$\("([^"]+)"\)`).FindAllStringSubmatch(js, -1)
	if len(used) < 40 {
		t.Fatalf("found only %d lookups in app.js: the pattern is stale", len(used))
	}
	for _, m := range used {
		if !ids[m[1]] {
			t.Errorf("app.js looks up #%s, which index.html does not have", m[1])
		}
	}
}
