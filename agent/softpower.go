package agent

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// A soft power cut is what a machine without relay or container gets: every
// process of the database account (Patroni, the postmaster, its backends)
// is stopped at once, so none of them can say goodbye (Patroni would
// otherwise delete its leader key on the way down), then killed, and
// Patroni is held down until the power comes back. Unlike a real cut the
// kernel still answers: peers see refused connections, not silence.

// maxStopPasses bounds the stop loop: a process forked between two scans
// is caught by the next one, and stopped processes cannot fork.
const maxStopPasses = 50

// powerOff cuts the node softly and returns the processes it killed.
func (s *supervisor) powerOff() ([]int, error) {
	s.mu.Lock()
	s.held = true
	s.softOff = true
	s.mu.Unlock()
	stopped := map[int]bool{}
	for pass := 0; pass < maxStopPasses; pass++ {
		pids, err := pidsOfUID("/proc", s.acct.uid)
		if err != nil {
			return nil, fmt.Errorf("soft power cut: %w", err)
		}
		fresh := 0
		for _, pid := range pids {
			if stopped[pid] {
				continue
			}
			// ESRCH: it exited between the scan and the signal.
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil && !errors.Is(err, syscall.ESRCH) {
				return nil, fmt.Errorf("soft power cut: stop %d: %w", pid, err)
			}
			stopped[pid] = true
			fresh++
		}
		if fresh == 0 {
			break
		}
	}
	var killed []int
	for pid := range stopped {
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
			killed = append(killed, pid)
		}
	}
	sort.Ints(killed)
	return killed, nil
}

// powerOn ends a soft cut: Patroni starts again, and with it PostgreSQL's
// crash recovery. It also ends a hold left by a Patroni crash fault.
func (s *supervisor) powerOn() {
	s.mu.Lock()
	s.softOff = false
	s.postmortemDue = true
	s.mu.Unlock()
	s.release()
}

func (s *supervisor) isSoftOff() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.softOff
}

// pidsOfUID lists the live processes under procRoot whose real user id is
// uid. Zombies (already dead, waiting to be reaped) and processes that
// vanish while being read are skipped.
func pidsOfUID(procRoot string, uid int) ([]int, error) {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		u, ok := liveUID(filepath.Join(procRoot, e.Name(), "status"))
		if ok && u == uid {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids, nil
}

// liveUID reads the first field of the Uid: line of a /proc status file;
// false for a zombie or an unreadable file.
func liveUID(path string) (int, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if st, ok := strings.CutPrefix(sc.Text(), "State:"); ok && strings.HasPrefix(strings.TrimSpace(st), "Z") {
			return 0, false
		}
		rest, ok := strings.CutPrefix(sc.Text(), "Uid:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0, false
		}
		u, err := strconv.Atoi(fields[0])
		return u, err == nil
	}
	return 0, false
}
