package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("journal: closed")

// ErrInUse is a journal another writer has open.
var ErrInUse = errors.New("open in another writer")

// ErrFailed marks the sticky error of a journal whose write or fsync
// failed: from then on every Append returns it. Linux reports a failed
// writeback to one fsync and then clears the error, so a later fsync that
// "succeeds" proves nothing about what was lost; a journal that went on
// appending would record events over a hole.
var ErrFailed = errors.New("journal failed")

// DefaultSyncInterval is how often the background flusher fsyncs.
const DefaultSyncInterval = 100 * time.Millisecond

// DefaultSegmentSize is the size past which a new segment is started.
const DefaultSegmentSize = 64 << 20

// DefaultSyncKinds are the kinds synced before Append returns: the causes
// and turning points of a failover, which are rare and must survive a crash
// of the head node's machine.
func DefaultSyncKinds() []Kind {
	return []Kind{KindPower, KindFaultInject, KindFaultRecover, KindLeader, KindRole, KindSwitch}
}

// WriteSyncer is what the journal writes a segment through: its *os.File,
// or a test's wrapper around it (Options.WrapFile).
type WriteSyncer interface {
	io.Writer
	Sync() error
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
	// SegmentSize is the size past which appending starts a new segment
	// (a single larger line still gets a segment of its own);
	// DefaultSegmentSize when zero.
	SegmentSize int64
	// Now tells the day: a new segment starts at the first append on
	// another UTC date than the current segment's first record. Clock.Now
	// when nil; tests cross midnight with it.
	Now func() time.Time
	// Legacy is the path of a single-file journal of an earlier version
	// (<data-dir>/journal.jsonl). When it exists and the directory has
	// no segments yet, Open moves it in as segment 000001.
	Legacy string
	// WrapFile, when set, wraps each segment's file for writing and
	// syncing. Only tests set it, to inject failed or slow writes and
	// fsyncs.
	WrapFile func(WriteSyncer) WriteSyncer
}

// segment is the open newest segment, or a retired one waiting to be
// closed.
type segment struct {
	segmentRef
	f *os.File
	w WriteSyncer // f, or Options.WrapFile(f)
	// day is the UTC day of its first record, set once it has one.
	day    int64
	hasDay bool
}

// Journal is an open journal directory. It is safe for concurrent use.
type Journal struct {
	dir       string
	log       *slog.Logger
	clock     *Clock
	now       func() time.Time
	syncKinds map[Kind]bool
	segSize   int64
	wrap      func(WriteSyncer) WriteSyncer
	lock      *os.File

	mu     sync.Mutex
	cur    *segment
	size   int64 // of cur
	seq    uint64
	closed bool
	failed error
	subs   map[*subscription]struct{}
	// retired segments were synced when the next one started; they are
	// closed by the next syncUpTo, where no fsync can still be using them.
	retired []*segment

	dropped atomic.Uint64

	syncMu     sync.Mutex
	synced     uint64 // highest seq known durable
	fileClosed bool

	stop chan struct{}
	done chan struct{}
}

type subscription struct {
	ch chan Event
}

