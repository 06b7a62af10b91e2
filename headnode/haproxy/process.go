package haproxy

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is HAProxy running in master-worker mode under the head node.
type Process struct {
	bin  string
	path string
	log  *slog.Logger
	// socket is the admin socket; private is its own directory when the
	// data dir is too deep for it (see SocketPlace), removed on Stop.
	socket, private string

	mu  sync.Mutex
	run *run // the running HAProxy, nil when none
	cfg string
}

// run is one HAProxy master process.
type run struct {
	cmd *exec.Cmd
	// exited is closed once cmd has exited and its output is read; err
	// then says how it ended.
	exited chan struct{}
	err    error
	// output keeps its last lines, for an error when it dies at start.
	output *lineTail
}

// NewProcess prepares HAProxy to run with its configuration at
// dir/haproxy.cfg, and picks its admin socket (Socket) so that it fits in
// a unix socket path however deep dir is.
func NewProcess(bin, dir string, log *slog.Logger) (*Process, error) {
	if bin == "" {
		bin = "haproxy"
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("haproxy: %w", err)
	}
	socket, private, err := SocketPlace(abs, runtimeDirs())
	if err != nil {
		return nil, err
	}
	return &Process{bin: bin, path: filepath.Join(dir, "haproxy.cfg"), log: log, socket: socket, private: private}, nil
}

// Socket is the admin socket the configuration must name and ReadStats
// reads.
func (p *Process) Socket() string { return p.socket }

// Apply writes the configuration and starts HAProxy, or reloads it when it
// runs already and the configuration changed. A configuration HAProxy
// rejects is not applied, and the error carries HAProxy's own message; so
// does a HAProxy that exits at start (a port in use).
func (p *Process) Apply(ctx context.Context, cfg string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.run != nil && cfg == p.cfg {
		return nil
	}
	tmp := p.path + ".new"
	if err := os.WriteFile(tmp, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("haproxy: write config: %w", err)
	}
	// No -q: it silences the alerts that say why a file is rejected.
	if out, err := exec.CommandContext(ctx, p.bin, "-c", "-f", tmp).CombinedOutput(); err != nil {
		return fmt.Errorf("haproxy: config rejected: %s -c -f %s: %w: %s", p.bin, tmp, err, alerts(string(out)))
	}
	if err := os.Rename(tmp, p.path); err != nil {
		return fmt.Errorf("haproxy: install config: %w", err)
	}
	p.cfg = cfg
	if p.run != nil {
		// SIGUSR2 makes the master re-read the file and start new workers;
		// old workers finish their sessions.
		if err := p.run.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
			return fmt.Errorf("haproxy: reload: %w", err)
		}
		p.log.Info("haproxy reloaded")
		return nil
	}
	if p.private != "" {
		if err := makePrivateDir(p.private); err != nil {
			return err
		}
	}
	// Not tied to ctx: HAProxy lives until Stop, even if the request that
	// first applied a config is long gone.
	cmd := exec.Command(p.bin, "-W", "-db", "-f", p.path)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return fmt.Errorf("haproxy: %w", err)
	}
	cmd.Stdout = cmd.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("haproxy: start %s: %w", p.bin, err)
	}
	r := &run{cmd: cmd, exited: make(chan struct{}), output: newLineTail(20)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.log.Info("haproxy", "line", sc.Text())
			r.output.add(sc.Text())
		}
		// Wait only after the pipe is drained, as os/exec requires.
		r.err = cmd.Wait()
		close(r.exited)
	}()
	p.log.Info("haproxy started", "pid", cmd.Process.Pid, "config", p.path, "socket", p.socket)
	if err := p.waitListening(ctx, r); err != nil {
		return err
	}
	p.run = r
	return nil
}

// startPatience bounds how long Apply waits for a new HAProxy to answer on
// its admin socket; past it, Apply returns and HAProxy goes on starting.
const startPatience = 10 * time.Second

// waitListening waits until a new HAProxy answers "show stat" on its admin
// socket or exits, which is an error with its own last words. An answer,
// not a connect: the kernel accepts on the unix socket as soon as it is
// bound, before a later listener's bind fails and HAProxy exits; a worker
// answers only once every listener is bound.
func (p *Process) waitListening(ctx context.Context, r *run) error {
	deadline := time.Now().Add(startPatience)
	for {
		select {
		case <-r.exited:
			return fmt.Errorf("haproxy: exited at start: %s -W -db -f %s: %v: %s", p.bin, p.path, r.err, alerts(r.output.String()))
		default:
		}
		sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		_, err := ReadStats(sctx, p.socket)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			p.log.Warn("haproxy does not answer on its admin socket yet; going on", "socket", p.socket, "err", err)
			return nil
		}
		select {
		case <-r.exited:
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop stops HAProxy and removes the socket's private directory.
func (p *Process) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r := p.run; r != nil {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			<-r.exited
		}
		p.run = nil
	}
	if p.private != "" {
		if err := os.RemoveAll(p.private); err != nil {
			return fmt.Errorf("haproxy: remove socket dir: %w", err)
		}
	}
	return nil
}

// alerts keeps what explains a HAProxy failure from its output: every
// line but the [NOTICE] banner (version, path to the executable).
func alerts(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "[NOTICE]") {
			keep = append(keep, l)
		}
	}
	if len(keep) == 0 {
		if out = strings.TrimSpace(out); out != "" {
			return out
		}
		return "(no output)"
	}
	return strings.Join(keep, "\n")
}

// lineTail keeps the last lines written to it.
type lineTail struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func newLineTail(max int) *lineTail { return &lineTail{max: max} }

func (t *lineTail) add(l string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, l)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *lineTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// ReadStats asks HAProxy's admin socket for the state of every server.
func ReadStats(ctx context.Context, socket string) ([]ServerState, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("haproxy: stats socket: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	}
	if _, err := conn.Write([]byte("show stat\n")); err != nil {
		return nil, fmt.Errorf("haproxy: stats socket: %w", err)
	}
	return ParseStats(bufio.NewReader(conn))
}
