package probe

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/redswitch/redswitch/journal"
)

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func errorEventsOf(events []journal.Event) []journal.Event {
	var out []journal.Event
	for _, e := range events {
		if e.Kind == journal.KindProbeError {
			out = append(out, e)
		}
	}
	return out
}

// TestDeadPort runs the live probe against a closed port: the first
// failure is journaled at once (a crash then keeps the outage's start), the
// repeats as one counted event per FlushEvery, and together they account
// for every failure, numbers without a gap. It logs the event rate, which
// was one event per failure before compaction.
func TestDeadPort(t *testing.T) {
	const flushEvery = 300 * time.Millisecond
	rec := &memRecorder{}
	p := New(Options{DSN: "postgres://x:y@" + deadAddr(t) + "/db?sslmode=disable", FlushEvery: flushEvery})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- p.Run(ctx, rec) }()

	// Mid-run, as a crash would find the journal: the run's first failure
	// is there, its repeats are not yet.
	waitFor(t, 2*time.Second, "20 failures", func() bool { return p.Stats().Errors >= 20 })
	mid := errorEventsOf(rec.events())
	if len(mid) == 0 || mid[0].Count != 0 || mid[0].Seqno == 0 || mid[0].Error != "connection refused" || mid[0].Detail != "connect" {
		t.Fatalf("after 20 failures the journal holds %+v, want the first failure on its own", mid)
	}
	time.Sleep(time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)

	events := rec.events()
	errs := errorEventsOf(events)
	failures := p.Stats().Errors
	total, next := 0, errs[0].Seqno
	for i, e := range errs {
		if e.SQLState != "" || e.Error != "connection refused" || e.Detail != "connect" {
			t.Errorf("event %d = %+v, want connection refused on connect", i, e)
		}
		if e.Seqno != next {
			t.Errorf("event %d starts at seq %d, want %d (no gap, no overlap)", i, e.Seqno, next)
		}
		if i > 0 && (e.Count < 1 || e.LastAt.Before(e.At) || e.At.Sub(errs[i-1].ErrorEnd()) > flushEvery) {
			t.Errorf("event %d = %+v: want counted repeats following the previous event", i, e)
		}
		next = lastSeqOf(e) + 1
		total += e.ErrorCount()
	}
	if uint64(total) != failures {
		t.Errorf("journal counts %d failures, the probe made %d", total, failures)
	}
	// One start event, then at most one event per flushEvery.
	if limit := 2 + int(took/flushEvery); len(errs) > limit {
		t.Errorf("%d error events in %v, want at most %d", len(errs), took.Round(time.Millisecond), limit)
	}
	bytes := 0
	for _, e := range events {
		b, _ := json.Marshal(e)
		bytes += len(b) + 1
	}
	t.Logf("dead port for %v: %d failures (%.0f/s, each one journal event before compaction), now %d events (%.1f/s, %d bytes, %.2f MB/h)",
		took.Round(time.Millisecond), failures, float64(failures)/took.Seconds(), len(events), float64(len(events))/took.Seconds(),
		bytes, float64(bytes)/took.Seconds()*3600/1e6)
}

// TestErrorChangeEndsRun: when the error changes, the first run's repeats
// are journaled and the new error is journaled at once, on its own.
func TestErrorChangeEndsRun(t *testing.T) {
	addr := deadAddr(t)
	rec := &memRecorder{}
	p := New(Options{DSN: "postgres://x:y@" + addr + "/db?sslmode=disable", FlushEvery: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, rec) }()
	waitFor(t, 2*time.Second, "10 refused connections", func() bool { return p.Stats().Errors >= 10 })
	if errs := errorEventsOf(rec.events()); len(errs) != 1 {
		t.Fatalf("while refused: %+v, want the first failure only (flush is an hour away)", errs)
	}
	// Now something listens and hangs up at once: another error class.
	l, err := net.Listen("tcp", addr)
	if err != nil {
		// The port was ours a moment ago; losing it is a failure to see,
		// not a prerequisite to skip for.
		t.Fatalf("cannot listen on %s again: %v", addr, err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	refused := p.Stats().Errors
	other := func(e journal.Event) bool { return e.Kind == journal.KindProbeError && e.Error != "connection refused" }
	waitFor(t, 2*time.Second, "the new error in the journal", func() bool { return rec.count(other) > 0 })
	// (A peer hanging up reads as "connection closed" or "connection reset",
	// whichever the race gives, so only the first three events are fixed.)
	errs := errorEventsOf(rec.events())
	if len(errs) < 3 || other(errs[0]) || errs[0].Count != 0 || other(errs[1]) || errs[1].Count < 2 || !other(errs[2]) || errs[2].Count != 0 {
		t.Fatalf("after the change: %+v, want refused, its counted repeats, the new error on its own", errs)
	}
	if got := uint64(errs[0].ErrorCount() + errs[1].ErrorCount()); got < refused-1 || got > refused+1 {
		t.Errorf("refused run counts %d, the probe had %d refused when the listener came", got, refused)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, e := range rec.events() {
		total += e.ErrorCount()
	}
	if uint64(total) != p.Stats().Errors {
		t.Errorf("journal counts %d failures after stop, the probe made %d", total, p.Stats().Errors)
	}
}
