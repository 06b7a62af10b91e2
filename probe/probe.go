package probe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe/analysis"
)

// Recorder receives the probe's events; *journal.Journal is one.
type Recorder interface {
	Append(e journal.Event) (journal.Event, error)
}

// DefaultTable is the table the probe writes unless told otherwise.
const DefaultTable = "redswitch_probe"

// Options configure a Probe. Zero values take the defaults.
type Options struct {
	// DSN points at the primary, normally HAProxy's primary listener.
	DSN string
	// Interval between writes (10 ms).
	Interval time.Duration
	// ConnectTimeout bounds one connection attempt (1 s).
	ConnectTimeout time.Duration
	// StatementTimeout bounds one statement; a hung connection is dropped
	// after it (500 ms).
	StatementTimeout time.Duration
	// Table is the probe table, optionally schema-qualified ("redswitch_probe").
	Table string
	// StartAfter is the highest sequence number an earlier run used (see
	// LastSeq); numbering continues after it and after the table's maximum.
	StartAfter uint64
	// CompactGap closes an ack range when acks are further apart (50 ms).
	CompactGap time.Duration
	// FlushEvery bounds how long an ack range stays open, and how long the
	// repeats of a failing write stay unjournaled (1 s): a run of failures
	// alike is journaled as its first failure at once and then as at most
	// one counted event per FlushEvery (see journal.KindProbeError).
	FlushEvery time.Duration
	// OutageAfter is how long without an ack Stats calls an outage (250 ms).
	OutageAfter time.Duration
	// AuthBackoff is the longest wait between attempts with wrong
	// credentials (5 s); the first wait is 250 ms.
	AuthBackoff time.Duration
	// SetupDSN, when set, is a superuser login that, before the probe's
	// first login, creates the probe's own role (DSN's user and password)
	// with rights on its table only, and the table: the probe then writes
	// without superuser rights (a leaked probe password cannot run shell
	// commands on a node through COPY ... PROGRAM).
	SetupDSN string
	// Clock stamps everything; a new one when nil.
	Clock *journal.Clock
	Log   *slog.Logger
}

