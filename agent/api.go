package agent

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/httpserver"
)

// Timeouts of the agent's API server (read, header and idle ones are
// httpserver's defaults).
const (
	// apiWriteTimeout bounds a request's handling and answer: the slowest
	// besides forks are the SQL faults, bounded at 2 min (sql).
	apiWriteTimeout = 3 * time.Minute
	// forkRequestTimeout is the fork routes' write timeout: a create or a
	// destroy waits for the fork lock behind another one (forkTimeout),
	// then runs its own (forkTimeout), listing forks around it.
	forkRequestTimeout = 2*forkTimeout + time.Minute
)

// newHTTPServer is the agent's API server.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return httpserver.New(h, httpserver.Timeouts{Write: apiWriteTimeout}, log)
}

// apiServer serves the agent API: the faults that must act inside the
// node (iptables, signals, a full disk, paused replay).
type apiServer struct {
	sup *supervisor
	log *slog.Logger
	// exec runs one command as root and returns its output.
	exec func(ctx context.Context, argv []string) (string, error)

	mu     sync.Mutex
	blocks map[string]bool
	filled int64
}

func newAPIServer(sup *supervisor, log *slog.Logger) *apiServer {
	return &apiServer{sup: sup, log: log, blocks: map[string]bool{},
		exec: func(ctx context.Context, argv []string) (string, error) { return runCmd(ctx, sup.r, nil, argv) }}
}

// httpError carries the status an error maps to.
type httpError struct {
	status int
	err    error
}

func (e httpError) Error() string { return e.err.Error() }
func (e httpError) Unwrap() error { return e.err }

func badRequest(err error) error { return httpError{http.StatusBadRequest, err} }

// statusOf maps an error to its HTTP status: the one place that decides.
func statusOf(err error) int {
	var he httpError
	switch {
	case errors.As(err, &he):
		return he.status
	case errors.Is(err, errNotRunning):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, statusOf(err), agentapi.Error{Error: err.Error()})
}

// token returns the configured cluster token, or the one the rig wrote
// into the node, read on every request so it can be provisioned late.
func (a *apiServer) token() string {
	if a.sup.o.Token != "" {
		return a.sup.o.Token
	}
	b, err := os.ReadFile(a.sup.o.TokenFile)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (a *apiServer) handler() http.Handler {
	mux := http.NewServeMux()
	// Routed behind the token check below: only the head node's requests
	// reach a route, and only they may hold a connection for long.
	handle := func(f func(r *http.Request) (any, error)) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v, err := f(r)
			if err != nil {
				a.log.Warn("agent api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
				writeError(w, err)
				return
			}
			if v == nil {
				v = map[string]bool{"ok": true}
			}
			writeJSON(w, http.StatusOK, v)
		})
	}
	h := func(pattern string, f func(r *http.Request) (any, error)) { mux.Handle(pattern, handle(f)) }
	long := func(pattern string, f func(r *http.Request) (any, error)) {
		mux.Handle(pattern, httpserver.Long(forkRequestTimeout, handle(f)))
	}
	h("GET "+agentapi.PathStatus, func(*http.Request) (any, error) { return a.status(), nil })
	h("PUT "+agentapi.PathBlocks+"{name}", a.block)
	h("DELETE "+agentapi.PathBlocks+"{name}", a.unblock)
	h("POST "+agentapi.PathPostgresKill, a.crashPostgres)
	h("POST "+agentapi.PathPatroniKill, a.crashPatroni)
	h("DELETE "+agentapi.PathPatroniHold, func(*http.Request) (any, error) { a.sup.release(); return nil, nil })
	h("PUT "+agentapi.PathDiskFill, a.fill)
	h("DELETE "+agentapi.PathDiskFill, a.release)
	h("PUT "+agentapi.PathReplayPause, func(r *http.Request) (any, error) {
		return nil, a.sql(r.Context(), "SELECT pg_wal_replay_pause()")
	})
	h("DELETE "+agentapi.PathReplayPause, func(r *http.Request) (any, error) {
		return nil, a.sql(r.Context(), "SELECT pg_wal_replay_resume()")
	})
	h("POST "+agentapi.PathWAL, a.wal)
	h("GET "+agentapi.PathPatroniLog, a.patroniLog)
	h("PUT "+agentapi.PathPower, a.power)
	long("GET "+agentapi.PathForks, a.forks)
	long("POST "+agentapi.PathForks, a.createFork)
	long("DELETE "+agentapi.PathForks+"/{name}", a.destroyFork)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		tok := a.token()
		if !ok || tok == "" || subtle.ConstantTimeCompare([]byte(got), []byte(tok)) != 1 {
			writeJSON(w, http.StatusUnauthorized, agentapi.Error{Error: "cluster token required: Authorization: Bearer <token>"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, agentapi.MaxBody)
		mux.ServeHTTP(w, r)
	})
}

