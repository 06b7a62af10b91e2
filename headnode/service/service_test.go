package service

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/redswitch/redswitch/dirlock"
	"github.com/redswitch/redswitch/headnode"
	"github.com/redswitch/redswitch/power"
)

// TestOneHeadNodePerDataDir: a second head node on a data directory is
// refused before it touches anything, naming the owner.
func TestOneHeadNodePerDataDir(t *testing.T) {
	dir := t.TempDir()
	owner, err := dirlock.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Release()
	_, err = Start(context.Background(), Options{Scope: "s", DataDir: dir, Power: power.NewObserve(),
		Members: []headnode.Member{{Name: "n1", Address: "10.0.0.1"}}})
	if !errors.Is(err, dirlock.ErrHeld) || !strings.Contains(err.Error(), "pid ") {
		t.Fatalf("Start on a held data dir = %v, want dirlock.ErrHeld naming the owner", err)
	}
}

func TestDSNHostPort(t *testing.T) {
	for _, tt := range []struct {
		dsn, host, port, err string
	}{
		{"postgres://u:p@127.0.0.1:5432/postgres", "127.0.0.1", "5432", ""},
		{"postgresql://u@db/x", "db", "5432", ""},
		{"postgres://u:secret@/postgres", "", "", "has no host"},
		{"mysql://u@h/x", "", "", "want a postgres:// URL"},
		{"postgres://u@h:99999/x", "", "", "out of range"},
		{"postgres://u:secret@h:x/", "", "", "DSN"},
	} {
		t.Run(tt.dsn, func(t *testing.T) {
			h, p, err := dsnHostPort(tt.dsn)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("dsnHostPort(%q) = %v, want error with %q", tt.dsn, err, tt.err)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error %q shows the password", err)
				}
				return
			}
			if err != nil || h != tt.host || p != tt.port {
				t.Fatalf("dsnHostPort(%q) = %s %s %v", tt.dsn, h, p, err)
			}
		})
	}
}

func TestReachable(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no waiting for a listener that never comes
	if err := reachable(ctx, "postgres://u@127.0.0.1:1/x"); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("reachable(closed port) = %v", err)
	}
}
