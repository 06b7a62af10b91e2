// Package dashbench measures the dashboard's delivery path: from Publish on
// the hub, through the websocket handler and loopback TCP, to a real
// websocket client holding the decoded message, with many viewers attached,
// and what those viewers cost in memory.
package dashbench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"

	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/dashboard"
	"github.com/redswitch/redswitch/httpserver"
)

// writeTimeout is the bench server's: it serves websocket upgrades only,
// answered at once; each websocket, hijacked, then has the handler's own
// deadlines, as on the head node.
const writeTimeout = 10 * time.Second

// Options configure a measurement. Zero values take the defaults.
type Options struct {
	// Viewers is how many websocket clients watch (default 1).
	Viewers int
	// Messages is how many rate samples are published (default 500).
	Messages int
	// Interval spaces the publishes (default 5 ms): faster than the real
	// 250-500 ms, to get many samples quickly, slow enough not to measure
	// only queueing.
	Interval time.Duration
	// Log receives the hub's and handler's messages; nil discards.
	Log *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Viewers <= 0 {
		o.Viewers = 1
	}
	if o.Messages <= 0 {
		o.Messages = 500
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Result is the latency distribution from Publish to a client's decoded
// message, over every viewer, and the heap around it. Heap figures are
// after a GC and include the client side, which runs in the same process.
type Result struct {
	Viewers  int `json:"viewers"`
	Messages int `json:"messages"`
	// Received counts messages decoded by clients; Viewers*Messages when
	// nothing was lost.
	Received int           `json:"received"`
	P50      time.Duration `json:"p50"`
	P99      time.Duration `json:"p99"`
	Max      time.Duration `json:"max"`
	// Dropped counts viewers the hub dropped as too slow.
	Dropped uint64 `json:"dropped"`
	// HeapBefore is before any viewer connects, HeapConnected with every
	// viewer connected and the replay delivered, HeapAfter once all have
	// gone again.
	HeapBefore    uint64 `json:"heap_before"`
	HeapConnected uint64 `json:"heap_connected"`
	HeapAfter     uint64 `json:"heap_after"`
	// Goroutines while connected, for both ends.
	Goroutines int `json:"goroutines"`
}

// PerViewer is the heap each connected viewer costs, server and client
// side together.
func (r Result) PerViewer() uint64 {
	if r.Viewers == 0 || r.HeapConnected < r.HeapBefore {
		return 0
	}
	return (r.HeapConnected - r.HeapBefore) / uint64(r.Viewers)
}

// String is the one-line summary for reports.
func (r Result) String() string {
	return fmt.Sprintf("%d viewers × %d messages: received %d, publish→client p50 %s p99 %s max %s, dropped %d; "+
		"heap %s before, %s connected (%s per viewer, both ends), %s after; %d goroutines",
		r.Viewers, r.Messages, r.Received, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond),
		r.Max.Round(time.Microsecond), r.Dropped, mib(r.HeapBefore), mib(r.HeapConnected),
		kib(r.PerViewer()), mib(r.HeapAfter), r.Goroutines)
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
func kib(b uint64) string { return fmt.Sprintf("%.0f KiB", float64(b)/(1<<10)) }

// Run serves a hub on loopback, connects the viewers, publishes, and
// measures. It returns what it measured so far along with any error.
func Run(ctx context.Context, o Options) (Result, error) {
	o = o.withDefaults()
	res := Result{Viewers: o.Viewers, Messages: o.Messages}

	hub := dashboard.NewHub(dashboard.HubOptions{MaxSubscribers: o.Viewers + 1, SendBuffer: 256, Log: o.Log})
	if err := hub.SetView(SampleView(time.Now(), 20)); err != nil {
		return res, fmt.Errorf("dashbench: set view: %w", err)
	}
	mux := http.NewServeMux()
	// Every viewer dials from loopback: one client, as the handler counts.
	mux.Handle("/ws", dashboard.Handler(hub, dashboard.HandlerOptions{MaxPerClient: o.Viewers, Log: o.Log}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, fmt.Errorf("dashbench: listen on loopback: %w", err)
	}
	srv := httpserver.New(mux, httpserver.Timeouts{Write: writeTimeout}, o.Log)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "ws://" + ln.Addr().String() + "/ws"

	res.HeapBefore = heap()
	base := time.Now()
	sent := make([]atomic.Int64, o.Messages) // ns after base, per sequence number
	clients := make([]*client, 0, o.Viewers)
	defer func() {
		for _, c := range clients {
			c.conn.Close()
		}
	}()
	for i := range o.Viewers {
		c, err := dial(ctx, url, o.Messages)
		if err != nil {
			return res, fmt.Errorf("dashbench: viewer %d of %d: %w", i+1, o.Viewers, err)
		}
		clients = append(clients, c)
		go c.read(base, sent)
	}
	res.HeapConnected = heap()
	res.Goroutines = runtime.NumGoroutine()

	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for i := range o.Messages {
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("dashbench: publishing message %d: %w", i, ctx.Err())
		case <-tick.C:
		}
		now := time.Now()
		sent[i].Store(int64(now.Sub(base)))
		if err := hub.Publish(dashboard.RateMessage(dashboard.RateSample{T: now, Rate: float64(i)})); err != nil {
			return res, fmt.Errorf("dashbench: publish %d: %w", i, err)
		}
	}

	// Wait for every client to have all messages, or to have failed.
	var lat []time.Duration
	var errs []error
	for _, c := range clients {
		select {
		case <-c.done:
		case <-ctx.Done():
			c.conn.Close()
			<-c.done
		}
		res.Received += len(c.lat)
		lat = append(lat, c.lat...)
		if c.err != nil && len(c.lat) < o.Messages {
			errs = append(errs, c.err)
		}
	}
	res.Dropped = hub.Stats().Dropped
	res.P50, res.P99, res.Max = quantiles(lat)
	for _, c := range clients {
		c.conn.Close()
	}
	clients = nil
	srv.Close()
	// Let the handlers notice the closed connections before measuring.
	deadline := time.Now().Add(5 * time.Second)
	for hub.Stats().Subscribers > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	res.HeapAfter = heap()
	if len(errs) > 0 {
		return res, fmt.Errorf("dashbench: %d of %d viewers failed: %w", len(errs), o.Viewers, errors.Join(errs[:min(3, len(errs))]...))
	}
	return res, nil
}

// client is one viewer: it skips the replay and times the rate samples.
type client struct {
	conn *websocket.Conn
	want int
	lat  []time.Duration
	err  error
	done chan struct{}
}

func dial(ctx context.Context, url string, want int) (*client, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 512}
	conn, resp, err := d.DialContext(ctx, url, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	// The first message is the replayed view: once it is here, the hub
	// has the viewer subscribed and will send it everything published.
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := conn.ReadMessage(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("read replay: %w", err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	return &client{conn: conn, want: want, lat: make([]time.Duration, 0, want), done: make(chan struct{})}, nil
}

func (c *client) read(base time.Time, sent []atomic.Int64) {
	defer close(c.done)
	var m struct {
		Type   string                `json:"type"`
		Sample *dashboard.RateSample `json:"sample"`
	}
	for len(c.lat) < c.want {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.err = err
			return
		}
		m.Sample = nil
		if err := json.Unmarshal(data, &m); err != nil {
			c.err = fmt.Errorf("decode %q: %w", data, err)
			return
		}
		if m.Type != dashboard.TypeRate || m.Sample == nil {
			continue
		}
		i := int(m.Sample.Rate)
		if i < 0 || i >= len(sent) {
			continue
		}
		c.lat = append(c.lat, time.Since(base)-time.Duration(sent[i].Load()))
	}
}

// quantiles returns p50, p99 and the maximum (nearest rank).
func quantiles(d []time.Duration) (p50, p99, worst time.Duration) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return rank(0.50), rank(0.99), s[len(s)-1]
}

// heap returns the live heap after a full collection.
func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// SampleView is a realistic screen: three nodes and n failovers, so the
// replayed view has the size it has at a busy booth.
func SampleView(at time.Time, n int) dashboard.View {
	lag := int64(0)
	v := dashboard.View{
		Cluster: dashboard.Cluster{Scope: "booth", Leader: "n1", Timings: dashboard.Timings{Name: "aggressive",
			TTL: 5, LoopWait: 1, RetryTimeout: 2, EffectiveTTL: 5, EffectiveRetryTimeout: 2, PatroniVersion: "3.0.2"}},
		Probe:     dashboard.Probe{Rate: 98, LastAck: at, Acks: 100000},
		Reference: dashboard.DefaultReference(),
	}
	for i, role := range []cluster.Role{cluster.RolePrimary, cluster.RoleReplica, cluster.RoleReplica} {
		v.Nodes = append(v.Nodes, dashboard.Node{Name: fmt.Sprintf("n%d", i+1), Power: "on", Agent: true, Role: role,
			State: "running", Timeline: n + 1, LagBytes: &lag, Switch: &dashboard.Switch{ID: i + 1, On: true}})
	}
	for i := range n {
		v.Failovers = append(v.Failovers, dashboard.Failover{ID: fmt.Sprintf("f%d", i+1),
			StartedAt: at.Add(-time.Duration(n-i) * time.Minute), DurationS: 5.1, OldPrimary: "n2", NewPrimary: "n1",
			Cause:  "power cut on n2 (switch 2)",
			Phases: []dashboard.Phase{{Name: "lease expiry", OffsetS: 4.6}, {Name: "promotion", OffsetS: 4.8}, {Name: "routing", OffsetS: 5.1}}})
	}
	return v
}
