package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("journal: closed")

// DefaultSyncInterval is how often the background flusher fsyncs.
const DefaultSyncInterval = 100 * time.Millisecond

// ErrInUse is a journal another writer has open.
var ErrInUse = errors.New("open in another writer")

// DefaultSyncKinds are the kinds synced before Append returns: the causes
// and turning points of a failover, which are rare and must survive a crash
// of the head node's machine.
func DefaultSyncKinds() []Kind {
	return []Kind{KindPower, KindFaultInject, KindFaultRecover, KindLeader, KindRole, KindSwitch}
}

// Options tune a Journal. The zero value is usable.
type Options struct {
	// Clock stamps events appended without a time; a new Clock when nil.
	Clock *Clock
	// SyncInterval bounds how long an appended event may stay unsynced;
	// DefaultSyncInterval when zero.
	SyncInterval time.Duration
	// SyncKinds are synced before Append returns. Nil means
	// DefaultSyncKinds; an empty non-nil slice syncs no kind at once.
	SyncKinds []Kind
}

// Journal is an open journal file. It is safe for concurrent use.
type Journal struct {
	path      string
	log       *slog.Logger
	clock     *Clock
	syncKinds map[Kind]bool

	mu     sync.Mutex
	f      *os.File
	seq    uint64
	size   int64
	gen    uint64 // number of successful writes, for group commit
	closed bool
	subs   map[*subscription]struct{}

	dropped atomic.Uint64

	syncMu     sync.Mutex
	synced     uint64
	fileClosed bool

	stop chan struct{}
	done chan struct{}
}

type subscription struct {
	ch chan Event
}

// Open opens or creates the journal at path and returns the events already
// recorded in it. Damaged lines are logged with their file:line and skipped;
// a torn last line is saved to "<path>.torn" and cut off. Numbering
// continues after the highest sequence number read.
func Open(path string, log *slog.Logger, opts Options) (*Journal, []Event, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = NewClock()
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	if opts.SyncKinds == nil {
		opts.SyncKinds = DefaultSyncKinds()
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("journal: open: %w", err)
	}
	// One writer: two interleave their sequence numbers. flock is
	// dropped by the kernel when the owner dies, so a crash never leaves
	// the journal locked.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil, fmt.Errorf("journal: %s: %w", path, ErrInUse)
		}
		return nil, nil, fmt.Errorf("journal: lock %s: %w", path, err)
	}
	if created {
		// Make the new directory entry durable too, not only the data.
		if err := syncDir(filepath.Dir(path)); err != nil {
			log.Warn("journal: sync directory", "dir", filepath.Dir(path), "err", err)
		}
	}
	c, err := Read(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("journal: %s: %w", path, err)
	}
	for _, p := range c.Problems {
		at := fmt.Sprintf("%s:%d", path, p.Line)
		if p.Torn {
			log.Warn("journal: skipped torn last line, cutting it off", "at", at, "err", p.Err, "saved", path+".torn")
		} else {
			log.Warn("journal: skipped invalid line", "at", at, "err", p.Err)
		}
	}
	if c.Valid < c.Size {
		if err := cutTail(f, path, c.Valid, c.Size); err != nil {
			f.Close()
			return nil, nil, err
		}
	}
	j := &Journal{
		path:      path,
		log:       log,
		clock:     opts.Clock,
		syncKinds: map[Kind]bool{},
		f:         f,
		size:      c.Valid,
		subs:      map[*subscription]struct{}{},
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	for _, k := range opts.SyncKinds {
		j.syncKinds[k] = true
	}
	for _, e := range c.Events {
		j.seq = max(j.seq, e.Seq)
	}
	go j.flusher(opts.SyncInterval)
	return j, c.Events, nil
}