func (o *Options) defaults() {
	if o.Interval <= 0 {
		o.Interval = 10 * time.Millisecond
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = time.Second
	}
	if o.StatementTimeout <= 0 {
		o.StatementTimeout = 500 * time.Millisecond
	}
	if o.Table == "" {
		o.Table = DefaultTable
	}
	if o.CompactGap <= 0 {
		o.CompactGap = 50 * time.Millisecond
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = time.Second
	}
	if o.OutageAfter <= 0 {
		o.OutageAfter = 250 * time.Millisecond
	}
	if o.AuthBackoff <= 0 {
		o.AuthBackoff = 5 * time.Second
	}
	if o.Clock == nil {
		o.Clock = journal.NewClock()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// ApplicationName is the probe's application_name unless the DSN sets one.
const ApplicationName = "redswitch-probe"

// Probe writes numbered rows and records the outcome. Run it once.
type Probe struct {
	o     Options
	table string // sanitized identifier

	mu sync.Mutex
	st state
}

// New returns a probe; nothing happens until Run.
func New(o Options) *Probe {
	o.defaults()
	return &Probe{o: o, table: tableIdent(o.Table), st: state{bySQLState: map[string]uint64{}}}
}

// tableIdent quotes a possibly schema-qualified table name.
func tableIdent(name string) string {
	return pgx.Identifier(strings.Split(name, ".")).Sanitize()
}

// Stats returns the current state of the probe.
func (p *Probe) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st.snapshot(p.o.Clock.Now(), p.o.OutageAfter)
}

// ErrTableShape is returned by Run when the probe table exists with columns
// the probe cannot write.
var ErrTableShape = errors.New("probe table has the wrong shape")

// connConfig parses the DSN once; a bad DSN is a configuration error, not
// something to retry.
func (p *Probe) connConfig() (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(p.o.DSN)
	if err != nil {
		return nil, fmt.Errorf("probe: DSN: %w", err)
	}
	cfg.ConnectTimeout = p.o.ConnectTimeout
	if cfg.RuntimeParams["application_name"] == "" {
		// Lets operators (and tests) find the probe in pg_stat_activity.
		cfg.RuntimeParams["application_name"] = ApplicationName
	}
	return cfg, nil
}

// run is the state of one Run.
type run struct {
	p       *Probe
	rec     Recorder
	cfg     *pgx.ConnConfig
	conn    *pgx.Conn
	seq     uint64
	acks    compactor
	errs    errorRuns
	failing bool // an error since the last ack
	since   time.Time

	authFailing bool
	authWait    time.Duration
	nextTry     time.Time
	recErr      string
	// prepared is set once the table was checked: a reconnect during a
	// failover must not spend round trips on it again, or the probe would
	// see a longer outage than a plain client.
	prepared  bool
	setupDone bool
}

// Run writes one row per interval until ctx ends, recording acks and errors
// with rec. It returns nil when ctx ends, and an error only for what
// retrying cannot fix (a probe table of the wrong shape).
func (p *Probe) Run(ctx context.Context, rec Recorder) error {
	cfg, err := p.connConfig()
	if err != nil {
		return err
	}
	r := &run{p: p, rec: rec, cfg: cfg, seq: p.o.StartAfter,
		acks: compactor{gap: p.o.CompactGap, flushEvery: p.o.FlushEvery},
		errs: errorRuns{flushEvery: p.o.FlushEvery}}
	now := p.o.Clock.Now()
	p.mu.Lock()
	p.st.running, p.st.started = true, now
	p.mu.Unlock()
	r.record(journal.Event{At: now, Kind: journal.KindMark, Source: analysis.ProbeSource, Detail: analysis.ProbeStartDetail})
	p.o.Log.Info("probe: started", "table", p.o.Table, "interval", p.o.Interval, "start_after", p.o.StartAfter)
	defer func() {
		if e, ok := r.acks.flush(); ok {
			r.record(e)
		}
		if e, ok := r.errs.end(); ok {
			r.record(e)
		}
		r.disconnect()
		p.mu.Lock()
		p.st.running, p.st.connected = false, false
		p.mu.Unlock()
	}()
	t := time.NewTicker(p.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := r.step(ctx); err != nil {
			return err
		}
	}
}

// step makes one attempt: connect if needed, then write the next row.
func (r *run) step(ctx context.Context) error {
	p := r.p
	now := p.o.Clock.Now()
	if r.acks.due(now) {
		if e, ok := r.acks.flush(); ok {
			r.record(e)
		}
	}
	if r.errs.due(now) {
		if e, ok := r.errs.flush(); ok {
			r.record(e)
		}
	}
	if r.conn == nil && now.Before(r.nextTry) {
		return nil // backing off after wrong credentials
	}
	r.seq++
	p.mu.Lock()
	p.st.seq = r.seq
	p.mu.Unlock()
	sent := now
	if r.conn == nil {
		if err := r.connect(ctx); err != nil {
			if errors.Is(err, ErrTableShape) {
				p.o.Log.Error("probe: giving up", "err", err)
				return err
			}
			r.failed(ctx, "connect", sent, err)
			return nil
		}
	}
	node, tl, err := r.insert(ctx)
	if err != nil {
		r.failed(ctx, "insert", sent, err)
		return nil
	}
	r.acked(node, tl, sent, p.o.Clock.Now())
	return nil
}

func (r *run) connect(ctx context.Context) error {
	p := r.p
	if err := r.setup(ctx); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, p.o.ConnectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, r.cfg)
	if err != nil {
		return err
	}
	if !r.prepared {
		if err := r.prepareTable(ctx, conn); err != nil {
			closeQuietly(conn)
			return err
		}
		r.prepared = true
	}
	r.conn = conn
	if r.authFailing {
		p.o.Log.Info("probe: authenticated again")
	}
	r.authFailing, r.authWait, r.nextTry = false, 0, time.Time{}
	p.mu.Lock()
	p.st.connected = true
	p.mu.Unlock()
	return nil
}

// prepareTable creates the probe table if it is missing, checks its shape,
// and moves the numbering past the rows already in it, so a new run never
// collides with an old one.
func (r *run) prepareTable(ctx context.Context, conn *pgx.Conn) error {
	p := r.p
	sctx, cancel := context.WithTimeout(ctx, p.o.StatementTimeout)
	defer cancel()
	cols, err := tableColumns(sctx, conn, p.table)
	if err != nil {
		return fmt.Errorf("inspect table: %w", err)
	}
	if len(cols) == 0 {
		if _, err := conn.Exec(sctx, tableDDL(p.table)); err != nil {
			return err
		}
		p.o.Log.Info("probe: created table", "table", p.o.Table)
	} else if err := checkShape(cols); err != nil {
		return fmt.Errorf("%w: %s: %w (drop it or choose another table)", ErrTableShape, p.o.Table, err)
	}
	var top int64
	if err := conn.QueryRow(sctx, "SELECT coalesce(max(seq), 0) FROM "+p.table).Scan(&top); err != nil {
		return err
	}
	if top > 0 && uint64(top) >= r.seq {
		p.o.Log.Info("probe: continuing after the table's highest seq", "seq", top)
		r.seq = uint64(top) + 1 // this step's attempt takes the next number
		p.mu.Lock()
		p.st.seq = r.seq
		p.mu.Unlock()
	}
	return nil
}