func (a *apiServer) status() agentapi.Status {
	a.sup.mu.Lock()
	st := agentapi.Status{Node: a.sup.o.Patroni.Name, PatroniPID: a.sup.pid, PatroniHeld: a.sup.held, SoftPowerOff: a.sup.softOff,
		AutoHeal: !a.sup.o.NoAutoHeal, Reinitialisations: a.sup.reinit}
	a.sup.mu.Unlock()
	a.mu.Lock()
	for b := range a.blocks {
		st.Blocks = append(st.Blocks, b)
	}
	st.FilledBytes = a.filled
	a.mu.Unlock()
	sort.Strings(st.Blocks)
	return st
}

func (a *apiServer) runAll(ctx context.Context, cmds [][]string, ignoreErrors bool) error {
	for _, c := range cmds {
		if _, err := a.exec(ctx, c); err != nil && !ignoreErrors {
			return err
		}
	}
	return nil
}

// clearFaults removes every fault the agent leaves in its node: the
// iptables chains it owns (found by listing, so blocks made by an earlier
// agent go too) and the disk-fill file. Crashed and held processes need
// nothing: the caller starts Patroni afresh. It runs when the agent starts
// and when a soft cut ends, so a node comes back without the faults it
// had, as after a real power cut, whether or not a head node heals it.
// It returns what it could not remove.
func (a *apiServer) clearFaults(ctx context.Context, why string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	listing, err := a.exec(ctx, listRulesCommand())
	if err != nil {
		errs = append(errs, fmt.Errorf("list iptables rules: %w", err))
	}
	blocks := ownedBlocks(listing)
	for _, b := range blocks {
		_ = a.runAll(ctx, unblockCommands(b), true)
	}
	clear(a.blocks)
	filled := false
	if err := os.Remove(a.fillPath()); err == nil {
		filled = true
	} else if !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("remove fill file: %w", err))
	}
	a.filled = 0
	if len(blocks) > 0 || filled {
		a.log.Warn("faults left in the node cleared", "why", why, "blocks", blocks, "fill_file_removed", filled)
	}
	return errors.Join(errs...)
}

