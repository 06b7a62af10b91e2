package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// segmentExt ends every segment's name: 000001.jsonl, 000002.jsonl...
const segmentExt = ".jsonl"

// lockName is the file in the journal directory that the one writer
// flocks. It is never removed: removing a flocked file lets a second
// writer lock a new file of the same name.
const lockName = "lock"

// segmentName is the file name of segment n: six digits at least, so that
// the names sort like the numbers for the first million segments.
func segmentName(n uint64) string {
	return fmt.Sprintf("%06d%s", n, segmentExt)
}

// parseSegmentName returns the number of a segment's file name. Only the
// exact names segmentName writes count, so "000001.jsonl.torn", editor
// backups and stray files are never read as part of the journal.
func parseSegmentName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segmentExt)
	if !ok || digits == "" {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n == 0 || segmentName(n) != name {
		return 0, false
	}
	return n, true
}

// segmentRef is a segment file on disk.
type segmentRef struct {
	n    uint64
	path string
}

// listSegments returns the segments in dir, oldest first.
func listSegments(dir string) ([]segmentRef, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: list segments: %w", err)
	}
	var segs []segmentRef
	for _, e := range entries {
		n, ok := parseSegmentName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		segs = append(segs, segmentRef{n: n, path: filepath.Join(dir, e.Name())})
	}
	slices.SortFunc(segs, func(a, b segmentRef) int { return cmpUint(a.n, b.n) })
	return segs, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ReadDir reads every segment of the journal in dir, oldest first, and
// returns the complete, valid records. It only reads: damaged lines and a
// torn tail of the newest segment (a writer in the middle of a line, or a
// crash) are skipped, not cut. It is safe while a writer appends.
func ReadDir(dir string) ([]Event, error) {
	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	var events []Event
	for _, s := range segs {
		f, err := os.Open(s.path)
		if err != nil {
			return events, fmt.Errorf("journal: %w", err)
		}
		c, err := Read(f)
		f.Close()
		if err != nil {
			return events, fmt.Errorf("journal: %s: %w", s.path, err)
		}
		events = append(events, c.Events...)
	}
	return events, nil
}

// lockFile opens and flocks path so one writer owns the journal: two
// would interleave their sequence numbers. flock is dropped by the kernel
// when the owner dies, so a crash never leaves the journal locked.
func lockFile(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", path, ErrInUse)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// migrate moves the single-file journal of an earlier version into dir as
// its first segment, once. It is renamed rather than kept aside as a
// read-only segment 0: after the move there is one layout to read and to
// recover (its torn tail is cut like any newest segment's), and nothing
// has to remember the old name. The rename is atomic, and both
// directories are synced so the move survives a power cut.
func migrate(dir, legacy string, segs []segmentRef, log *slog.Logger) ([]segmentRef, error) {
	// Locked like the earlier version locked it: an old head node still
	// appending to it must not have its file moved away under it.
	lf, err := lockFile(legacy, os.O_RDWR)
	if errors.Is(err, fs.ErrNotExist) {
		return segs, nil
	}
	if err != nil {
		return segs, fmt.Errorf("journal: migrate: %w", err)
	}
	defer lf.Close()
	if len(segs) > 0 {
		// Both hold records numbered from 1 on; merging them is a
		// person's decision, not a start-up's.
		return segs, fmt.Errorf("journal: both a single-file journal %s and segments in %s: move one of them away", legacy, dir)
	}
	to := filepath.Join(dir, segmentName(1))
	if err := os.Rename(legacy, to); err != nil {
		return segs, fmt.Errorf("journal: migrate %s: %w", legacy, err)
	}
	if err := syncDir(dir); err != nil {
		return segs, fmt.Errorf("journal: migrate: sync %s: %w", dir, err)
	}
	if err := syncDir(filepath.Dir(legacy)); err != nil {
		return segs, fmt.Errorf("journal: migrate: sync %s: %w", filepath.Dir(legacy), err)
	}
	log.Info("journal: moved the single-file journal of an earlier version into the journal directory", "from", legacy, "to", to)
	return []segmentRef{{n: 1, path: to}}, nil
}

// utcDay numbers the UTC calendar day of t: segments rotate when it changes.
func utcDay(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return d
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
