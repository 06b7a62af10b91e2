package dashboard

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// HandlerOptions configure the websocket handler. Zero values take the
// defaults.
type HandlerOptions struct {
	// AllowedOrigins lists browser origins allowed besides the page's own
	// host: full origins ("https://booth.example:8443") or bare hosts
	// ("booth.local:8080"); "*" allows any.
	AllowedOrigins []string
	// Log receives connection problems; nil discards.
	Log *slog.Logger
	// PingInterval is how often the server pings (default 15 s); a viewer
	// that has not answered for two intervals is disconnected.
	PingInterval time.Duration
	// WriteTimeout bounds each write to a viewer (default 5 s).
	WriteTimeout time.Duration
	// ReadLimit bounds a client message in bytes (default 512): clients have
	// nothing to say, so anything large is an abuse.
	ReadLimit int64
	// MaxPerClient caps the websockets of one client (its IP address, an
	// IPv6 one by its /64) (default 8): a page holds one, so a visitor
	// may open a few tabs, while one machine on the LAN cannot take all
	// of the hub's viewer slots. The hub's own cap stays.
	MaxPerClient int
}

func (o HandlerOptions) withDefaults() HandlerOptions {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 15 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 5 * time.Second
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = 512
	}
	if o.MaxPerClient <= 0 {
		o.MaxPerClient = DefaultMaxPerClient
	}
	return o
}

// DefaultMaxPerClient is HandlerOptions.MaxPerClient's default.
const DefaultMaxPerClient = 8

// Handler serves the read-only websocket (mount it at /ws). Each viewer
// gets the hub's replay, then every published message. What a client sends
// is read only to process pings and close frames and is otherwise
// discarded: nothing can be changed through this handler.
func Handler(hub *Hub, o HandlerOptions) http.Handler {
	o = o.withDefaults()
	up := websocket.Upgrader{
		ReadBufferSize:   512,
		WriteBufferSize:  4096,
		HandshakeTimeout: 5 * time.Second,
		// Checked below, before a viewer slot is taken.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	slots := &clientSlots{max: o.MaxPerClient, n: map[string]int{}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !websocket.IsWebSocketUpgrade(r) {
			http.Error(w, "this endpoint speaks websocket only", http.StatusBadRequest)
			return
		}
		if !originAllowed(r.Header.Get("Origin"), r.Host, o.AllowedOrigins) {
			o.Log.Warn("dashboard websocket origin refused", "origin", r.Header.Get("Origin"), "host", r.Host, "remote", r.RemoteAddr)
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		// Before the hub's slot, so a refused client takes none.
		client := clientKey(r.RemoteAddr)
		if !slots.take(client) {
			o.Log.Warn("dashboard websocket refused: too many from one client", "client", client, "max", o.MaxPerClient)
			w.Header().Set("Retry-After", "5")
			http.Error(w, "too many dashboard connections from this address", http.StatusTooManyRequests)
			return
		}
		defer slots.release(client)
		sub, err := hub.Subscribe()
		if err != nil {
			w.Header().Set("Retry-After", "5")
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		defer sub.Close()
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			// The upgrader has answered the client already.
			o.Log.Debug("dashboard websocket upgrade failed", "err", err, "remote", r.RemoteAddr)
			return
		}
		defer conn.Close()
		serve(conn, sub, o)
	})
}

// serve writes the subscription to conn until either side ends.
func serve(conn *websocket.Conn, sub *Subscription, o HandlerOptions) {
	pongWait := 2 * o.PingInterval
	conn.SetReadLimit(o.ReadLimit)
	_ = conn.SetReadDeadline(time.Now().Add(pongWait))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(pongWait))
	})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		// Reading drives gorilla's ping, pong and close handling; data
		// messages are dropped unread by the next NextReader.
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()

	ping := time.NewTicker(o.PingInterval)
	defer ping.Stop()
	for {
		select {
		case f := <-sub.Frames():
			_ = conn.SetWriteDeadline(time.Now().Add(o.WriteTimeout))
			if err := conn.WriteMessage(websocket.TextMessage, f); err != nil {
				o.Log.Debug("dashboard websocket write failed", "err", err)
				return
			}
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(o.WriteTimeout)); err != nil {
				return
			}
		case <-sub.Done():
			code, text := websocket.CloseGoingAway, "server shutting down"
			if errors.Is(sub.Err(), ErrSlowViewer) {
				code, text = websocket.CloseTryAgainLater, "too slow: reconnect"
			}
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text),
				time.Now().Add(o.WriteTimeout))
			return
		case <-readDone:
			return
		}
	}
}

// clientSlots counts the open websockets of each client.
type clientSlots struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

// take reports whether client may open one more, and counts it if so.
func (c *clientSlots) take(client string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[client] >= c.max {
		return false
	}
	c.n[client]++
	return true
}

// release gives a client's slot back; no entry stays for a client with
// none.
func (c *clientSlots) release(client string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[client]--; c.n[client] <= 0 {
		delete(c.n, client)
	}
}

// clientKey names the client a connection comes from: its IP address, or
// for IPv6 its /64, from which a host picks addresses at will. The
// address is the TCP peer's, never a header's: no proxy stands in front
// of the head node, and a header would let a client name itself anew.
func clientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.WithZone("").Prefix(64); err == nil {
			return p.String()
		}
	}
	return ip.String()
}

// originAllowed reports whether a browser page from origin may connect to
// host. A request without Origin is not from a browser page and so cannot
// be a cross-site hijack; it is let through.
func originAllowed(origin, host string, allowed []string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if host != "" && strings.EqualFold(u.Host, host) {
		return true
	}
	for _, a := range allowed {
		a = strings.TrimSuffix(strings.TrimSpace(a), "/")
		if a == "*" || (a != "" && (strings.EqualFold(a, u.Scheme+"://"+u.Host) || strings.EqualFold(a, u.Host))) {
			return true
		}
	}
	return false
}
