package agent

import (
	"net/http"
	"testing"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/httpserver"
)

// TestAPIServerTimeouts checks the agent's server carries every timeout,
// and that they fit what it serves.
func TestAPIServerTimeouts(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler(), nil)
	tests := []struct {
		name string
		ok   bool
	}{
		{"read header set", srv.ReadHeaderTimeout > 0},
		{"read set, header within it", srv.ReadTimeout >= srv.ReadHeaderTimeout},
		{"idle set", srv.IdleTimeout > 0},
		// sql bounds the SQL faults at 2 min.
		{"write outlasts the SQL faults", srv.WriteTimeout > 2*time.Minute},
		{"fork routes outlast a queued fork", forkRequestTimeout > 2*forkTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.ok {
				t.Fatalf("server timeouts: header %s read %s write %s idle %s; forks %s (one fork %s)",
					srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, forkRequestTimeout, forkTimeout)
			}
		})
	}
}

// TestAPIServerCutsSlowLoris sends the agent's server a request's headers
// one line every 200 ms: it must close the connection after its header
// timeout (5 s), long before the client is done.
func TestAPIServerCutsSlowLoris(t *testing.T) {
	if testing.Short() {
		t.Skip("-short asks for no slow tests: this one waits out the real 5 s header timeout")
	}
	srv := newHTTPServer(http.NotFoundHandler(), nil)
	at, err := httpserver.HeaderCut(srv, "GET "+agentapi.PathStatus+" HTTP/1.1")
	if err != nil {
		t.Fatal(err)
	}
	if at < srv.ReadHeaderTimeout-100*time.Millisecond {
		t.Fatalf("closed after %s, before the header timeout %s", at, srv.ReadHeaderTimeout)
	}
}