// cutTail saves the bytes [from, to) to path+".torn" so nothing recorded is
// thrown away, then truncates the journal to from.
func cutTail(f *os.File, path string, from, to int64) error {
	tail := make([]byte, to-from)
	if _, err := f.ReadAt(tail, from); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("journal: %s: read torn tail: %w", path, err)
	}
	tf, err := os.OpenFile(path+".torn", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("journal: save torn tail: %w", err)
	}
	_, werr := tf.Write(append(tail, '\n'))
	serr := tf.Sync()
	cerr := tf.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("journal: save torn tail: %w", err)
	}
	if err := f.Truncate(from); err != nil {
		return fmt.Errorf("journal: %s: cut torn tail: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("journal: %s: sync: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Path returns the journal's file name.
func (j *Journal) Path() string { return j.path }

// LastSeq returns the highest sequence number assigned so far.
func (j *Journal) LastSeq() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.seq
}

// Append assigns e the next sequence number (and the journal clock's time if
// e.At is zero), writes it as one line and returns it as recorded. Kinds in
// Options.SyncKinds are fsynced before Append returns; others within
// Options.SyncInterval.
func (j *Journal) Append(e Event) (Event, error) {
	return j.append(e, j.syncKinds[e.Kind])
}

// AppendSync is Append followed by an fsync, whatever the kind.
func (j *Journal) AppendSync(e Event) (Event, error) {
	return j.append(e, true)
}

func (j *Journal) append(e Event, sync bool) (Event, error) {
	if e.Kind == "" {
		return e, errors.New("journal: append: event without kind")
	}
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return e, ErrClosed
	}
	e.Seq = j.seq + 1
	if e.At.IsZero() {
		e.At = j.clock.Now()
	}
	line, err := json.Marshal(e)
	if err != nil {
		j.mu.Unlock()
		return e, fmt.Errorf("journal: encode %s event: %w", e.Kind, err)
	}
	line = append(line, '\n')
	// One write per line: a crash of this process cannot leave half a
	// record that a later append would glue onto.
	n, err := j.f.Write(line)
	if err != nil {
		if n > 0 {
			// Take back the partial line so the next append starts clean.
			if terr := j.f.Truncate(j.size); terr != nil {
				err = errors.Join(err, fmt.Errorf("cut partial line: %w", terr))
			}
		}
		j.mu.Unlock()
		return e, fmt.Errorf("journal: write %s: %w", j.path, err)
	}
	j.seq = e.Seq
	j.size += int64(n)
	j.gen++
	gen := j.gen
	for s := range j.subs {
		select {
		case s.ch <- e:
		default:
			j.dropped.Add(1)
		}
	}
	j.mu.Unlock()
	if sync {
		if err := j.syncUpTo(gen); err != nil {
			return e, err
		}
	}
	return e, nil
}

// syncUpTo fsyncs unless a sync that started after write gen already
// finished: concurrent callers share one fsync (group commit). It runs
// outside j.mu so appends do not wait for the disk.
func (j *Journal) syncUpTo(gen uint64) error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.synced >= gen || j.fileClosed {
		return nil
	}
	j.mu.Lock()
	cur := j.gen
	j.mu.Unlock()
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal: sync %s: %w", j.path, err)
	}
	j.synced = cur
	return nil
}

func (j *Journal) flusher(every time.Duration) {
	defer close(j.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
			j.mu.Lock()
			gen := j.gen
			j.mu.Unlock()
			if err := j.syncUpTo(gen); err != nil {
				j.log.Error("journal: background sync failed", "err", err)
			}
		}
	}
}

// Subscribe returns a channel that receives every event appended from now
// on, and a function that ends the subscription. Delivery never blocks
// Append: when the channel's buffer of buf events is full the event is
// dropped for this subscriber and counted (see Dropped). The channel is
// closed by the cancel function or by Close.
func (j *Journal) Subscribe(buf int) (<-chan Event, func()) {
	s := &subscription{ch: make(chan Event, max(buf, 0))}
	j.mu.Lock()
	if j.closed {
		close(s.ch)
	} else {
		j.subs[s] = struct{}{}
	}
	j.mu.Unlock()
	cancel := func() {
		j.mu.Lock()
		defer j.mu.Unlock()
		if _, ok := j.subs[s]; ok {
			delete(j.subs, s)
			close(s.ch)
		}
	}
	return s.ch, cancel
}

// Dropped returns how many events were not delivered to slow subscribers.
func (j *Journal) Dropped() uint64 { return j.dropped.Load() }

// Close syncs and closes the journal and ends all subscriptions. Later
// appends fail with ErrClosed.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	for s := range j.subs {
		delete(j.subs, s)
		close(s.ch)
	}
	gen := j.gen
	j.mu.Unlock()
	close(j.stop)
	<-j.done
	serr := j.syncUpTo(gen)
	j.syncMu.Lock()
	j.fileClosed = true
	cerr := j.f.Close()
	j.syncMu.Unlock()
	if cerr != nil {
		cerr = fmt.Errorf("journal: close %s: %w", j.path, cerr)
	}
	return errors.Join(serr, cerr)
}
