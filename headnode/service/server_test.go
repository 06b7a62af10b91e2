package service

import (
	"net/http"
	"testing"
	"time"

	"github.com/redswitch/redswitch/httpserver"
)

// TestAPIServerTimeouts checks the head node's server carries every
// timeout, and that they fit what it serves.
func TestAPIServerTimeouts(t *testing.T) {
	srv := newAPIServer(http.NotFoundHandler(), nil)
	tests := []struct {
		name string
		ok   bool
	}{
		{"read header set", srv.ReadHeaderTimeout > 0 && srv.ReadHeaderTimeout <= httpserver.ReadHeaderTimeout},
		{"read set, header within it", srv.ReadTimeout >= srv.ReadHeaderTimeout},
		{"idle set", srv.IdleTimeout > 0},
		// A fault through an agent may take the agent client's 30 s.
		{"write outlasts an agent call", srv.WriteTimeout >= time.Minute},
		{"fork routes outlast the agent", forkRequestTimeout > forkAgentTimeout && forkRequestTimeout > srv.WriteTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.ok {
				t.Fatalf("server timeouts: header %s read %s write %s idle %s; forks %s (agent %s)",
					srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, forkRequestTimeout, forkAgentTimeout)
			}
		})
	}
}

// TestAPIServerCutsSlowLoris opens a connection to the head node's server
// and sends headers one line every 200 ms: the server must close it after
// its header timeout (5 s), long before the client is done.
func TestAPIServerCutsSlowLoris(t *testing.T) {
	if testing.Short() {
		t.Skip("-short asks for no slow tests: this one waits out the real 5 s header timeout")
	}
	srv := newAPIServer(http.NotFoundHandler(), nil)
	at, err := httpserver.HeaderCut(srv, "GET /api/v1/state HTTP/1.1")
	if err != nil {
		t.Fatal(err)
	}
	if at < srv.ReadHeaderTimeout-100*time.Millisecond {
		t.Fatalf("closed after %s, before the header timeout %s", at, srv.ReadHeaderTimeout)
	}
}
