package haproxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Process is HAProxy running in master-worker mode under the head node.
type Process struct {
	bin  string
	path string
	log  *slog.Logger

	mu  sync.Mutex
	cmd *exec.Cmd
	cfg string
}

// NewProcess prepares HAProxy to run with its configuration at dir/haproxy.cfg.
func NewProcess(bin, dir string, log *slog.Logger) *Process {
	if bin == "" {
		bin = "haproxy"
	}
	return &Process{bin: bin, path: filepath.Join(dir, "haproxy.cfg"), log: log}
}

// Apply writes the configuration and starts HAProxy, or reloads it when it
// runs already and the configuration changed. A configuration HAProxy
// rejects is not applied, and the error carries HAProxy's own message.
func (p *Process) Apply(ctx context.Context, cfg string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && cfg == p.cfg {
		return nil
	}
	tmp := p.path + ".new"
	if err := os.WriteFile(tmp, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("haproxy: write config: %w", err)
	}
	if out, err := exec.CommandContext(ctx, p.bin, "-c", "-q", "-f", tmp).CombinedOutput(); err != nil {
		return fmt.Errorf("haproxy: config rejected: %w: %s", err, bytes.TrimSpace(out))
	}
	if err := os.Rename(tmp, p.path); err != nil {
		return fmt.Errorf("haproxy: install config: %w", err)
	}
	p.cfg = cfg
	if p.cmd != nil {
		// SIGUSR2 makes the master re-read the file and start new workers;
		// old workers finish their sessions.
		if err := p.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
			return fmt.Errorf("haproxy: reload: %w", err)
		}
		p.log.Info("haproxy reloaded")
		return nil
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
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.log.Info("haproxy", "line", sc.Text())
		}
	}()
	p.cmd = cmd
	p.log.Info("haproxy started", "pid", cmd.Process.Pid, "config", p.path)
	return nil
}

// Stop stops HAProxy.
func (p *Process) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	p.cmd = nil
	return nil
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
