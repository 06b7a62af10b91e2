package forkbench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// sample is one committed transaction: when it began and how long it took.
type sample struct {
	start time.Time
	dur   time.Duration
}

// tpcb runs one pgbench-style TPC-B transaction (the default pgbench script).
func tpcb(ctx context.Context, conn *pgx.Conn, scale int, rng *rand.Rand) error {
	aid := rng.IntN(100000*scale) + 1
	tid := rng.IntN(10*scale) + 1
	bid := rng.IntN(scale) + 1
	delta := rng.IntN(10001) - 5000
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2", delta, aid); err != nil {
		return err
	}
	var bal int
	if err := tx.QueryRow(ctx, "SELECT abalance FROM pgbench_accounts WHERE aid = $1", aid).Scan(&bal); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2", delta, tid); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2", delta, bid); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)", tid, bid, aid, delta); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// load drives clients connections at a paced total rate and records every
// transaction's latency.
type load struct {
	mu      sync.Mutex
	samples []sample
	errs    int
	lastErr error
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// startLoad opens the connections first, so a failure to connect is
// reported at once.
func startLoad(ctx context.Context, dsn string, scale, clients int, rate float64) (*load, error) {
	ctx, cancel := context.WithCancel(ctx)
	l := &load{cancel: cancel}
	conns := make([]*pgx.Conn, 0, clients)
	for range clients {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			cancel()
			for _, c := range conns {
				c.Close(context.Background())
			}
			return nil, fmt.Errorf("load: connect: %w", err)
		}
		conns = append(conns, c)
	}
	interval := time.Duration(float64(time.Second) * float64(clients) / rate)
	for i, c := range conns {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer c.Close(context.Background())
			rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			// Stagger clients so their schedules interleave.
			next := time.Now().Add(time.Duration(i) * interval / time.Duration(clients))
			for {
				if d := time.Until(next); d > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(d):
					}
				}
				if ctx.Err() != nil {
					return
				}
				next = next.Add(interval)
				if behind := time.Since(next); behind > time.Second {
					next = time.Now() // do not burst to catch up after a stall
				}
				t0 := time.Now()
				err := tpcb(ctx, c, scale, rng)
				d := time.Since(t0)
				l.mu.Lock()
				if err != nil {
					if ctx.Err() == nil {
						l.errs++
						l.lastErr = err
					}
				} else {
					l.samples = append(l.samples, sample{t0, d})
				}
				l.mu.Unlock()
			}
		}()
	}
	return l, nil
}

func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

// window returns the latencies of transactions overlapping [from, to].
func (l *load) window(from, to time.Time) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return overlapping(l.samples, from, to)
}

func overlapping(ss []sample, from, to time.Time) []time.Duration {
	var out []time.Duration
	for _, s := range ss {
		if !s.start.After(to) && !s.start.Add(s.dur).Before(from) {
			out = append(out, s.dur)
		}
	}
	return out
}

func (l *load) errors() (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.errs, l.lastErr
}

// Latency is a latency summary in milliseconds.
type Latency struct {
	P50, P99, Max float64
	N             int
}

// Summarize computes nearest-rank percentiles; an empty input gives NaNs.
func Summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{P50: math.NaN(), P99: math.NaN(), Max: math.NaN()}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		i = max(0, min(i, len(s)-1))
		return ms(s[i])
	}
	return Latency{P50: rank(0.50), P99: rank(0.99), Max: ms(s[len(s)-1]), N: len(s)}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
