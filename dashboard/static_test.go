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
