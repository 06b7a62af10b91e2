// Package pglocal runs the PostgreSQL server programs (initdb, pg_ctl) on one
// local data directory, as the user that owns the directory: PostgreSQL
// refuses to run as root, and a data directory must belong to its server.
package pglocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultBinDir is where Debian's postgresql-15 package puts its programs.
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

// Owner is the numeric user and group that own a data directory.
type Owner struct {
	UID, GID int
}

// OwnerOf returns the owner of path.
func OwnerOf(path string) (Owner, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Owner{}, fmt.Errorf("owner of %s: %w", path, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Owner{}, fmt.Errorf("owner of %s: no unix stat", path)
	}
	return Owner{UID: int(st.Uid), GID: int(st.Gid)}, nil
}

// Command builds a command that runs argv as owner when the caller is root,
// and as the caller otherwise (an unprivileged caller can only be the owner).
func Command(ctx context.Context, owner Owner, argv []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = "/"
	// A server started by pg_ctl keeps no pipe of ours open (it logs to -l),
	// but guard against a child that does so Wait cannot hang forever.
	cmd.WaitDelay = 5 * time.Second
	if os.Geteuid() == 0 && owner.UID != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(owner.UID), Gid: uint32(owner.GID)},
		}
	}
	return cmd
}

// Run runs argv as owner and returns its combined output; a failure carries
// the command and the output's tail.
func Run(ctx context.Context, owner Owner, argv []string) ([]byte, error) {
	return RunEnv(ctx, owner, nil, argv)
}

// RunEnv is Run with env added to the inherited environment: a secret
// (PGPASSWORD) goes there, never into argv, which every user of the
// machine can read and a failure's error repeats.
func RunEnv(ctx context.Context, owner Owner, env, argv []string) ([]byte, error) {
	cmd := Command(ctx, owner, argv)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, Tail(out.String(), 800))
	}
	return out.Bytes(), nil
}

// Tail returns at most n bytes from the end of s, trimmed.
func Tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// InitDBArgs builds an initdb command line for a fresh data directory with
// trust authentication (for local tests and benches only).
func InitDBArgs(binDir, dataDir string) []string {
	return []string{filepath.Join(binDir, "initdb"), "-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"}
}

// StartArgs builds `pg_ctl start`, waiting up to timeout for connections.
// With standby.signal present pg_ctl returns once read-only connections are
// accepted, not when the server is writable.
func StartArgs(binDir, dataDir, logFile string, timeout time.Duration) []string {
	return []string{filepath.Join(binDir, "pg_ctl"), "start", "-D", dataDir, "-l", logFile, "-w", "-s", "-t", seconds(timeout)}
}

// StopArgs builds `pg_ctl stop` with a shutdown mode (smart, fast, immediate).
func StopArgs(binDir, dataDir, mode string, timeout time.Duration) []string {
	return []string{filepath.Join(binDir, "pg_ctl"), "stop", "-D", dataDir, "-m", mode, "-w", "-s", "-t", seconds(timeout)}
}

// PromoteArgs builds `pg_ctl promote`, waiting for promotion to finish.
func PromoteArgs(binDir, dataDir string, timeout time.Duration) []string {
	return []string{filepath.Join(binDir, "pg_ctl"), "promote", "-D", dataDir, "-w", "-s", "-t", seconds(timeout)}
}

// seconds renders a timeout for pg_ctl -t, rounding up to at least 1 s.
func seconds(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.Itoa(s)
}

// Sched is how a server's or a copy's processes are scheduled; zero values
// leave what they inherit.
type Sched struct {
	Nice int    // nice(1) niceness
	CPUs string // taskset(1) CPU list such as "1" or "0,2-3"
	// Idle runs the processes under SCHED_IDLE (chrt --idle): any runnable
	// ordinary process takes the CPU from them at once, where a niced one
	// may still hold it for the rest of its time slice. Niceness does not
	// apply under SCHED_IDLE.
	Idle bool
}

// cpuList is taskset's CPU list: numbers and ranges, comma-separated.
var cpuList = regexp.MustCompile(`^[0-9]{1,4}(-[0-9]{1,4})?(,[0-9]{1,4}(-[0-9]{1,4})?)*$`)

// CheckCPUs checks a CPU list ("1", "0,2-3") for Sched.CPUs.
func CheckCPUs(s string) error {
	if !cpuList.MatchString(s) {
		return fmt.Errorf("CPU list %q: want numbers and ranges such as 1 or 0,2-3", s)
	}
	return nil
}

