package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// supervisor runs Patroni until ctx ends, starting it again whenever it
// dies, unless a fault holds it down. When the agent is PID 1 (a container)
// its reaper also collects the orphans that PostgreSQL leaves behind, and so
// every child the agent starts must be watched through it.
type supervisor struct {
	o    Options
	acct account
	r    *reaper
	log  *slog.Logger

	mu   sync.Mutex
	pid  int
	held bool
	// softOff is set by a soft power cut until the power comes back.
	softOff bool
	// postmortemDue asks for a look at the data directory before the
	// next Patroni start: set at agent start and when soft power returns.
	postmortemDue bool
	// forkMu keeps fork creations and destructions one at a time.
	forkMu sync.Mutex
	reinit int
	wake   chan struct{}
	heal   chan string
	lines  func(string)
	// logs keeps Patroni's recent output for GET /v1/patroni/log.
	logs *logRing
}

func newSupervisor(o Options, a account, r *reaper, log *slog.Logger) *supervisor {
	return &supervisor{o: o, acct: a, r: r, log: log, wake: make(chan struct{}, 1), heal: make(chan string, 1), postmortemDue: true,
		logs: newLogRing(logRingLines)}
}

// run supervises Patroni until ctx ends.
func (s *supervisor) run(ctx context.Context) error {
	if !s.o.NoAutoHeal {
		if reason := s.checkDataDir(ctx); reason != "" {
			s.reinitialise(ctx, reason)
		}
	}
	for ctx.Err() == nil {
		if s.isHeld() {
			s.log.Info("patroni held down by a fault")
			select {
			case <-ctx.Done():
				return nil
			case <-s.wake:
			}
			continue
		}
		if s.takePostmortemDue() {
			s.postmortem(ctx)
		}
		start := time.Now()
		pid, exited, err := startPatroni(s.o, s.acct, s.r, s.log, s.onLine)
		if err != nil {
			s.log.Error("cannot start patroni", "err", err)
		} else {
			s.setPID(pid)
			s.log.Info("patroni started", "pid", pid)
			select {
			case st := <-exited:
				s.log.Warn("patroni exited; restarting", "status", st, "ran", time.Since(start).Round(time.Millisecond))
			case <-ctx.Done():
				stopPatroni(pid, exited, s.log)
				s.setPID(0)
				return nil
			case reason := <-s.heal:
				stopPatroni(pid, exited, s.log)
				s.setPID(0)
				s.reinitialise(ctx, reason)
				continue
			}
			s.setPID(0)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(s.o.RestartDelay):
		}
	}
	return nil
}

func (s *supervisor) setPID(pid int) {
	s.mu.Lock()
	s.pid = pid
	s.mu.Unlock()
}

func (s *supervisor) isHeld() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// crash SIGKILLs Patroni; with hold it stays down until release.
func (s *supervisor) crash(hold bool) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pid == 0 {
		return 0, errNotRunning
	}
	s.held = hold
	if err := syscall.Kill(s.pid, syscall.SIGKILL); err != nil {
		return 0, fmt.Errorf("kill patroni %d: %w", s.pid, err)
	}
	return s.pid, nil
}

// release lets Patroni be started again.
func (s *supervisor) release() {
	s.mu.Lock()
	s.held = false
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// onLine sees every line Patroni and PostgreSQL print: it keeps it for
// the head node's outage records, and a corruption signature asks for
// re-initialisation.
func (s *supervisor) onLine(line string) {
	s.logs.add(time.Now(), line)
	if s.o.NoAutoHeal {
		return
	}
	if sig := corruptionSignature(line); sig != "" {
		select {
		case s.heal <- sig:
		default:
		}
	}
}

// stopPatroni asks Patroni to shut PostgreSQL down cleanly, and kills it if
// that takes too long.
func stopPatroni(pid int, exited <-chan string, log *slog.Logger) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-exited:
		log.Info("patroni stopped")
	case <-time.After(30 * time.Second):
		log.Warn("patroni did not stop in 30 s; killing it")
		_ = syscall.Kill(pid, syscall.SIGKILL)
		<-exited
	}
}

