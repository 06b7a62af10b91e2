// Package dirlock gives a data directory one owner at a time: a second
// head node or demo on the same directory would take the first one's live
// rig for a leftover and remove it, and two writers on one journal
// interleave their sequence numbers. The lock is flock(2) on a file in
// the directory, so the kernel releases it when its owner dies, however
// it dies.
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// FileName is the lock file inside a locked directory.
const FileName = "redswitch.lock"

// ErrHeld is a directory another process (or another Lock of this one)
// owns.
var ErrHeld = errors.New("data directory in use")

// Lock is a held directory lock.
type Lock struct {
	f   *os.File
	dir string
}

// Acquire takes dir (created if missing) for this process and writes who
// holds it into the lock file; when another owner holds it, the error
// wraps ErrHeld and names that owner's pid and command.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner := readOwner(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is owned by %s; stop it first, or use another data directory", ErrHeld, dir, owner)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := writeOwner(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return &Lock{f: f, dir: dir}, nil
}

// Release gives the directory up. Releasing twice is safe.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	// Truncate before unlocking: a reader that sees the file empty knows
	// nobody claims it.
	_ = l.f.Truncate(0)
	err := l.f.Close() // closing drops the flock
	l.f = nil
	if err != nil {
		return fmt.Errorf("unlock %s: %w", l.dir, err)
	}
	return nil
}

// writeOwner records this process in the lock file, for the error a
// second process gets.
func writeOwner(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	cmd := strings.Join(os.Args, " ")
	if len(cmd) > 200 {
		cmd = cmd[:200] + "..."
	}
	_, err := f.WriteAt([]byte(fmt.Sprintf("pid %d since %s: %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339), cmd)), 0)
	return err
}

func readOwner(f *os.File) string {
	b := make([]byte, 512)
	n, _ := f.ReadAt(b, 0)
	s := strings.TrimSpace(string(b[:n]))
	if s == "" {
		return "another process (it has not written its name yet)"
	}
	return s
}
