package dashboard

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/redswitch/redswitch/httpserver"
)

// wsServer serves Handler at /ws and returns its ws:// URL.
func wsServer(t *testing.T, h *Hub, o HandlerOptions) (*httptest.Server, string) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/ws", Handler(h, o))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
}

func dial(t *testing.T, url, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	hdr := http.Header{}
	if origin != "" {
		hdr.Set("Origin", origin)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial(url, hdr)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, resp, err
}

func readMsg(t *testing.T, c *websocket.Conn) Message {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return m
}

func TestHandlerReplayThenLive(t *testing.T) {
	h := NewHub(HubOptions{})
	must(t, h.SetView(View{Cluster: Cluster{Scope: "demo", Leader: "n1"}}))
	must(t, h.Publish(LineMessage(Line{At: t0, Text: "power cut on n1", Kind: LineFault})))
	srv, url := wsServer(t, h, HandlerOptions{})
	c, _, err := dial(t, url, srv.URL) // same origin as a browser would send
	must(t, err)
	if m := readMsg(t, c); m.Type != TypeView || m.View.Cluster.Leader != "n1" {
		t.Fatalf("first message = %+v, want the view", m)
	}
	if m := readMsg(t, c); m.Type != TypeLine || m.Line.Text != "power cut on n1" {
		t.Fatalf("second message = %+v, want the line", m)
	}
	must(t, h.Publish(RateMessage(RateSample{T: t0, Rate: 97})))
	if m := readMsg(t, c); m.Type != TypeRate || m.Sample.Rate != 97 {
		t.Fatalf("live message = %+v, want the rate sample", m)
	}
}

func TestHandlerOrigin(t *testing.T) {
	tests := []struct {
		name    string
		origin  func(srvURL string) string
		allowed []string
		ok      bool
	}{
		{"same host", func(u string) string { return u }, nil, true},
		{"no origin (not a browser)", func(string) string { return "" }, nil, true},
		{"foreign site", func(string) string { return "https://evil.example" }, nil, false},
		{"foreign site allowed by origin", func(string) string { return "https://booth.example" }, []string{"https://booth.example/"}, true},
		{"foreign site allowed by host", func(string) string { return "http://booth.local:8080" }, []string{"booth.local:8080"}, true},
		{"other port of the same host", func(u string) string { return strings.Replace(u, "127.0.0.1:", "127.0.0.1:1", 1) }, nil, false},
		{"null origin", func(string) string { return "null" }, nil, false},
		{"wildcard", func(string) string { return "https://anything.example" }, []string{"*"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHub(HubOptions{})
			srv, url := wsServer(t, h, HandlerOptions{AllowedOrigins: tt.allowed})
			_, resp, err := dial(t, url, tt.origin(srv.URL))
			if tt.ok {
				must(t, err)
				return
			}
			if err == nil {
				t.Fatal("connected from a refused origin")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("response = %v, want 403", resp)
			}
			if st := h.Stats(); st.Subscribers != 0 {
				t.Fatalf("refused origin took a viewer slot: %+v", st)
			}
		})
	}
}

func TestHandlerCapAnswers503(t *testing.T) {
	h := NewHub(HubOptions{MaxSubscribers: 1})
	_, url := wsServer(t, h, HandlerOptions{})
	_, _, err := dial(t, url, "")
	must(t, err)
	_, resp, err := dial(t, url, "")
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second viewer: err %v, response %v; want 503", err, resp)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
}

// TestHandlerCapPerClient: one client may hold MaxPerClient websockets;
// the next is refused with 429 before the upgrade and takes no hub slot,
// another client still gets in, and a closed websocket frees its slot.
func TestHandlerCapPerClient(t *testing.T) {
	from := func(ip string) *websocket.Dialer {
		return &websocket.Dialer{HandshakeTimeout: 5 * time.Second,
			NetDialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}
	}
	tests := []struct {
		name string
		max  int
	}{
		{"cap of 1", 1},
		{"cap of 3", 3},
		{"default", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHub(HubOptions{})
			_, url := wsServer(t, h, HandlerOptions{MaxPerClient: tc.max})
			limit := tc.max
			if limit == 0 {
				limit = DefaultMaxPerClient
			}
			var conns []*websocket.Conn
			for i := range limit {
				c, _, err := from("127.0.0.1").Dial(url, nil)
				if err != nil {
					t.Fatalf("websocket %d of %d: %v", i+1, limit, err)
				}
				defer c.Close()
				conns = append(conns, c)
			}
			waitFor(t, func() bool { return h.Stats().Subscribers == limit })
			c, resp, err := from("127.0.0.1").Dial(url, nil)
			if err == nil {
				c.Close()
				t.Fatalf("websocket %d from one client accepted", limit+1)
			}
			if resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("websocket %d: %v, response %v; want 429 with Retry-After", limit+1, err, resp)
			}
			if got := h.Stats().Subscribers; got != limit {
				t.Fatalf("refused client changed the hub's viewers to %d", got)
			}
			// The cap is per client: another address still connects.
			other, _, err := from("127.0.0.2").Dial(url, nil)
			if err != nil {
				t.Fatalf("another client refused: %v", err)
			}
			other.Close()
			// A closed websocket gives its slot back.
			conns[0].Close()
			waitFor(t, func() bool { return h.Stats().Subscribers == limit-1 })
			again, _, err := from("127.0.0.1").Dial(url, nil)
			if err != nil {
				t.Fatalf("after one closed: %v", err)
			}
			again.Close()
		})
	}
}

