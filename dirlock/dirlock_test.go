package dirlock

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain lets the test binary hold a lock as a separate process.
func TestMain(m *testing.M) {
	if dir := os.Getenv("DIRLOCK_HOLD"); dir != "" {
		l, err := Acquire(dir)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("held")
		// Hold until the parent closes our stdin.
		bufio.NewReader(os.Stdin).ReadString('\n')
		l.Release()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestAcquire(t *testing.T) {
	t.Run("one owner in the process", func(t *testing.T) {
		dir := t.TempDir()
		l, err := Acquire(dir)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Acquire(dir)
		if !errors.Is(err, ErrHeld) {
			t.Fatalf("second Acquire = %v, want ErrHeld", err)
		}
		if want := fmt.Sprintf("pid %d", os.Getpid()); !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name the owner (%s)", err, want)
		}
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
		if err := l.Release(); err != nil {
			t.Fatalf("second Release: %v", err)
		}
		l2, err := Acquire(dir)
		if err != nil {
			t.Fatalf("Acquire after Release: %v", err)
		}
		l2.Release()
	})
	t.Run("creates the directory", func(t *testing.T) {
		dir := t.TempDir() + "/a/b"
		l, err := Acquire(dir)
		if err != nil {
			t.Fatal(err)
		}
		l.Release()
	})
	t.Run("another process", func(t *testing.T) {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "DIRLOCK_HOLD="+dir)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if strings.TrimSpace(line) != "held" {
			t.Fatalf("child: %q", line)
		}
		_, err = Acquire(dir)
		if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", cmd.Process.Pid)) {
			t.Fatalf("Acquire while the child holds it = %v, want ErrHeld naming pid %d", err, cmd.Process.Pid)
		}
		// The kernel drops the lock with its owner, however it ends.
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		stdin.Close()
		l, err := Acquire(dir)
		if err != nil {
			t.Fatalf("Acquire after the owner was killed: %v", err)
		}
		l.Release()
	})
}
