package httpserver

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// SlowLoris plays a slow client against the server at addr, for the tests
// of the servers New builds: it connects, sends first, then one more drip
// every interval, and returns how long after connecting the server closed
// the connection; an error when the server still held it after max.
func SlowLoris(addr, first, drip string, every, max time.Duration) (time.Duration, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, fmt.Errorf("slow loris: %w", err)
	}
	defer conn.Close()
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		// The server's answer (if any) is read and dropped; the read ends
		// when the server closes the connection.
		_, _ = io.Copy(io.Discard, conn)
		closed <- time.Since(start)
	}()
	if first != "" {
		if _, err := conn.Write([]byte(first)); err != nil {
			return 0, fmt.Errorf("slow loris: %w", err)
		}
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	limit := time.After(max)
	for {
		select {
		case at := <-closed:
			return at, nil
		case <-limit:
			return 0, fmt.Errorf("slow loris: the server still holds the connection after %s", max)
		case <-tick.C:
			if drip != "" {
				// A write error means the server is gone: the reader
				// reports when.
				_, _ = conn.Write([]byte(drip))
			}
		}
	}
}

// HeaderCut serves srv on a loopback port of its own and plays a client
// that sends requestLine's headers one line every 200 ms: it returns how
// long after connecting srv cut the client off, an error when srv still
// held it 3 s past its ReadHeaderTimeout. srv is closed on return.
func HeaderCut(srv *http.Server, requestLine string) (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	return SlowLoris(ln.Addr().String(), requestLine+"\r\nHost: x\r\n", "X-Slow: y\r\n",
		200*time.Millisecond, srv.ReadHeaderTimeout+3*time.Second)
}
