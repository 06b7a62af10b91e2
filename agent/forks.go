package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/fork"
)

// Forks are made by a child process (`redswitch fork local`): as a
// container's PID 1 the agent reaps every child itself, and the fork code's
// own waits for pg_ctl and btrfs would lose their exit statuses.

// firstForkPort is where the agent starts looking for a free port.
const firstForkPort = 5440

// forkTimeout bounds one fork; it outlives the request, so a client that
// gives up does not leave a half-made fork behind.
const forkTimeout = 5 * time.Minute

func (s *supervisor) forksDir() string {
	return filepath.Join(filepath.Dir(s.o.Patroni.DataDir), "forks")
}

// forkCmd runs `redswitch fork local ARGS...` as a child.
func (s *supervisor) forkCmd(ctx context.Context, args ...string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("fork: own executable: %w", err)
	}
	argv, env := forkCommand(self, s.o.Patroni.SuperuserPassword, args...)
	return runCmdEnv(ctx, s.r, nil, argv, env)
}

// forkCommand builds the child's command line and the environment it adds:
// the superuser's password goes in the environment (fork.PasswordEnv),
// never in argv, which every user of the node reads (ps) and a failed
// command's error repeats.
func forkCommand(self, password string, args ...string) (argv, env []string) {
	argv = append([]string{self, "fork", "local"}, args...)
	if password != "" {
		env = []string{fork.PasswordEnv + "=" + password}
	}
	return argv, env
}

// createArgs are `fork local create`'s arguments for a fork of dataDir
// (stopped: a crashed primary's, for a post-mortem).
func createArgs(dataDir, forksDir, binDir, name string, port int, listen string, stopped bool) []string {
	args := []string{"create"}
	if stopped {
		args = append(args, "--stopped")
	}
	if listen != "" {
		args = append(args, "--listen", listen)
	}
	return append(args, "--data-dir", dataDir, "--dsn", localDSN(), "--dir", forksDir,
		"--bin-dir", binDir, "--name", name, "--port", strconv.Itoa(port), "--allow-copy")
}

// localDSN reaches the node's own PostgreSQL (or a fork of it, with the
// port changed) over its socket; the password travels apart (forkCommand).
func localDSN() string {
	return "host=/var/run/postgresql port=5432 user=postgres dbname=postgres"
}

// lastJSON returns the last line of out that holds a JSON document: the
// child's log lines share its output.
func lastJSON(out string) (string, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if strings.HasPrefix(l, "{") || strings.HasPrefix(l, "[") {
			return l, nil
		}
	}
	return "", fmt.Errorf("no JSON in the fork command's output: %q", out)
}

// listForks reads the forks the node keeps.
func (s *supervisor) listForks(ctx context.Context) ([]fork.Fork, error) {
	out, err := s.forkCmd(ctx, "list", "--dir", s.forksDir())
	if err != nil {
		return nil, err
	}
	j, err := lastJSON(out)
	if err != nil {
		return nil, err
	}
	var fl []fork.Fork
	if err := json.Unmarshal([]byte(j), &fl); err != nil {
		return nil, fmt.Errorf("fork list: %w", err)
	}
	return fl, nil
}

// forkInfo turns the fork's record into the wire form, with a DSN that
// reaches it over the network rather than through the node's socket. It
// carries the password: the forks API is the head node's, behind its
// operator token, and the operator needs a DSN that connects.
func (a *apiServer) forkInfo(f fork.Fork) agentapi.ForkInfo {
	p := a.sup.o.Patroni
	host := p.Address
	if first, _, _ := strings.Cut(f.Listen, ","); net.ParseIP(first) != nil && !net.ParseIP(first).IsUnspecified() {
		// A fork asked to listen on given addresses is reached there.
		host = first
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword("postgres", p.SuperuserPassword),
		Host: net.JoinHostPort(host, strconv.Itoa(f.Port)), Path: "/postgres"}
	return agentapi.ForkInfo{Name: f.Name, Node: p.Name, Port: f.Port, DSN: u.String(), Method: string(f.Method),
		Timeline: f.Timeline, CreatedAt: f.CreatedAt, Running: f.Running,
		ToWritableS: f.Timings.ToWritable.Seconds(), CheckpointS: f.Timings.Checkpoint.Seconds(),
		CopyS: f.Timings.Snapshot.Seconds(), StartS: f.Timings.Start.Seconds(), PromoteS: f.Timings.Promote.Seconds(),
		ReplayBytes: f.ReplayBytes}
}

