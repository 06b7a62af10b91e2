package httpserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testTimeouts are the package's timeouts scaled down so the tests run in
// a second; the server is built by New as every server of the rig is.
var testTimeouts = Timeouts{ReadHeader: 200 * time.Millisecond, Read: 400 * time.Millisecond,
	Write: 400 * time.Millisecond, Idle: 300 * time.Millisecond}

// serve starts New(h, t) on loopback and returns its address.
func serve(t *testing.T, h http.Handler, to Timeouts) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(h, to, nil)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// TestSlowLorisCutOff opens connections that send their request slowly or
// not at all: each must be closed by the server within its timeout, while
// the client still has bytes to send.
func TestSlowLorisCutOff(t *testing.T) {
	var handled atomic.Int32
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled.Add(1)
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "ok")
	}), testTimeouts)

	tests := []struct {
		name string
		// first is sent at once, then drip every 50 ms.
		first, drip string
		limit       time.Duration // the timeout that must cut the client off
		handler     bool          // whether the handler ran
	}{
		{"headers never start", "", "", testTimeouts.ReadHeader, false},
		{"headers slowly", "GET / HTTP/1.1\r\nHost: x\r\n", "X-Slow: y\r\n", testTimeouts.ReadHeader, false},
		{"body slowly", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", "z", testTimeouts.Read, true},
		{"idle after a request", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "", testTimeouts.Idle, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := handled.Load()
			// Generous for a loaded machine, far below the seconds of
			// dripping a server without the timeout would sit through.
			at, err := SlowLoris(addr, tc.first, tc.drip, 50*time.Millisecond, tc.limit+1500*time.Millisecond)
			if err != nil {
				t.Fatalf("timeout %s: %v", tc.limit, err)
			}
			if at < tc.limit-50*time.Millisecond {
				t.Errorf("closed after %s, before its timeout %s: for another reason", at, tc.limit)
			}
			if ran := handled.Load() > before; ran != tc.handler {
				t.Errorf("handler ran: %v, want %v", ran, tc.handler)
			}
		})
	}
}

// TestHonestClientServed is the control: a client that sends its request
// at once is answered, on the same server, over one connection twice.
func TestHonestClientServed(t *testing.T) {
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "got %q", b)
	}), testTimeouts)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	for i := range 2 {
		if _, err := fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != `got "hi"` {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
		}
	}
}

// TestLongHandlerKeepsContext runs a handler for longer than the read
// timeout: its request's context must not be cancelled by the read
// deadline, with or without a body. net/http clears the deadline when it
// starts watching the connection after the body; this holds it to that,
// since a short ReadTimeout relies on it.
func TestLongHandlerKeepsContext(t *testing.T) {
	to := testTimeouts
	to.Write = 3 * time.Second
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
			http.Error(w, "context cancelled: "+context.Cause(r.Context()).Error(), http.StatusInternalServerError)
		case <-time.After(3 * to.Read):
			fmt.Fprint(w, "done")
		}
	}), to)
	tests := []struct {
		name, method, body string
	}{
		{"no body", http.MethodGet, ""},
		{"with a body", http.MethodPost, `{"name":"f1"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "http://"+addr+"/", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || string(b) != "done" {
				t.Fatalf("%d %q", resp.StatusCode, b)
			}
		})
	}
}

// TestWriteTimeoutAndLong: a handler slower than the write timeout loses
// its answer; wrapped in Long it keeps it.
func TestWriteTimeoutAndLong(t *testing.T) {
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * testTimeouts.Write)
		fmt.Fprint(w, "made")
	})
	mux := http.NewServeMux()
	mux.Handle("/plain", slow)
	mux.Handle("/long", Long(4*testTimeouts.Write, slow))
	addr := serve(t, mux, testTimeouts)
	tests := []struct {
		path   string
		answer bool
	}{
		{"/plain", false},
		{"/long", true},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := http.Get("http://" + addr + tc.path)
			if err == nil {
				b, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				if rerr != nil {
					err = rerr
				} else if string(b) != "made" {
					err = errors.New("answer " + string(b))
				}
			}
			if got := err == nil; got != tc.answer {
				t.Fatalf("answered: %v (err %v), want %v", got, err, tc.answer)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	srv := New(http.NotFoundHandler(), Timeouts{Write: time.Minute}, nil)
	tests := []struct {
		name      string
		got, want time.Duration
	}{
		{"read header", srv.ReadHeaderTimeout, ReadHeaderTimeout},
		{"read", srv.ReadTimeout, ReadTimeout},
		{"write", srv.WriteTimeout, time.Minute},
		{"idle", srv.IdleTimeout, IdleTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("%s, want %s", tc.got, tc.want)
			}
		})
	}
}