func tableColumns(ctx context.Context, conn *pgx.Conn, table string) (map[string]string, error) {
	rows, err := conn.Query(ctx, `SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		cols[name] = typ
	}
	return cols, rows.Err()
}

// checkShape tells what is wrong with an existing probe table.
func checkShape(cols map[string]string) error {
	var problems []string
	for _, c := range []struct{ name, typ string }{{"seq", "bigint"}, {"node", "text"}, {"tl", "integer"}} {
		switch got, ok := cols[c.name]; {
		case !ok:
			problems = append(problems, fmt.Sprintf("column %s is missing", c.name))
		case got != c.typ:
			problems = append(problems, fmt.Sprintf("column %s is %s, want %s", c.name, got, c.typ))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// insert writes row r.seq. The serving node names itself through the
// custom setting redswitch.node; its timeline is the first 8 hex digits of
// the current WAL file name, which changes on every promotion.
func (r *run) insert(ctx context.Context) (string, int, error) {
	sctx, cancel := context.WithTimeout(ctx, r.p.o.StatementTimeout)
	defer cancel()
	var node *string
	var tl int32
	err := r.conn.QueryRow(sctx, "INSERT INTO "+r.p.table+` (seq, node, tl) VALUES ($1,
		current_setting('redswitch.node', true),
		('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int)
		RETURNING node, tl`, int64(r.seq)).Scan(&node, &tl)
	if err != nil {
		return "", 0, err
	}
	if node == nil {
		return "", int(tl), nil
	}
	return *node, int(tl), nil
}

func (r *run) acked(node string, tl int, sent, at time.Time) {
	p := r.p
	// A commit ends the run of errors: its repeats go to the journal
	// before this ack's range can.
	if e, ok := r.errs.end(); ok {
		r.record(e)
	}
	if closed, ok := r.acks.ack(node, tl, r.seq, sent, at); ok {
		r.record(closed)
	}
	if r.failing {
		p.o.Log.Info("probe: commits resumed", "after", at.Sub(r.since).Round(time.Millisecond), "node", node, "timeline", tl)
		r.failing = false
	}
	p.mu.Lock()
	p.st.acks++
	p.st.rate.add(at)
	p.st.lastAck, p.st.node, p.st.tl = at, node, tl
	p.mu.Unlock()
}

func (r *run) failed(ctx context.Context, phase string, sent time.Time, err error) {
	p := r.p
	at := p.o.Clock.Now()
	// Flush first so the journal shows the last ack before the error.
	if closed, ok := r.acks.flush(); ok {
		r.record(closed)
	}
	r.disconnect()
	if ctx.Err() != nil {
		return // shutting down: not an error of the database
	}
	state, msg := classify(err)
	for _, e := range r.errs.add(journal.Event{At: at, Kind: journal.KindProbeError, Seqno: r.seq, SQLState: state,
		Error: msg, Detail: phase, SentAt: sent}) {
		r.record(e)
	}
	if !r.failing {
		r.failing, r.since = true, at
		p.o.Log.Warn("probe: write failed, retrying", "seq", r.seq, "sqlstate", state, "err", msg)
	}
	if isAuth(state) {
		if !r.authFailing {
			p.o.Log.Error("probe: authentication failed; check the user and password in the probe DSN, retrying with backoff",
				"sqlstate", state, "err", msg)
		}
		r.authFailing = true
		r.authWait = min(max(2*r.authWait, 250*time.Millisecond), p.o.AuthBackoff)
		r.nextTry = at.Add(r.authWait)
	}
	p.mu.Lock()
	p.st.errors++
	p.st.bySQLState[state]++
	p.st.lastErr, p.st.lastState = msg, state
	p.mu.Unlock()
}

// disconnect drops the connection without waiting on a dead peer. The
// probe reconnects after every error: HAProxy may route the next
// connection to another node.
func (r *run) disconnect() {
	if r.conn == nil {
		return
	}
	closeQuietly(r.conn)
	r.conn = nil
	r.p.mu.Lock()
	r.p.st.connected = false
	r.p.mu.Unlock()
}

func closeQuietly(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_ = conn.Close(ctx) // the connection is being abandoned; nothing to do on error
}

func (r *run) record(e journal.Event) {
	if _, err := r.rec.Append(e); err != nil {
		// Log once per distinct failure: at 100 writes/s a broken journal
		// would otherwise flood the log.
		if s := err.Error(); s != r.recErr {
			r.p.o.Log.Error("probe: cannot record event", "kind", e.Kind, "err", err)
			r.recErr = s
		}
		return
	}
	r.recErr = ""
}
