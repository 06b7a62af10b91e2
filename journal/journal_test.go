package journal

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// day0 is the day of the records line writes: a journal opened with it
// as its Now keeps appending to the segment those records are in.
func day0() time.Time { return time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC) }

func line(seq uint64, kind Kind) string {
	return fmt.Sprintf(`{"seq":%d,"at":"2025-01-01T00:00:00Z","kind":%q}`, seq, kind) + "\n"
}

func TestOpenReadsBack(t *testing.T) {
	good := line(1, KindMark) + line(2, KindPower) + line(3, KindMark)
	tests := []struct {
		name     string
		content  string
		wantSeqs []uint64
		// wantWarn are substrings of the log, e.g. "000001.jsonl:4".
		wantWarn []string
		// wantFile is the file after Open; "" means unchanged.
		wantFile string
		wantTorn string
	}{
		{name: "empty", content: "", wantSeqs: nil},
		{name: "clean", content: good, wantSeqs: []uint64{1, 2, 3}},
		{
			name:     "torn last line without newline",
			content:  good + `{"seq":4,"at":"2025-01-01T00:00:00Z","ki`,
			wantSeqs: []uint64{1, 2, 3},
			wantWarn: []string{"000001.jsonl:4", "torn"},
			wantFile: good,
			wantTorn: `{"seq":4,"at":"2025-01-01T00:00:00Z","ki` + "\n",
		},
		{
			name:     "complete but unparsable last line",
			content:  good + "\x00\x00\x00\n",
			wantSeqs: []uint64{1, 2, 3},
			wantWarn: []string{"000001.jsonl:4", "torn"},
			wantFile: good,
			wantTorn: "\x00\x00\x00\n\n",
		},
		{
			name:     "valid record without newline is still torn",
			content:  good + strings.TrimSuffix(line(4, KindMark), "\n"),
			wantSeqs: []uint64{1, 2, 3},
			wantWarn: []string{"000001.jsonl:4"},
			wantFile: good,
			wantTorn: line(4, KindMark),
		},
		{
			name:     "invalid middle line is skipped and kept",
			content:  line(1, KindMark) + "garbage\n" + line(3, KindMark),
			wantSeqs: []uint64{1, 3},
			wantWarn: []string{"000001.jsonl:2", "invalid line"},
		},
		{
			name:     "record without kind in the middle",
			content:  line(1, KindMark) + `{"seq":2}` + "\n" + line(3, KindMark),
			wantSeqs: []uint64{1, 3},
			wantWarn: []string{"000001.jsonl:2", "without kind"},
		},
		{
			name:     "invalid middle and torn last",
			content:  line(1, KindMark) + "{}\n" + line(3, KindMark) + `{"se`,
			wantSeqs: []uint64{1, 3},
			wantWarn: []string{"000001.jsonl:2", "000001.jsonl:4"},
			wantFile: line(1, KindMark) + "{}\n" + line(3, KindMark),
			wantTorn: `{"se` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "journal")
			path := filepath.Join(dir, "000001.jsonl")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			j, events, err := Open(dir, log, Options{Now: day0})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			var seqs []uint64
			for _, e := range events {
				seqs = append(seqs, e.Seq)
			}
			if fmt.Sprint(seqs) != fmt.Sprint(tt.wantSeqs) {
				t.Errorf("seqs = %v, want %v", seqs, tt.wantSeqs)
			}
			for _, w := range tt.wantWarn {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, logs.String())
				}
			}
			if len(tt.wantWarn) == 0 && logs.Len() > 0 {
				t.Errorf("unexpected log:\n%s", logs.String())
			}
			// Appending after Open must produce a readable next record.
			e, err := j.Append(Event{Kind: KindMark, Detail: "after"})
			if err != nil {
				t.Fatal(err)
			}
			var wantNext uint64 = 1
			if n := len(tt.wantSeqs); n > 0 {
				wantNext = tt.wantSeqs[n-1] + 1
			}
			if e.Seq != wantNext {
				t.Errorf("next seq = %d, want %d", e.Seq, wantNext)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(path)
			wantFile := tt.content
			if tt.wantFile != "" {
				wantFile = tt.wantFile
			}
			if !strings.HasPrefix(string(data), wantFile) {
				t.Errorf("file after open = %q, want prefix %q", data, wantFile)
			}
			torn, _ := os.ReadFile(path + ".torn")
			if string(torn) != tt.wantTorn {
				t.Errorf("torn file = %q, want %q", torn, tt.wantTorn)
			}
			// A second open finds no torn line any more.
			logs.Reset()
			j2, events2, err := Open(dir, log, Options{Now: day0})
			if err != nil {
				t.Fatal(err)
			}
			defer j2.Close()
			if got := events2[len(events2)-1]; got.Seq != wantNext || got.Detail != "after" {
				t.Errorf("reopened last event = %+v, want seq %d detail after", got, wantNext)
			}
			if strings.Contains(logs.String(), "torn last line") {
				t.Errorf("second open still sees a torn line:\n%s", logs.String())
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	tests := []struct {
		name    string
		dir     func(t *testing.T) string
		wantErr string
	}{
		{
			name:    "missing parent directory",
			dir:     func(t *testing.T) string { return filepath.Join(t.TempDir(), "no", "such", "journal") },
			wantErr: "journal: open",
		},
		{
			name: "a file where the directory belongs",
			dir: func(t *testing.T) string {
				p := filepath.Join(t.TempDir(), "journal.jsonl")
				if err := os.WriteFile(p, []byte(line(1, KindMark)), 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			},
			wantErr: "is a file, not a journal directory",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, _, err := Open(tt.dir(t), nil, Options{})
			if err == nil {
				j.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestReopenContinuesSeq(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	for round := range 3 {
		j, events, err := Open(path, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != round*2 {
			t.Fatalf("round %d: read %d events, want %d", round, len(events), round*2)
		}
		for i := range 2 {
			e, err := j.Append(Event{Kind: KindMark, Detail: fmt.Sprint(round)})
			if err != nil {
				t.Fatal(err)
			}
			if want := uint64(round*2 + i + 1); e.Seq != want {
				t.Fatalf("round %d: seq %d, want %d", round, e.Seq, want)
			}
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConcurrentAppends(t *testing.T) {
	for _, segSize := range []int64{0, 4 << 10} {
		t.Run(fmt.Sprintf("segment size %d", segSize), func(t *testing.T) {
			concurrentAppends(t, Options{SyncInterval: time.Millisecond, SegmentSize: segSize})
		})
	}
}

// concurrentAppends races writers, forced fsyncs, the flusher and (with a
// small segment size) new segments, then checks the order on disk.
func concurrentAppends(t *testing.T, opts Options) {
	path := filepath.Join(t.TempDir(), "journal")
	j, _, err := Open(path, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				kind := KindMark
				if i%50 == 0 {
					kind = KindPower // forces a concurrent fsync now and then
				}
				if _, err := j.Append(Event{Kind: kind, Node: fmt.Sprint(w), Detail: fmt.Sprint(i)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j2, events, err := Open(path, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if len(events) != writers*each {
		t.Fatalf("read %d events, want %d", len(events), writers*each)
	}
	for i, e := range events {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d: lines out of order", i, e.Seq)
		}
	}
}

func TestSyncPolicy(t *testing.T) {
	j, _, err := Open(filepath.Join(t.TempDir(), "journal"), nil, Options{SyncInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	synced := func() (uint64, uint64) {
		j.syncMu.Lock()
		defer j.syncMu.Unlock()
		j.mu.Lock()
		defer j.mu.Unlock()
		return j.synced, j.seq
	}
	steps := []struct {
		name       string
		append     func() error
		wantSynced bool
	}{
		{"mark waits for the flusher", func() error { _, err := j.Append(Event{Kind: KindMark}); return err }, false},
		{"power is synced at once", func() error { _, err := j.Append(Event{Kind: KindPower}); return err }, true},
		{"probe ack waits", func() error { _, err := j.Append(Event{Kind: KindProbeAck}); return err }, false},
		{"AppendSync syncs any kind", func() error { _, err := j.AppendSync(Event{Kind: KindProbeAck}); return err }, true},
		{"Write of a power event does not sync", func() error { _, err := j.Write(Event{Kind: KindPower}); return err }, false},
		{"WaitDurable of a mark does not sync", func() error {
			e, err := j.Write(Event{Kind: KindMark})
			if err != nil {
				return err
			}
			return j.WaitDurable(e)
		}, false},
		{"WaitDurable of a power event syncs", func() error {
			e, err := j.Write(Event{Kind: KindPower})
			if err != nil {
				return err
			}
			return j.WaitDurable(e)
		}, true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := s.append(); err != nil {
				t.Fatal(err)
			}
			got, gen := synced()
			if (got == gen) != s.wantSynced {
				t.Errorf("synced %d of %d writes, want synced=%v", got, gen, s.wantSynced)
			}
		})
	}
}

func TestBackgroundFlusher(t *testing.T) {
	j, _, err := Open(filepath.Join(t.TempDir(), "journal"), nil, Options{SyncInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := j.Append(Event{Kind: KindMark}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		j.syncMu.Lock()
		s := j.synced
		j.syncMu.Unlock()
		if s == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("background flusher did not sync within 2s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSubscribe(t *testing.T) {
	j, _, err := Open(filepath.Join(t.TempDir(), "journal"), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fast, cancelFast := j.Subscribe(10)
	slow, cancelSlow := j.Subscribe(1)
	defer cancelSlow()
	for i := range 3 {
		if _, err := j.Append(Event{Kind: KindMark, Detail: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		e := <-fast
		if e.Seq != uint64(i+1) || e.Detail != fmt.Sprint(i) {
			t.Errorf("fast got %+v, want seq %d", e, i+1)
		}
	}
	if e := <-slow; e.Seq != 1 {
		t.Errorf("slow got seq %d, want 1", e.Seq)
	}
	if d := j.Dropped(); d != 2 {
		t.Errorf("dropped = %d, want 2", d)
	}
	cancelFast()
	cancelFast() // idempotent
	if _, ok := <-fast; ok {
		t.Error("fast channel still open after cancel")
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-slow; ok {
		t.Error("slow channel still open after Close")
	}
	if _, err := j.Append(Event{Kind: KindMark}); err != ErrClosed {
		t.Errorf("append after close: %v, want ErrClosed", err)
	}
	if _, err := j.Append(Event{}); err == nil {
		t.Error("append without kind succeeded")
	}
}

func TestClock(t *testing.T) {
	c := NewClock()
	a := c.Now()
	time.Sleep(2 * time.Millisecond)
	b := c.Now()
	if d := b.Sub(a); d < 2*time.Millisecond {
		t.Errorf("clock advanced %v over a 2ms sleep", d)
	}
	if d := time.Since(b); d < -time.Second || d > time.Second {
		t.Errorf("clock is %v away from the wall clock", d)
	}
	// Stripped of its monotonic reading (as after JSON), the difference holds.
	if d := b.Round(0).Sub(a.Round(0)); d < 2*time.Millisecond {
		t.Errorf("wall difference %v, want >= 2ms", d)
	}
}