// Open opens or creates the journal in directory dir (its parent must
// exist) and returns the events recorded in all its segments, oldest
// first. Damaged lines are logged with their file:line and skipped; a torn
// last line of the newest segment is saved to "<segment>.torn" and cut off.
// Older segments are only read. Numbering continues after the highest
// sequence number read. A second Open of the same directory fails with
// ErrInUse until the first is closed.
func Open(dir string, log *slog.Logger, opts Options) (*Journal, []Event, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = NewClock()
	}
	if opts.Now == nil {
		opts.Now = opts.Clock.Now
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	if opts.SyncKinds == nil {
		opts.SyncKinds = DefaultSyncKinds()
	}
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.WrapFile == nil {
		opts.WrapFile = func(w WriteSyncer) WriteSyncer { return w }
	}
	if err := os.Mkdir(dir, 0o755); err == nil {
		// Make the new directory entry durable too, not only the data.
		if err := syncDir(filepath.Dir(dir)); err != nil {
			log.Warn("journal: sync directory", "dir", filepath.Dir(dir), "err", err)
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, nil, fmt.Errorf("journal: open: %w", err)
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, nil, fmt.Errorf("journal: open: %w", err)
	} else if !st.IsDir() {
		return nil, nil, fmt.Errorf("journal: open: %s is a file, not a journal directory (a single-file journal of an earlier version goes in Options.Legacy)", dir)
	}
	lock, err := lockFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{
		dir:       dir,
		log:       log,
		clock:     opts.Clock,
		now:       opts.Now,
		syncKinds: map[Kind]bool{},
		segSize:   opts.SegmentSize,
		wrap:      opts.WrapFile,
		lock:      lock,
		subs:      map[*subscription]struct{}{},
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	for _, k := range opts.SyncKinds {
		j.syncKinds[k] = true
	}
	events, err := j.recover(opts.Legacy)
	if err != nil {
		lock.Close()
		return nil, nil, err
	}
	j.synced = j.seq
	go j.flusher(opts.SyncInterval)
	return j, events, nil
}

// recover reads every segment, repairs the newest and opens it for
// appending.
func (j *Journal) recover(legacy string) ([]Event, error) {
	segs, err := listSegments(j.dir)
	if err != nil {
		return nil, err
	}
	if legacy != "" {
		if segs, err = migrate(j.dir, legacy, segs, j.log); err != nil {
			return nil, err
		}
	}
	if len(segs) == 0 {
		s, err := j.create(1)
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		j.cur = s
		return nil, nil
	}
	var events []Event
	for i, ref := range segs {
		newest := i == len(segs)-1
		flag := os.O_RDONLY
		if newest {
			flag = os.O_RDWR | os.O_APPEND
		}
		f, err := os.OpenFile(ref.path, flag, 0)
		if err != nil {
			return nil, fmt.Errorf("journal: open: %w", err)
		}
		c, err := Read(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("journal: %s: %w", ref.path, err)
		}
		for _, p := range c.Problems {
			at := fmt.Sprintf("%s:%d", ref.path, p.Line)
			switch {
			case p.Torn && newest:
				j.log.Warn("journal: skipped torn last line, cutting it off", "at", at, "err", p.Err, "saved", ref.path+".torn")
			case p.Torn:
				// Never rewritten: a segment was synced before the
				// next one started, so this is old damage, not a crash.
				j.log.Warn("journal: skipped damaged last line of an older segment", "at", at, "err", p.Err)
			default:
				j.log.Warn("journal: skipped invalid line", "at", at, "err", p.Err)
			}
		}
		for _, e := range c.Events {
			j.seq = max(j.seq, e.Seq)
		}
		events = append(events, c.Events...)
		if !newest {
			f.Close()
			continue
		}
		if c.Valid < c.Size {
			if err := cutTail(f, ref.path, c.Valid, c.Size); err != nil {
				f.Close()
				return nil, err
			}
		}
		// What was read back counts as recorded: make it durable before
		// anything is appended after it, or a power cut could keep the
		// later records and lose these.
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("journal: sync %s: %w", ref.path, err)
		}
		s := &segment{segmentRef: ref, f: f, w: j.wrap(f)}
		if len(c.Events) > 0 {
			s.day, s.hasDay = utcDay(c.Events[0].At), true
		} else if c.Valid > 0 {
			s.day, s.hasDay = utcDay(j.now()), true
		}
		j.cur, j.size = s, c.Valid
	}
	return events, nil
}

// create makes segment n, new and empty, and syncs its directory entry.
func (j *Journal) create(n uint64) (*segment, error) {
	path := filepath.Join(j.dir, segmentName(n))
	// O_EXCL: a segment is never started over an existing one.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("new segment: %w", err)
	}
	if err := syncDir(j.dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("new segment %s: sync directory: %w", path, err)
	}
	return &segment{segmentRef: segmentRef{n: n, path: path}, f: f, w: j.wrap(f)}, nil
}

// cutTail saves the bytes [from, to) to path+".torn" so nothing recorded is
// thrown away, then truncates the segment to from.
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
	return nil
}

// Dir returns the journal's directory.
func (j *Journal) Dir() string { return j.dir }

// Path returns the file name of the segment being appended to.
func (j *Journal) Path() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.cur.path
}

// LastSeq returns the highest sequence number assigned so far.
func (j *Journal) LastSeq() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.seq
}

// Err returns the sticky error (wrapping ErrFailed) once a write or fsync
// failed, nil while the journal is healthy.
func (j *Journal) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.failed
}

// Append assigns e the next sequence number (and the journal clock's time if
// e.At is zero), writes it as one line and returns it as recorded. Kinds in
// Options.SyncKinds are fsynced before Append returns; others within
// Options.SyncInterval. Once a write or fsync failed, Append fails with
// the sticky error (see ErrFailed).
func (j *Journal) Append(e Event) (Event, error) {
	e, err := j.Write(e)
	if err != nil {
		return e, err
	}
	return e, j.WaitDurable(e)
}

// AppendSync is Append followed by an fsync, whatever the kind.
func (j *Journal) AppendSync(e Event) (Event, error) {
	e, err := j.Write(e)
	if err != nil {
		return e, err
	}
	return e, j.syncUpTo(e.Seq)
}