func (a *apiServer) block(r *http.Request) (any, error) {
	name := r.PathValue("name")
	if err := agentapi.ValidBlockName(name); err != nil {
		return nil, badRequest(err)
	}
	req, err := agentapi.DecodeBlockRequest(r.Body)
	if err != nil {
		return nil, badRequest(err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// Replace: remove what an earlier block of this name left.
	_ = a.runAll(r.Context(), unblockCommands(name), true)
	if err := a.runAll(r.Context(), blockCommands(name, req.Peers, cluster.AgentPort), false); err != nil {
		_ = a.runAll(context.WithoutCancel(r.Context()), unblockCommands(name), true)
		return nil, fmt.Errorf("block %s: %w", name, err)
	}
	a.blocks[name] = true
	a.log.Warn("fault: traffic blocked", "block", name, "peers", req.Peers)
	return nil, nil
}

func (a *apiServer) unblock(r *http.Request) (any, error) {
	name := r.PathValue("name")
	if err := agentapi.ValidBlockName(name); err != nil {
		return nil, badRequest(err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	_ = a.runAll(r.Context(), unblockCommands(name), true)
	delete(a.blocks, name)
	a.log.Info("fault healed: traffic unblocked", "block", name)
	return nil, nil
}

func (a *apiServer) crashPostgres(*http.Request) (any, error) {
	pid := postmasterPID(a.sup.o.Patroni.DataDir)
	if pid == 0 {
		return nil, fmt.Errorf("postgres: %w (no postmaster.pid in %s)", errNotRunning, a.sup.o.Patroni.DataDir)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return nil, fmt.Errorf("kill postmaster %d: %w", pid, err)
	}
	a.log.Warn("fault: postmaster killed", "pid", pid)
	return agentapi.KillResponse{PID: pid}, nil
}

func (a *apiServer) crashPatroni(r *http.Request) (any, error) {
	req, err := agentapi.DecodePatroniCrashRequest(r.Body)
	if err != nil {
		return nil, badRequest(err)
	}
	pid, err := a.sup.crash(req.Hold)
	if err != nil {
		return nil, fmt.Errorf("patroni: %w", err)
	}
	a.log.Warn("fault: patroni killed", "pid", pid, "hold", req.Hold)
	return agentapi.KillResponse{PID: pid}, nil
}

// power cuts the node softly or restores it; both are idempotent, so a
// head node that lost the answer can ask again.
func (a *apiServer) power(r *http.Request) (any, error) {
	req, err := agentapi.DecodePowerRequest(r.Body)
	if err != nil {
		return nil, badRequest(err)
	}
	if *req.On {
		// A real cut leaves no rules behind (a new network namespace, a
		// reboot); neither does a soft one. A failure here is logged, not
		// returned: the power must come back anyway.
		if err := a.clearFaults(r.Context(), "soft power-on"); err != nil {
			a.log.Warn("soft power-on: faults not all cleared", "err", err)
		}
		a.sup.powerOn()
		a.log.Info("soft power restored: patroni starts again")
		return agentapi.PowerResponse{On: true}, nil
	}
	killed, err := a.sup.powerOff()
	if err != nil {
		return nil, err
	}
	a.log.Warn("soft power cut: every database process stopped and killed", "killed", len(killed))
	return agentapi.PowerResponse{On: false, Killed: killed}, nil
}

// fillPath is next to the data directory, on its filesystem but outside
// it, so a base backup taken meanwhile does not copy it.
func (a *apiServer) fillPath() string {
	return filepath.Join(filepath.Dir(a.sup.o.Patroni.DataDir), "redswitch-fill")
}

func (a *apiServer) fill(r *http.Request) (any, error) {
	req, err := agentapi.DecodeFillRequest(r.Body)
	if err != nil {
		return nil, badRequest(err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	path := a.fillPath()
	_ = os.Remove(path)
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
		return nil, fmt.Errorf("statfs %s: %w", filepath.Dir(path), err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	size, err := fillSize(free, req)
	if err != nil {
		return nil, httpError{http.StatusConflict, err}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("fill: %w", err)
	}
	defer f.Close()
	if req.LeaveBytes == 0 {
		// statfs's free space lags behind on btrfs: go on to the last
		// block, within the bound already checked against it.
		size = req.MaxBytes
	}
	if size > 0 {
		if size, err = fillFile(int(f.Fd()), size); err != nil {
			os.Remove(path)
			return nil, fmt.Errorf("fill: fallocate in %s: %w", path, err)
		}
	}
	a.filled = size
	a.log.Warn("fault: data volume filled", "path", path, "bytes", size, "free_before", free)
	return agentapi.FillResponse{Path: path, Bytes: size, FreeBefore: free}, nil
}

// fillFile allocates up to size bytes in chunks, halving a chunk the
// filesystem refuses, down to one block: free space as statfs reports it
// is not all allocatable at once (btrfs keeps metadata apart), and a
// disk-full fault must leave the disk full to the last block. Measured on
// btrfs: with 0.7 MB left PostgreSQL went on writing; with none, the next
// WAL write failed (SQLSTATE 53100) and the server crashed into recovery.
// It returns how much it allocated.
func fillFile(fd int, size int64) (int64, error) {
	const minChunk = 4 << 10
	off, chunk := int64(0), size
	for off < size && chunk >= minChunk {
		n := min(chunk, size-off)
		if err := syscall.Fallocate(fd, 0, off, n); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				chunk /= 2
				continue
			}
			return off, err
		}
		off += n
	}
	return off, nil
}

// fillSize decides how much to allocate, refusing a fill larger than the
// request allows: a data directory on the host's disk would fill the host.
func fillSize(free int64, req agentapi.FillRequest) (int64, error) {
	size := free - req.LeaveBytes
	if size < 0 {
		size = 0
	}
	if size > req.MaxBytes {
		return 0, fmt.Errorf("fill: the data volume has %d bytes free, more than max_bytes %d: give the node a bounded data volume, or raise max_bytes", free, req.MaxBytes)
	}
	return size, nil
}

func (a *apiServer) release(*http.Request) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := os.Remove(a.fillPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("release fill: %w", err)
	}
	a.filled = 0
	a.log.Info("fault healed: data volume released")
	return nil, nil
}

func (a *apiServer) sql(ctx context.Context, stmt string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := runCmd(ctx, a.sup.r, &a.sup.acct, psqlCommand(a.sup.o.Patroni.BinDir, "/var/run/postgresql", stmt)); err != nil {
		return httpError{http.StatusConflict, fmt.Errorf("sql %q: %w", stmt, err)}
	}
	return nil
}

// patroniLog answers the Patroni output read in the query's window.
func (a *apiServer) patroniLog(r *http.Request) (any, error) {
	q, err := agentapi.ParseLogQuery(r.URL.Query())
	if err != nil {
		return nil, badRequest(err)
	}
	lines, omitted, complete := a.sup.logs.window(q)
	if lines == nil {
		lines = []agentapi.LogLine{}
	}
	return agentapi.PatroniLog{Node: a.sup.o.Patroni.Name, Lines: lines, Omitted: omitted, Complete: complete}, nil
}

func (a *apiServer) wal(r *http.Request) (any, error) {
	req, err := agentapi.DecodeWALRequest(r.Body)
	if err != nil {
		return nil, badRequest(err)
	}
	return nil, a.sql(r.Context(), walFillSQL(req.Bytes))
}

// serveAPI listens on addr and serves until ctx ends. A node whose API
// cannot listen still runs its database: the failure is logged.
func serveAPI(ctx context.Context, addr string, a *apiServer) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		a.log.Error("agent api cannot listen; in-node faults are unavailable", "addr", addr, "err", err)
		return
	}
	srv := newHTTPServer(a.handler(), a.log)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	a.log.Info("agent api listening", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.Error("agent api stopped", "err", err)
	}
}
