package boothcheck

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Net makes the attempts over the network, as a laptop on the LAN would.
type Net struct {
	// Timeout bounds each attempt (default 3 s).
	Timeout time.Duration
}

// probeNode is a node name no booth has: a power request for it fails
// after the token check, so an open API changes nothing.
const probeNode = "redswitch-check-nobody"

// Try implements Prober.
func (n Net) Try(ctx context.Context, a Attempt) (Outcome, string) {
	timeout := n.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch a.Kind {
	case KindAPIRead:
		return n.http(ctx, a, http.MethodGet, "/api/v1/state", "")
	case KindAPIWrite:
		return n.http(ctx, a, http.MethodPost, "/api/v1/nodes/"+probeNode+"/power", `{"on": true}`)
	case KindEtcd:
		// Every key from "\x00" on, counted only: a read of the whole
		// store that returns nothing but a number.
		return n.http(ctx, a, http.MethodPost, "/v3/kv/range", `{"key": "AA==", "range_end": "AA==", "count_only": true}`)
	case KindPatroni:
		return n.http(ctx, a, http.MethodPost, "/restart", `{"schedule": "redswitch-check"}`)
	case KindAgent:
		return n.http(ctx, a, http.MethodGet, agentStatusPath, "")
	case KindStats:
		return n.http(ctx, a, http.MethodGet, "/", "")
	case KindPostgres:
		return n.postgres(ctx, a)
	}
	return Unknown, fmt.Sprintf("no way to try %q", a.Kind)
}

// http tries plain HTTP first and HTTPS (any certificate: an outsider
// does not care whose it is) when the port speaks TLS.
func (n Net) http(ctx context.Context, a Attempt, method, path, body string) (Outcome, string) {
	var last error
	for _, scheme := range []string{"http", "https"} {
		req, err := http.NewRequestWithContext(ctx, method, scheme+"://"+a.Addr+path, strings.NewReader(body))
		if err != nil {
			return Unknown, err.Error()
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		hc := &http.Client{Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the outsider trusts anything
			Proxy:           nil,
		}}
		resp, err := hc.Do(req)
		if err != nil {
			last = err
			if o, ok := netOutcome(err); ok {
				return o, err.Error()
			}
			if scheme == "http" && speaksTLS(err) {
				continue
			}
			if scheme == "https" && tlsRefused(err) {
				return Refused, "TLS client certificate required: " + err.Error()
			}
			return Unknown, err.Error()
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if scheme == "http" && resp.StatusCode == http.StatusBadRequest && strings.Contains(string(b), "HTTP request to an HTTPS server") {
			continue // Go's TLS servers answer plain HTTP so
		}
		o := ClassifyHTTP(a.Kind, resp.StatusCode, string(b))
		return o, fmt.Sprintf("%s %s: %d %s", scheme, path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return Unknown, fmt.Sprint(last)
}

// ClassifyHTTP says what an HTTP answer to an attempt means.
func ClassifyHTTP(kind Kind, status int, body string) Outcome {
	lower := strings.ToLower(body)
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return Refused
	case kind == KindEtcd && (strings.Contains(lower, "user name is empty") || strings.Contains(lower, "invalid auth token") ||
		strings.Contains(lower, "permission denied") || strings.Contains(lower, "authentication")):
		return Refused
	}
	switch kind {
	case KindAPIRead, KindAgent, KindStats:
		if status >= 200 && status < 300 {
			return Open
		}
	case KindAPIWrite:
		// Past the token check: the unknown node (404), the body (400)
		// or, worse, done (2xx).
		if status == http.StatusNotFound || status == http.StatusBadRequest || status < 300 {
			return Open
		}
	case KindEtcd:
		if status >= 200 && status < 300 && strings.Contains(body, "header") {
			return Open
		}
	case KindPatroni:
		// Patroni checks access first, then rejects the schedule (400,
		// 422 in 3.0).
		if status == http.StatusBadRequest || status == http.StatusUnprocessableEntity || (status >= 200 && status < 300) {
			return Open
		}
	}
	return Unknown
}

func (n Net) postgres(ctx context.Context, a Attempt) (Outcome, string) {
	var err error
	// Plain first; TLS when pg_hba has only hostssl lines for us.
	for _, mode := range []string{"disable", "require"} {
		u := url.URL{Scheme: "postgres", User: url.UserPassword(DefaultUser, DefaultPassword), Host: a.Addr, Path: "/postgres",
			RawQuery: "sslmode=" + mode}
		var conn *pgx.Conn
		conn, err = pgx.Connect(ctx, u.String())
		if err == nil {
			conn.Close(context.WithoutCancel(ctx))
			return Open, fmt.Sprintf("logged in as %s with the default password (sslmode %s)", DefaultUser, mode)
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			if mode == "disable" && pe.Code == "28000" && strings.Contains(pe.Message, "no encryption") {
				continue
			}
			return ClassifyPostgres(pe.Code), pe.Code + ": " + pe.Message
		}
		break
	}
	if o, ok := netOutcome(err); ok {
		return o, err.Error()
	}
	return Unknown, err.Error()
}

// ClassifyPostgres says what a PostgreSQL error at login means.
func ClassifyPostgres(sqlstate string) Outcome {
	switch sqlstate {
	case "28P01", "28000": // invalid_password, invalid_authorization_specification (pg_hba reject)
		return Refused
	}
	return Unknown
}

// netOutcome recognises "nothing answers there".
func netOutcome(err error) (Outcome, bool) {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, context.DeadlineExceeded):
		return Unreachable, true
	case errors.As(err, &ne) && ne.Timeout():
		return Unreachable, true
	}
	return "", false
}

// speaksTLS: a plain-HTTP request met a TLS server.
func speaksTLS(err error) bool {
	s := err.Error()
	return strings.Contains(s, "malformed HTTP response") || strings.Contains(s, "EOF") ||
		strings.Contains(s, "connection reset")
}

// tlsRefused: the TLS server wants a client certificate the outsider has
// not got.
func tlsRefused(err error) bool {
	s := err.Error()
	return strings.Contains(s, "certificate required") || strings.Contains(s, "bad certificate") ||
		strings.Contains(s, "handshake failure")
}

func hostPortOfURL(s string) (string, string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", err
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return u.Hostname(), port, nil
}
