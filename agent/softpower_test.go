package agent

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redswitch/redswitch/prereq"
)

func TestPidsOfUID(t *testing.T) {
	root := t.TempDir()
	procs := map[string]string{
		"1":    "Name:\tredswitch\nUid:\t0\t0\t0\t0\n",
		"42":   "Name:\tpatroni\nUid:\t104\t104\t104\t104\n",
		"43":   "Name:\tpostgres\nState:\tS (sleeping)\nUid:\t104\t104\t104\t104\n",
		"48":   "Name:\tpostgres\nState:\tZ (zombie)\nUid:\t104\t104\t104\t104\n",
		"44":   "Name:\tpsql\nUid:\t0\t104\t0\t0\n", // effective 104 only: not ours
		"45":   "Name:\tbroken\n",
		"self": "Name:\tlink\nUid:\t104\t104\t104\t104\n",
		"abc":  "Uid:\t104\n",
		"46":   "Name:\tgarbled\nUid:\tx\n",
	}
	for dir, status := range procs {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, dir, "status"), []byte(status), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A process that vanished between listing and reading has no status.
	if err := os.MkdirAll(filepath.Join(root, "47"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		uid  int
		want []int
	}{
		{104, []int{42, 43}},
		{0, []int{1, 44}},
		{999, nil},
	}
	for _, tc := range tests {
		got, err := pidsOfUID(root, tc.uid)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("uid %d: got %v, want %v", tc.uid, got, tc.want)
		}
	}
	if _, err := pidsOfUID(filepath.Join(root, "missing"), 0); err == nil {
		t.Error("a missing proc root must be an error")
	}
}

func TestPidsOfUIDSelf(t *testing.T) {
	pids, err := pidsOfUID("/proc", os.Getuid())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pids {
		if p == os.Getpid() {
			return
		}
	}
	t.Fatalf("own pid %d not among %v", os.Getpid(), pids)
}

// TestPowerOffKillsTheAccount runs a process tree under an otherwise unused
// user id and checks that a soft cut kills all of it, holds Patroni down,
// and that power-on lifts the hold.
func TestPowerOffKillsTheAccount(t *testing.T) {
	if os.Getuid() != 0 {
		prereq.Missing(t, "needs root to run processes under another user id")
	}
	const uid = 64917
	if pids, _ := pidsOfUID("/proc", uid); len(pids) > 0 {
		// A fact of this machine, not something our scripts set up: some
		// other account happens to use the uid, and killing its processes
		// would be wrong. A skip, even in CI.
		t.Skipf("uid %d is in use here: %v", uid, pids)
	}
	start := func(args ...string) *exec.Cmd {
		c := exec.Command(args[0], args[1:]...)
		c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}, Setsid: true}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// A parent that keeps forking children, as a busy postmaster does.
	parent := start("/bin/sh", "-c", "while :; do sleep 30 & sleep 0.01; done")
	other := start("/bin/sleep", "60")
	waitFor := func(cond func() bool) {
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatal("timed out")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(func() bool { p, _ := pidsOfUID("/proc", uid); return len(p) >= 4 })

	sup := newSupervisor(Options{}, account{uid: uid}, newReaper(false), slog.New(slog.DiscardHandler))
	killed, err := sup.powerOff()
	if err != nil {
		t.Fatal(err)
	}
	if len(killed) < 4 {
		t.Errorf("killed %v, want the shell, its children and the other process", killed)
	}
	_ = parent.Wait()
	_ = other.Wait()
	// Orphaned children are reaped by init; they must be dead, not stopped.
	waitFor(func() bool {
		for _, pid := range killed {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err == nil && !strings.Contains(string(b), ") Z ") {
				return false
			}
		}
		return true
	})
	if !sup.isHeld() || !sup.isSoftOff() {
		t.Error("after a soft cut Patroni must be held down")
	}
	sup.powerOn()
	if sup.isHeld() || sup.isSoftOff() {
		t.Error("power on must lift the hold")
	}
}