// Policy names the CPU policy Wrap applies, for reports: "SCHED_IDLE",
// "nice N", or "" for none; Idle wins over Nice.
func (s Sched) Policy() string {
	switch {
	case s.Idle:
		return "SCHED_IDLE"
	case s.Nice != 0:
		return "nice " + strconv.Itoa(s.Nice)
	}
	return ""
}

// Wrap prefixes argv with taskset and chrt or nice as set: a server
// started through them, and all its backends, keep them.
func (s Sched) Wrap(argv []string) []string {
	switch {
	case s.Idle:
		argv = append([]string{"chrt", "--idle", "0"}, argv...)
	case s.Nice != 0:
		argv = append([]string{"nice", "-n", strconv.Itoa(s.Nice)}, argv...)
	}
	if s.CPUs != "" {
		argv = append([]string{"taskset", "-c", s.CPUs}, argv...)
	}
	return argv
}

// Server is one data directory and how to run its server.
type Server struct {
	BinDir  string
	DataDir string
	LogFile string
	Owner   Owner
	Timeout time.Duration // for start, stop and promote; 0 means 5 minutes
	Sched   Sched         // how the server's processes are scheduled
}

func (s Server) timeout() time.Duration {
	if s.Timeout <= 0 {
		return 5 * time.Minute
	}
	return s.Timeout
}

// Start starts the server and waits until it accepts connections. On failure
// the error carries the tail of the server log.
func (s Server) Start(ctx context.Context) error {
	if err := s.touchLog(); err != nil {
		return err
	}
	if _, err := Run(ctx, s.Owner, s.Sched.Wrap(StartArgs(s.BinDir, s.DataDir, s.LogFile, s.timeout()))); err != nil {
		return fmt.Errorf("start %s: %w; log: %s", s.DataDir, err, s.logTail())
	}
	return nil
}

// Stop stops the server in the given mode; a server that is not running is
// not an error.
func (s Server) Stop(ctx context.Context, mode string) error {
	if _, ok := s.Running(); !ok {
		return nil
	}
	if _, err := Run(ctx, s.Owner, StopArgs(s.BinDir, s.DataDir, mode, s.timeout())); err != nil {
		return fmt.Errorf("stop %s: %w", s.DataDir, err)
	}
	return nil
}

// Promote ends recovery and waits until pg_control says the server is in
// production.
func (s Server) Promote(ctx context.Context) error {
	if _, err := Run(ctx, s.Owner, PromoteArgs(s.BinDir, s.DataDir, s.timeout())); err != nil {
		return fmt.Errorf("promote %s: %w; log: %s", s.DataDir, err, s.logTail())
	}
	return nil
}

// Running reports the postmaster's pid when postmaster.pid names a live process.
func (s Server) Running() (int, bool) {
	return RunningPID(s.DataDir)
}

// RunningPID reads dataDir/postmaster.pid and reports its pid if alive.
func RunningPID(dataDir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return 0, false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return 0, false
	}
	return pid, true
}

// touchLog creates the log file as the owner, since pg_ctl opens it as the
// owner and the directory holding it may belong to root.
func (s Server) touchLog() error {
	f, err := os.OpenFile(s.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("server log %s: %w", s.LogFile, err)
	}
	f.Close()
	if os.Geteuid() == 0 {
		if err := os.Chown(s.LogFile, s.Owner.UID, s.Owner.GID); err != nil {
			return fmt.Errorf("server log %s: %w", s.LogFile, err)
		}
	}
	return nil
}

func (s Server) logTail() string {
	b, err := os.ReadFile(s.LogFile)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return Tail(string(b), 1500)
}

// InitDB creates a fresh cluster in s.DataDir (which may exist empty), owned
// by s.Owner.
func (s Server) InitDB(ctx context.Context) error {
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	if err := os.Chmod(s.DataDir, 0o700); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(s.DataDir, s.Owner.UID, s.Owner.GID); err != nil {
			return fmt.Errorf("initdb: %w", err)
		}
	}
	if _, err := Run(ctx, s.Owner, InitDBArgs(s.BinDir, s.DataDir)); err != nil {
		return fmt.Errorf("initdb %s: %w", s.DataDir, err)
	}
	return nil
}

// LookupOwner resolves a user name (e.g. "postgres") to its uid and primary gid.
func LookupOwner(name string) (Owner, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return Owner{}, fmt.Errorf("lookup user %q: %w", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return Owner{}, fmt.Errorf("lookup user %q: non-numeric uid %q or gid %q", name, u.Uid, u.Gid)
	}
	return Owner{UID: uid, GID: gid}, nil
}

// LogFileTail returns the end of the server log, for error messages.
func (s Server) LogFileTail() string { return s.logTail() }