func startPatroni(o Options, a account, r *reaper, log *slog.Logger, onLine func(string)) (int, <-chan string, error) {
	path, err := lookPath(o.PatroniBin)
	if err != nil {
		return 0, nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, nil, fmt.Errorf("pipe: %w", err)
	}
	attr := &os.ProcAttr{
		Dir:   a.home,
		Env:   []string{"HOME=" + a.home, "PATH=/usr/lib/postgresql/15/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "USER=" + a.name},
		Files: []*os.File{nil, pw, pw},
		Sys: &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid)},
			Setpgid:    true,
		},
	}
	r.lock()
	p, err := os.StartProcess(path, []string{path, o.ConfigPath}, attr)
	pw.Close()
	if err != nil {
		r.unlock()
		pr.Close()
		return 0, nil, fmt.Errorf("start %s: %w", path, err)
	}
	exited := r.watch(p)
	r.unlock()
	go prefixLines(pr, os.Stderr, "["+o.Patroni.Name+"] ", onLine)
	return p.Pid, exited, nil
}

func lookPath(bin string) (string, error) {
	for _, dir := range []string{"", "/usr/bin/", "/usr/local/bin/"} {
		p := dir + bin
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("patroni executable %q not found", bin)
}

// prefixLines copies r to w line by line, tagging each with the node name
// so logs of several nodes stay readable side by side.
func prefixLines(r io.ReadCloser, w io.Writer, prefix string, onLine func(string)) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fmt.Fprintf(w, "%s%s\n", prefix, sc.Text())
		if onLine != nil {
			onLine(sc.Text())
		}
	}
}

// reaper collects exit statuses. As PID 1 it reaps every child, including
// orphans, and hands the statuses of watched processes to their waiters;
// otherwise it simply waits for the watched process.
type reaper struct {
	init    bool
	mu      sync.Mutex
	waiters map[int]chan string
	sig     chan os.Signal
	done    chan struct{}
}

func newReaper(init bool) *reaper {
	r := &reaper{init: init, waiters: map[int]chan string{}, done: make(chan struct{})}
	if init {
		r.sig = make(chan os.Signal, 16)
		signal.Notify(r.sig, syscall.SIGCHLD)
		go r.loop()
	}
	return r
}

func (r *reaper) lock()   { r.mu.Lock() }
func (r *reaper) unlock() { r.mu.Unlock() }

// watch must be called with the lock held, right after the process started,
// so that a fast exit is not reaped before its waiter exists.
func (r *reaper) watch(p *os.Process) <-chan string {
	ch := make(chan string, 1)
	if !r.init {
		go func() {
			st, err := p.Wait()
			if err != nil {
				ch <- err.Error()
				return
			}
			ch <- st.String()
		}()
		return ch
	}
	r.waiters[p.Pid] = ch
	return ch
}

func (r *reaper) loop() {
	for {
		select {
		case <-r.done:
			return
		case <-r.sig:
		case <-time.After(time.Second):
			// A lost SIGCHLD (they coalesce) must not leave zombies.
		}
		r.reapAll()
	}
}

func (r *reaper) reapAll() {
	for {
		var ws syscall.WaitStatus
		r.mu.Lock()
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid > 0 {
			if ch, ok := r.waiters[pid]; ok {
				delete(r.waiters, pid)
				ch <- describeStatus(ws)
			}
		}
		r.mu.Unlock()
		if pid <= 0 || err != nil {
			return
		}
	}
}

func (r *reaper) stop() {
	if r.init {
		signal.Stop(r.sig)
		close(r.done)
	}
}

func describeStatus(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		return fmt.Sprintf("killed by %s", ws.Signal())
	}
	return fmt.Sprintf("status %d", int(ws))
}