func TestClientKey(t *testing.T) {
	tests := []struct {
		remote, want string
	}{
		{"192.0.2.7:51000", "192.0.2.7"},
		{"192.0.2.7:51001", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:4000", "192.0.2.7"},
		{"[2001:db8:1:2:aaaa::1]:4000", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:bbbb::9]:4001", "2001:db8:1:2::/64"},
		{"[2001:db8:1:3::1]:4000", "2001:db8:1:3::/64"},
		{"[fe80::1%eth0]:4000", "fe80::/64"},
		{"not an address", "not an address"},
	}
	for _, tc := range tests {
		t.Run(tc.remote, func(t *testing.T) {
			if got := clientKey(tc.remote); got != tc.want {
				t.Fatalf("clientKey(%q) = %q, want %q", tc.remote, got, tc.want)
			}
		})
	}
}

// TestWebsocketOutlivesServerTimeouts serves the handler from a server
// with the rig's timeouts, scaled down: a viewer keeps receiving long
// after the server's read, write and idle timeouts, which the upgrade
// cleared from the hijacked connection.
func TestWebsocketOutlivesServerTimeouts(t *testing.T) {
	h := NewHub(HubOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	mux := http.NewServeMux()
	mux.Handle("/ws", Handler(h, HandlerOptions{}))
	to := httpserver.Timeouts{ReadHeader: 100 * time.Millisecond, Read: 100 * time.Millisecond,
		Write: 100 * time.Millisecond, Idle: 100 * time.Millisecond}
	srv := httpserver.New(mux, to, nil)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	c, _, err := dial(t, "ws://"+ln.Addr().String()+"/ws", "")
	must(t, err)
	for i := range 5 {
		time.Sleep(150 * time.Millisecond) // past every server timeout
		must(t, h.Publish(RateMessage(RateSample{T: t0, Rate: float64(i)})))
		if m := readMsg(t, c); m.Type != TypeRate || m.Sample.Rate != float64(i) {
			t.Fatalf("message %d = %+v", i, m)
		}
	}
}

func TestHandlerRefusesPlainHTTP(t *testing.T) {
	h := NewHub(HubOptions{})
	srv, _ := wsServer(t, h, HandlerOptions{})
	resp, err := http.Get(srv.URL + "/ws")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
	if h.Stats().Subscribers != 0 {
		t.Fatal("a plain GET took a viewer slot")
	}
}

// Clients can send what they like: nothing they send is answered, published
// or changes the state other viewers get.
func TestHandlerIgnoresClientMessages(t *testing.T) {
	h := NewHub(HubOptions{})
	must(t, h.SetView(View{Cluster: Cluster{Scope: "demo", Leader: "n1"}}))
	_, url := wsServer(t, h, HandlerOptions{})
	c, _, err := dial(t, url, "")
	must(t, err)
	readMsg(t, c) // the replayed view
	for _, msg := range []string{
		`{"type":"view","view":{"cluster":{"leader":"evil"}}}`,
		`{"type":"line","line":{"text":"hacked"}}`,
		`POST /api/v1/nodes/n1/power {"on":false}`,
	} {
		must(t, c.WriteMessage(websocket.TextMessage, []byte(msg)))
	}
	before := h.Stats()
	// Let the server read them, then publish something real: it must be
	// the very next message, and the state must be unchanged.
	time.Sleep(50 * time.Millisecond)
	must(t, h.Publish(LineMessage(Line{Text: "real"})))
	if m := readMsg(t, c); m.Type != TypeLine || m.Line.Text != "real" {
		t.Fatalf("next message = %+v, want the real line", m)
	}
	if after := h.Stats(); after.Published != before.Published+1 || after.Subscribers != 1 {
		t.Fatalf("stats before %+v after %+v", before, after)
	}
	c2, _, err := dial(t, url, "")
	must(t, err)
	if m := readMsg(t, c2); m.View == nil || m.View.Cluster.Leader != "n1" {
		t.Fatalf("a new viewer sees %+v, want leader n1", m)
	}
}

func TestHandlerClosesOversizedClientMessage(t *testing.T) {
	h := NewHub(HubOptions{})
	_, url := wsServer(t, h, HandlerOptions{ReadLimit: 64})
	c, _, err := dial(t, url, "")
	must(t, err)
	must(t, c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 1000))))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("read after oversized message: %v, want close 1009", err)
	}
	waitFor(t, func() bool { return h.Stats().Subscribers == 0 })
}