// Write is the first half of Append, for a caller that keeps its own
// order under its own lock and must not hold that lock across an fsync:
// it numbers e and writes its line (after which a crash of the process
// can no longer lose it) but does not wait for an fsync, except the one
// that closes a full segment when a new one starts. WaitDurable(e) is the
// second half.
func (j *Journal) Write(e Event) (Event, error) {
	if e.Kind == "" {
		return e, errors.New("journal: append: event without kind")
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return e, ErrClosed
	}
	if j.failed != nil {
		return e, j.failed
	}
	e.Seq = j.seq + 1
	if e.At.IsZero() {
		e.At = j.clock.Now()
	}
	line, err := json.Marshal(e)
	if err != nil {
		return e, fmt.Errorf("journal: encode %s event: %w", e.Kind, err)
	}
	line = append(line, '\n')
	day := utcDay(j.now())
	if j.size > 0 && (j.size+int64(len(line)) > j.segSize || j.cur.day != day) {
		if err := j.rotate(); err != nil {
			return e, j.fail(err)
		}
	}
	// One write per line: a crash of this process cannot leave half a
	// record that a later append would glue onto.
	n, err := j.cur.w.Write(line)
	if err == nil && n != len(line) {
		err = io.ErrShortWrite
	}
	if err != nil {
		if n > 0 {
			// Take back the partial line so the file ends on a record.
			if terr := j.cur.f.Truncate(j.size); terr != nil {
				err = errors.Join(err, fmt.Errorf("cut partial line: %w", terr))
			}
		}
		return e, j.fail(fmt.Errorf("write %s: %w", j.cur.path, err))
	}
	if !j.cur.hasDay {
		j.cur.day, j.cur.hasDay = day, true
	}
	j.seq = e.Seq
	j.size += int64(n)
	for s := range j.subs {
		select {
		case s.ch <- e:
		default:
			j.dropped.Add(1)
		}
	}
	return e, nil
}

// WaitDurable returns once e, as returned by Write, is as durable as
// Append would have left it: at once for kinds the flusher syncs, after
// an fsync for Options.SyncKinds. Concurrent waiters share one fsync.
func (j *Journal) WaitDurable(e Event) error {
	if !j.syncKinds[e.Kind] {
		return nil
	}
	return j.syncUpTo(e.Seq)
}

// rotate syncs the current segment and starts the next. It runs under
// j.mu, so appends wait for this one fsync: once per segment, which is
// what keeps every older segment complete on disk before a newer exists,
// and a torn tail possible only in the newest.
func (j *Journal) rotate() error {
	old := j.cur
	if err := old.w.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", old.path, err)
	}
	s, err := j.create(old.n + 1)
	if err != nil {
		return err
	}
	j.retired = append(j.retired, old)
	j.cur, j.size = s, 0
	j.log.Info("journal: started a new segment", "path", s.path, "first_seq", j.seq+1)
	return nil
}

// fail makes err the journal's sticky error, logs it once and returns
// it. It runs under j.mu.
func (j *Journal) fail(err error) error {
	if j.failed == nil {
		j.failed = fmt.Errorf("%w: %w", ErrFailed, err)
		j.log.Error("journal: failed, refusing every later append", "err", err)
	}
	return j.failed
}

// syncUpTo fsyncs unless a sync that started after seq was written already
// finished: concurrent callers share one fsync (group commit). It runs
// outside j.mu so appends do not wait for the disk. After a failure it
// never syncs again: the error is sticky.
func (j *Journal) syncUpTo(seq uint64) error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.mu.Lock()
	if j.failed != nil {
		err := j.failed
		j.mu.Unlock()
		return err
	}
	if j.synced >= seq || j.fileClosed {
		j.mu.Unlock()
		return nil
	}
	cur, s, retired := j.seq, j.cur, j.retired
	j.retired = nil
	j.mu.Unlock()
	for _, r := range retired {
		if err := r.f.Close(); err != nil {
			j.log.Warn("journal: close older segment", "path", r.path, "err", err)
		}
	}
	if err := s.w.Sync(); err != nil {
		j.mu.Lock()
		defer j.mu.Unlock()
		return j.fail(fmt.Errorf("sync %s: %w", s.path, err))
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
			// A failure is logged once by fail and shown by Err.
			_ = j.syncUpTo(j.LastSeq())
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

// Close syncs and closes the journal, releases its lock and ends all
// subscriptions. Later appends fail with ErrClosed. A journal that failed
// returns its sticky error.
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
	seq := j.seq
	j.mu.Unlock()
	close(j.stop)
	<-j.done
	serr := j.syncUpTo(seq)
	j.syncMu.Lock()
	j.fileClosed = true
	j.mu.Lock()
	files := append(j.retired, j.cur)
	j.retired = nil
	j.mu.Unlock()
	var cerrs []error
	for _, s := range files {
		if err := s.f.Close(); err != nil {
			cerrs = append(cerrs, fmt.Errorf("journal: close %s: %w", s.path, err))
		}
	}
	j.syncMu.Unlock()
	// Last: the lock is released only when nothing is written any more.
	if err := j.lock.Close(); err != nil {
		cerrs = append(cerrs, fmt.Errorf("journal: unlock %s: %w", j.dir, err))
	}
	return errors.Join(serr, errors.Join(cerrs...))
}
