package writable

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/journal"
)

// ApplicationName is the watcher's application_name unless the DSN sets
// one, so operators can tell its connections from the probe's.
const ApplicationName = "redswitch-writable"

// Recorder receives the watcher's events; the head node's event log is one.
type Recorder interface {
	Append(e journal.Event) (journal.Event, error)
}

// Node is one database node to watch.
type Node struct {
	Name string
	// Address is the node's host as the head node reaches it.
	Address string
	// Port is its PostgreSQL port; cluster.PostgresPort when zero.
	Port int
}

// Options configure a Watcher; zero durations take the defaults noted.
type Options struct {
	Nodes []Node
	// DSN is a postgres:// URL whose user, password, database and
	// parameters serve for every node: its host and port are replaced by
	// each node's. The probe's DSN (through HAProxy) is the usual one.
	DSN string
	// Interval between polls of one node (10 ms, the probe's pace, so
	// the writable phase is as sharp as the first commit).
	Interval time.Duration
	// ConnectTimeout bounds one connection attempt (1 s).
	ConnectTimeout time.Duration
	// QueryTimeout bounds one poll; a poll that hangs (a node cut
	// silently) drops the connection after it (1 s).
	QueryTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between failed connection
	// attempts, doubled after each (50 ms, 1 s): short, since a node that
	// comes back as primary must be seen soon.
	MinBackoff, MaxBackoff time.Duration
	Record                 Recorder
	// Clock stamps the polls; the journal's clock, so the writable phase
	// and the probe's commits share one time base.
	Clock func() time.Time
	Log   *slog.Logger
}

func (o *Options) defaults() {
	if o.Interval <= 0 {
		o.Interval = 10 * time.Millisecond
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = time.Second
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 50 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(time.Second, o.MinBackoff)
	}
	if o.Clock == nil {
		o.Clock = journal.NewClock().Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Watcher polls every node's PostgreSQL and records when one becomes
// writable. Run it once.
type Watcher struct {
	o     Options
	nodes []watched

	mu     sync.Mutex
	states map[string]State
}

type watched struct {
	name string
	cfg  *pgx.ConnConfig
}

// New checks the options and builds each node's connection settings; a
// DSN that does not parse is a configuration error, never retried.
func New(o Options) (*Watcher, error) {
	o.defaults()
	if o.Record == nil {
		return nil, errors.New("writable watcher: no recorder")
	}
	if len(o.Nodes) == 0 {
		return nil, errors.New("writable watcher: no nodes")
	}
	w := &Watcher{o: o, states: map[string]State{}}
	for _, n := range o.Nodes {
		dsn, err := NodeDSN(o.DSN, n.Address, n.Port)
		if err != nil {
			return nil, fmt.Errorf("writable watcher: node %s: %w", n.Name, err)
		}
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("writable watcher: node %s: DSN does not parse", n.Name)
		}
		cfg.ConnectTimeout = o.ConnectTimeout
		if cfg.RuntimeParams["application_name"] == "" {
			cfg.RuntimeParams["application_name"] = ApplicationName
		}
		w.nodes = append(w.nodes, watched{name: n.Name, cfg: cfg})
	}
	return w, nil
}

// NodeDSN is template with its host and port replaced by address and port
// (cluster.PostgresPort when 0). Errors never quote the password.
func NodeDSN(template, address string, port int) (string, error) {
	if address == "" {
		return "", errors.New("no address")
	}
	if port == 0 {
		port = cluster.PostgresPort
	}
	u, err := url.Parse(template)
	if err != nil {
		// url.Error quotes the whole URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("DSN: not a valid URL: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		// Not quoted: a key=value DSN would show its password.
		return "", errors.New("DSN: want a postgres:// URL")
	}
	u.Host = net.JoinHostPort(address, strconv.Itoa(port))
	// A host= parameter would override the URL's host in pgx.
	q := u.Query()
	q.Del("host")
	q.Del("port")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// States returns what the last poll of each node saw.
func (w *Watcher) States() map[string]State {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]State, len(w.states))
	for k, v := range w.states {
		out[k] = v
	}
	return out
}

// Run polls every node until ctx ends, then returns nil: a node that does
// not answer is what the watcher is there to see, not an error.
func (w *Watcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, n := range w.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.watch(ctx, n)
		}()
	}
	wg.Wait()
	return nil
}

// watch keeps one connection to node and polls it every interval;
// after a failure it reconnects with a doubling backoff.
func (w *Watcher) watch(ctx context.Context, n watched) {
	o := w.o
	log := o.Log.With("node", n.name)
	tr := &Tracker{Node: n.name}
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			closeQuietly(ctx, conn)
		}
	}()
	backoff := time.Duration(0)
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	for {
		wait := t.C
		var timer <-chan time.Time
		if backoff > 0 {
			wait, timer = nil, time.After(backoff)
		}
		select {
		case <-ctx.Done():
			return
		case <-wait:
		case <-timer:
		}
		sent := o.Clock()
		var p Poll
		if conn == nil {
			c, err := connect(ctx, n.cfg, o.ConnectTimeout)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				p = Poll{Sent: sent, Received: o.Clock(), Err: err}
				backoff = min(max(2*backoff, o.MinBackoff), o.MaxBackoff)
				w.observe(tr, p, log)
				continue
			}
			conn, backoff = c, 0
			// The poll starts now, not when the connection attempt did.
			sent = o.Clock()
		}
		p = poll(ctx, conn, sent, o)
		if p.Err != nil {
			if ctx.Err() != nil {
				return
			}
			// The connection's state is unknown after a failed or
			// cancelled query: start afresh.
			closeQuietly(ctx, conn)
			conn, backoff = nil, o.MinBackoff
		}
		w.observe(tr, p, log)
	}
}

func connect(ctx context.Context, cfg *pgx.ConnConfig, timeout time.Duration) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return pgx.ConnectConfig(cctx, cfg)
}

// poll asks the node once; sent is the poll's send time on the journal's
// clock, taken before the round trip.
func poll(ctx context.Context, conn *pgx.Conn, sent time.Time, o Options) Poll {
	qctx, cancel := context.WithTimeout(ctx, o.QueryTimeout)
	defer cancel()
	var inRecovery bool
	err := conn.QueryRow(qctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery)
	return Poll{Sent: sent, Received: o.Clock(), InRecovery: inRecovery, Err: err}
}

// observe feeds the tracker and acts on its outcome: the event is
// recorded, a new kind of failure and the recovery from failures are
// logged once each.
func (w *Watcher) observe(tr *Tracker, p Poll, log *slog.Logger) {
	out := tr.Observe(p)
	w.mu.Lock()
	w.states[tr.Node] = tr.State()
	w.mu.Unlock()
	switch {
	case out.ErrChanged:
		log.Warn("writable watcher: node not answering; retrying quietly", "cause", out.Cause)
	case out.Recovered:
		log.Info("writable watcher: node answers again", "state", tr.State().String())
	}
	if !out.Writable {
		return
	}
	log.Info("writable watcher: node accepts writes", "detail", out.Event.Detail,
		"since_previous_poll", out.Event.At.Sub(out.Event.FirstAt))
	if _, err := w.o.Record.Append(out.Event); err != nil {
		log.Error("writable watcher: recording the writable event failed", "err", err)
	}
}

// closeQuietly closes conn within a short bound, also after ctx ended: a
// node cut silently would hold a polite goodbye forever.
func closeQuietly(ctx context.Context, conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 200*time.Millisecond)
	defer cancel()
	_ = conn.Close(ctx)
}
