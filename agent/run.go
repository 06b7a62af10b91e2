package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

var errNotRunning = errors.New("not running")

// runCmd runs argv (as the account when a is not nil) and returns its
// combined output. The process is watched through the reaper, which as PID
// 1 collects every child: a plain exec.Cmd would lose its exit status.
func runCmd(ctx context.Context, r *reaper, a *account, argv []string) (string, error) {
	return runCmdEnv(ctx, r, a, argv, nil)
}

// runCmdEnv is runCmd with env added to the child's environment: where a
// secret goes, since argv is readable by every user of the node and is
// repeated in the error of a failed command.
func runCmdEnv(ctx context.Context, r *reaper, a *account, argv, env []string) (string, error) {
	path := argv[0]
	if !strings.Contains(path, "/") {
		for _, dir := range []string{"/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"} {
			if st, err := os.Stat(dir + path); err == nil && !st.IsDir() {
				path = dir + path
				break
			}
		}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return "", fmt.Errorf("pipe: %w", err)
	}
	attr := &os.ProcAttr{
		Dir:   "/",
		Env:   []string{"PATH=/usr/lib/postgresql/15/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"},
		Files: []*os.File{nil, pw, pw},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	if a != nil {
		attr.Dir = a.home
		attr.Env = append(attr.Env, "HOME="+a.home, "USER="+a.name)
		attr.Sys.Credential = &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid)}
	}
	attr.Env = append(attr.Env, env...)
	r.lock()
	p, err := os.StartProcess(path, argv, attr)
	pw.Close()
	if err != nil {
		r.unlock()
		pr.Close()
		return "", fmt.Errorf("start %s: %w", argv[0], err)
	}
	exited := r.watch(p)
	r.unlock()
	outc := make(chan string, 1)
	go func() {
		var b bytes.Buffer
		_, _ = b.ReadFrom(pr)
		pr.Close()
		outc <- b.String()
	}()
	var status string
	select {
	case status = <-exited:
	case <-ctx.Done():
		_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
		<-exited
		// What it printed before it was stopped says where it hung.
		out := <-outc
		return out, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), ctx.Err(), strings.TrimSpace(out))
	}
	out := <-outc
	if status != "exit status 0" {
		return out, fmt.Errorf("%s: %s: %s", strings.Join(argv, " "), status, strings.TrimSpace(out))
	}
	return out, nil
}