func TestHandlerPingsAndDropsSilentClient(t *testing.T) {
	h := NewHub(HubOptions{})
	_, url := wsServer(t, h, HandlerOptions{PingInterval: 30 * time.Millisecond})
	c, _, err := dial(t, url, "")
	must(t, err)
	pings := make(chan struct{}, 10)
	c.SetPingHandler(func(string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return nil // no pong: the server must give up on us
	})
	go func() {
		for {
			if _, _, err := c.NextReader(); err != nil {
				return
			}
		}
	}()
	select {
	case <-pings:
	case <-time.After(5 * time.Second):
		t.Fatal("no ping from the server")
	}
	waitFor(t, func() bool { return h.Stats().Subscribers == 0 })
}

func TestHandlerTellsSlowViewerToReconnect(t *testing.T) {
	h := NewHub(HubOptions{SendBuffer: 1})
	_, url := wsServer(t, h, HandlerOptions{})
	c, _, err := dial(t, url, "")
	must(t, err)
	waitFor(t, func() bool { return h.Stats().Subscribers == 1 })
	// Drop the subscription as the hub does for a viewer that fell behind.
	h.mu.Lock()
	for s := range h.subs {
		h.dropLocked(s, ErrSlowViewer)
	}
	h.mu.Unlock()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ce *websocket.CloseError
	for {
		_, _, err = c.ReadMessage()
		if err != nil {
			break
		}
	}
	if !errors.As(err, &ce) || ce.Code != websocket.CloseTryAgainLater {
		t.Fatalf("close = %v, want 1013 try again later", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// FuzzClientKey: any peer address names a client, the port never
// matters, and addresses of one IPv6 /64 are one client.
func FuzzClientKey(f *testing.F) {
	f.Add([]byte{192, 0, 2, 7}, uint16(1), uint16(2))
	f.Add([]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0xaa, 0xaa, 0, 0, 0, 0, 0, 1}, uint16(4000), uint16(4001))
	f.Add([]byte("not an ip"), uint16(0), uint16(0))
	f.Fuzz(func(t *testing.T, raw []byte, p1, p2 uint16) {
		ip, ok := netip.AddrFromSlice(raw)
		if !ok {
			_ = clientKey(string(raw)) // must not panic
			return
		}
		a := netip.AddrPortFrom(ip, p1).String()
		b := netip.AddrPortFrom(ip, p2).String()
		if ka, kb := clientKey(a), clientKey(b); ka != kb || ka == "" {
			t.Fatalf("keys %q (%s) and %q (%s) differ by port alone", ka, a, kb, b)
		}
		if ip.Is6() && !ip.Is4In6() {
			bs := ip.As16()
			bs[15] ^= 0xff // another host of the same /64
			other := netip.AddrPortFrom(netip.AddrFrom16(bs), p1).String()
			if clientKey(other) != clientKey(a) {
				t.Fatalf("%s and %s of one /64 are different clients", a, other)
			}
		}
	})
}

func FuzzOriginAllowed(f *testing.F) {
	f.Add("http://127.0.0.1:8080", "127.0.0.1:8080", "")
	f.Add("https://evil.example", "127.0.0.1:8080", "booth.local")
	f.Add("null", "h", "*")
	f.Fuzz(func(t *testing.T, origin, host, allowed string) {
		ok := originAllowed(origin, host, strings.Split(allowed, ","))
		if origin == "" && !ok {
			t.Fatal("request without Origin refused")
		}
		// Without an allow-list, a browser origin passes only for its own host.
		if origin != "" && originAllowed(origin, host, nil) {
			if !strings.Contains(strings.ToLower(origin), strings.ToLower(host)) || host == "" {
				t.Fatalf("origin %q allowed for host %q with no allow-list", origin, host)
			}
		}
	})
}
