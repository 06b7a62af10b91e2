package journal

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultyFile injects write and fsync failures into a segment's file, and
// counts the fsyncs that reach the disk.
type faultyFile struct {
	WriteSyncer
	f *faults
}

type faults struct {
	mu                    sync.Mutex
	failWrite, halfWrite  bool
	failSync              bool
	syncs, syncsAfterFail int
	failed                bool
}

var errInjected = errors.New("injected: input/output error")

func (w faultyFile) Write(p []byte) (int, error) {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	switch {
	case w.f.failWrite:
		w.f.failed = true
		return 0, errInjected
	case w.f.halfWrite:
		w.f.failed = true
		n, _ := w.WriteSyncer.Write(p[:len(p)/2])
		return n, errInjected
	}
	return w.WriteSyncer.Write(p)
}

func (w faultyFile) Sync() error {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	if w.f.failed {
		w.f.syncsAfterFail++
	}
	if w.f.failSync {
		w.f.failed = true
		return errInjected
	}
	w.f.syncs++
	return w.WriteSyncer.Sync()
}

func (f *faults) set(fn func(f *faults)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func TestFailClosed(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		inject   func(f *faults)
		kind     Kind
		wantFail bool // the failing Append itself returns the error
	}{
		{name: "failed write", inject: func(f *faults) { f.failWrite = true }, kind: KindMark, wantFail: true},
		{name: "partial write", inject: func(f *faults) { f.halfWrite = true }, kind: KindMark, wantFail: true},
		{name: "failed fsync of a sync kind", inject: func(f *faults) { f.failSync = true }, kind: KindPower, wantFail: true},
		{name: "failed background fsync", opts: Options{SyncInterval: time.Millisecond},
			inject: func(f *faults) { f.failSync = true }, kind: KindProbeAck},
		{name: "failed fsync when a new segment starts", opts: Options{SegmentSize: 1},
			inject: func(f *faults) { f.failSync = true }, kind: KindMark, wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "journal")
			flt := &faults{}
			opts := tt.opts
			if opts.SyncInterval == 0 {
				opts.SyncInterval = time.Hour
			}
			opts.WrapFile = func(w WriteSyncer) WriteSyncer { return faultyFile{WriteSyncer: w, f: flt} }
			var logs bytes.Buffer
			j, _, err := Open(dir, slog.New(slog.NewTextHandler(&logs, nil)), opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := j.Append(Event{Kind: KindPower, Detail: "before"}); err != nil {
				t.Fatal(err)
			}
			if j.Err() != nil {
				t.Fatalf("Err() = %v before any failure", j.Err())
			}
			flt.set(tt.inject)
			_, err = j.Append(Event{Kind: tt.kind, Detail: "failing"})
			if tt.wantFail && (!errors.Is(err, ErrFailed) || !errors.Is(err, errInjected)) {
				t.Fatalf("failing append = %v, want ErrFailed wrapping the injected error", err)
			}
			if !tt.wantFail && err != nil {
				t.Fatalf("append before its background fsync = %v", err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for j.Err() == nil && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if err := j.Err(); !errors.Is(err, ErrFailed) || !strings.HasPrefix(err.Error(), "journal failed: ") {
				t.Fatalf("Err() = %v, want a journal failed: error", err)
			}
			// The disk "works" again: the journal must not believe it.
			flt.set(func(f *faults) { f.failWrite, f.halfWrite, f.failSync = false, false, false })
			for _, app := range []func(Event) (Event, error){j.Append, j.AppendSync, j.Write} {
				if _, err := app(Event{Kind: KindPower, Detail: "later"}); !errors.Is(err, ErrFailed) || !errors.Is(err, errInjected) {
					t.Errorf("append after the failure = %v, want the sticky error", err)
				}
			}
			if err := j.Close(); !errors.Is(err, ErrFailed) {
				t.Errorf("Close = %v, want the sticky error", err)
			}
			flt.mu.Lock()
			if flt.syncsAfterFail > 0 {
				t.Errorf("%d fsyncs after the failure: a later fsync proves nothing", flt.syncsAfterFail)
			}
			flt.mu.Unlock()
			if n := strings.Count(logs.String(), "refusing every later append"); n != 1 {
				t.Errorf("the failure was logged %d times, want once:\n%s", n, logs.String())
			}
			// A restart is the way back: what was written reads back clean.
			logs.Reset()
			j2, events, err := Open(dir, slog.New(slog.NewTextHandler(&logs, nil)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer j2.Close()
			if len(events) == 0 || events[0].Detail != "before" {
				t.Errorf("reopened events = %+v, want the record before the failure first", events)
			}
			for _, e := range events {
				if e.Detail == "later" {
					t.Errorf("an append after the failure was recorded: %+v", e)
				}
			}
			if strings.Contains(logs.String(), "torn") || strings.Contains(logs.String(), "invalid") {
				t.Errorf("reopen found damage:\n%s", logs.String())
			}
			if _, err := j2.Append(Event{Kind: KindPower}); err != nil {
				t.Errorf("append after a restart: %v", err)
			}
		})
	}
}
