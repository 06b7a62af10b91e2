package httpserver

import (
	"fmt"
	"io"
	"net"
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