// freeForkPort picks the lowest port from firstForkPort that no fork uses
// and nothing listens on.
func freeForkPort(used map[int]bool, listening func(int) bool) (int, error) {
	for p := firstForkPort; p < firstForkPort+500; p++ {
		if !used[p] && !listening(p) {
			return p, nil
		}
	}
	return 0, errors.New("no free port for a fork")
}

func tcpListening(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func (a *apiServer) createFork(r *http.Request) (any, error) {
	req, err := agentapi.DecodeForkRequest(r.Body)
	if err != nil {
		return nil, badRequest(err)
	}
	if err := fork.ValidateName(req.Name); err != nil {
		return nil, badRequest(err)
	}
	a.sup.forkMu.Lock()
	defer a.sup.forkMu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), forkTimeout)
	defer cancel()
	existing, err := a.sup.listForks(ctx)
	if err != nil {
		return nil, err
	}
	used := map[int]bool{}
	for _, f := range existing {
		if f.Name == req.Name {
			return nil, httpError{http.StatusConflict, fmt.Errorf("fork %q exists already on %s", req.Name, a.sup.o.Patroni.Name)}
		}
		used[f.Port] = true
	}
	if req.Port == 0 {
		if req.Port, err = freeForkPort(used, tcpListening); err != nil {
			return nil, httpError{http.StatusConflict, err}
		}
	} else if used[req.Port] || tcpListening(req.Port) {
		return nil, httpError{http.StatusConflict, fmt.Errorf("port %d is taken on %s", req.Port, a.sup.o.Patroni.Name)}
	}
	p := a.sup.o.Patroni
	out, err := a.sup.forkCmd(ctx, createArgs(p.DataDir, a.sup.forksDir(), p.BinDir, req.Name, req.Port, req.Listen, false)...)
	if err != nil {
		return nil, err
	}
	j, err := lastJSON(out)
	if err != nil {
		return nil, err
	}
	var f fork.Fork
	if err := json.Unmarshal([]byte(j), &f); err != nil {
		return nil, fmt.Errorf("fork create: %w", err)
	}
	a.log.Info("fork created", "fork", f.Name, "port", f.Port, "method", f.Method, "timeline", f.Timeline,
		"to_writable", f.Timings.ToWritable.Round(time.Millisecond))
	return a.forkInfo(f), nil
}

func (a *apiServer) forks(r *http.Request) (any, error) {
	fl, err := a.sup.listForks(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]agentapi.ForkInfo, 0, len(fl))
	for _, f := range fl {
		out = append(out, a.forkInfo(f))
	}
	return out, nil
}

func (a *apiServer) destroyFork(r *http.Request) (any, error) {
	name := r.PathValue("name")
	if err := fork.ValidateName(name); err != nil {
		return nil, badRequest(err)
	}
	a.sup.forkMu.Lock()
	defer a.sup.forkMu.Unlock()
	fl, err := a.sup.listForks(r.Context())
	if err != nil {
		return nil, err
	}
	found := false
	for _, f := range fl {
		found = found || f.Name == name
	}
	if !found {
		return nil, httpError{http.StatusNotFound, fmt.Errorf("no fork %q on %s", name, a.sup.o.Patroni.Name)}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), forkTimeout)
	defer cancel()
	if _, err := a.sup.forkCmd(ctx, "destroy", "--dir", a.sup.forksDir(), name); err != nil {
		return nil, err
	}
	a.log.Info("fork destroyed", "fork", name)
	return nil, nil
}
