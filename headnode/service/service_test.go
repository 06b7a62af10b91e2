package service

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

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

// TestWritableWatcher: on wherever the probe runs, off without it or when
// switched off; a DSN it cannot use stops the start, without its password.
func TestWritableWatcher(t *testing.T) {
	members := []headnode.Member{{Name: "n1", Address: "10.0.0.11"}, {Name: "n2", Address: "10.0.0.12"}}
	now := func() time.Time { return time.Time{} }
	for _, tt := range []struct {
		name string
		o    Options
		on   bool
		err  string
	}{
		{"with the probe", Options{Members: members, ProbeDSN: "postgres://postgres:secret@127.0.0.1:5000/postgres"}, true, ""},
		{"without the probe", Options{Members: members}, false, ""},
		{"switched off", Options{Members: members, ProbeDSN: "postgres://postgres:secret@127.0.0.1:5000/postgres", WritableOff: true}, false, ""},
		{"a DSN that is no URL", Options{Members: members, ProbeDSN: "host=x password=secret", ProbeSource: "booth.yaml:12: probe.dsn"}, false, "booth.yaml:12"},
		{"a member without address", Options{Members: []headnode.Member{{Name: "n1"}}, ProbeDSN: "postgres://u:secret@h/x"}, false, "node n1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Log = slog.New(slog.DiscardHandler)
			w, err := writableWatcher(tt.o, headnode.NewEventLog(nil, nil), now)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || strings.Contains(err.Error(), "secret") {
					t.Fatalf("err = %v, want one with %q and no password", err, tt.err)
				}
				return
			}
			if err != nil || (w != nil) != tt.on {
				t.Fatalf("watcher %v, err %v; want on %v", w != nil, err, tt.on)
			}
		})
	}
}
