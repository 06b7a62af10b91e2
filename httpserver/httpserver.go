// Package httpserver builds the rig's HTTP servers (the head node's API
// and dashboard, the agents' API, the dashboard bench) with the timeouts a
// server on a shared LAN needs: a client that sends its request slowly (a
// slow loris), never reads its answer or keeps idle connections open
// cannot hold a connection and its goroutine for ever.
//
// ReadTimeout can be short: it bounds reading the request, and net/http
// clears the read deadline once the body is read (startBackgroundRead), so
// a handler that runs longer keeps its context. WriteTimeout bounds the
// handler and its answer together: a route that works for minutes (making
// a fork) asks for more with Long.
//
// A websocket is not bounded by any of them: gorilla/websocket's Upgrade
// hijacks the connection and clears the deadlines the server set
// (server.go: netConn.SetDeadline(time.Time{})), and the dashboard's
// handler sets its own per write and per pong.
package httpserver

import (
	"log/slog"
	"net/http"
	"time"
)

// Defaults shared by every server of the rig; each server picks its own
// write timeout, which depends on its longest answer.
const (
	// ReadHeaderTimeout bounds the request line and headers: a few
	// hundred bytes, which a client on the LAN sends in milliseconds.
	ReadHeaderTimeout = 5 * time.Second
	// ReadTimeout bounds the whole request, body included. The APIs'
	// bodies are small JSON documents (64 KiB at most).
	ReadTimeout = 10 * time.Second
	// IdleTimeout closes a keep-alive connection that carries no request.
	// It is longer than Go clients' own idle timeout (90 s in
	// http.DefaultTransport, which the head node's and the CLI's clients
	// use): the client closes an idle connection first, so its next POST
	// never races a close by the server.
	IdleTimeout = 2 * time.Minute
)

// Timeouts are a server's limits; zero fields take the defaults above,
// and a zero Write means none (pass one: it depends on the server).
type Timeouts struct {
	ReadHeader time.Duration
	Read       time.Duration
	Write      time.Duration
	Idle       time.Duration
}

func (t Timeouts) withDefaults() Timeouts {
	if t.ReadHeader <= 0 {
		t.ReadHeader = ReadHeaderTimeout
	}
	if t.Read <= 0 {
		t.Read = ReadTimeout
	}
	if t.Idle <= 0 {
		t.Idle = IdleTimeout
	}
	return t
}

// New returns a server of h with timeouts t. log receives the server's
// own errors (a failed TLS handshake, a panic in a handler) at Warn.
func New(h http.Handler, t Timeouts, log *slog.Logger) *http.Server {
	t = t.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Long lets h's requests run and answer for up to d from their start,
// beyond the server's write timeout: creating a fork with a full copy
// takes minutes. Wrap it inside the authorisation check, so only a
// client that may make the request gets the longer deadline.
func Long(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A ResponseWriter without deadlines (a test recorder) has no
		// server timeout to extend either.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
		h.ServeHTTP(w, r)
	})
}
