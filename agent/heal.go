package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redswitch/redswitch/agentapi"
)

// corruptionSignatures are what PostgreSQL says when its data directory is
// damaged beyond what crash recovery repairs. Lower case.
var corruptionSignatures = []string{
	"incorrect checksum in control file",
	"calculated crc checksum does not match value stored in file",
	"could not locate a valid checkpoint record",
	"invalid page in block",
	"page verification failed",
}

// corruptionSignature returns the signature a log line carries, or "".
func corruptionSignature(line string) string {
	l := strings.ToLower(line)
	for _, s := range corruptionSignatures {
		if strings.Contains(l, s) {
			return s
		}
	}
	return ""
}

// controlDataVerdict judges pg_controldata's output and error: a CRC
// mismatch or an unreadable control file means PostgreSQL cannot start.
func controlDataVerdict(out string, err error) string {
	if sig := corruptionSignature(out); sig != "" {
		return "pg_control: " + sig
	}
	if err != nil {
		return "pg_control unreadable: " + strings.TrimSpace(out)
	}
	if !strings.Contains(out, "Database cluster state:") {
		return "pg_control: no cluster state in pg_controldata output"
	}
	return ""
}

// checkDataDir looks at the data directory before Patroni starts: a
// damaged control file is corruption. An absent or half-made data
// directory is Patroni's business, not ours.
func (s *supervisor) checkDataDir(ctx context.Context) string {
	dir := s.o.Patroni.DataDir
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		return ""
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := runCmd(cctx, s.r, &s.acct, []string{s.o.Patroni.BinDir + "/pg_controldata", "-D", dir})
	if ctx.Err() != nil {
		return ""
	}
	v := controlDataVerdict(out, err)
	if v != "" {
		s.log.Error("data directory is corrupt", "dir", dir, "verdict", v)
	}
	return v
}

// reinitialise wipes the data directory once another member holds the
// leader key, so that Patroni rebuilds this node from the primary with a
// fresh base backup. It never wipes a node that may be the only copy: with
// no other leader it gives up and lets Patroni try as it is.
func (s *supervisor) reinitialise(ctx context.Context, reason string) {
	leader, err := s.waitForOtherLeader(ctx, 2*time.Minute)
	if err != nil {
		s.log.Error("not re-initialising: no other member leads", "reason", reason, "err", err)
		return
	}
	dir := s.o.Patroni.DataDir
	if pid := postmasterPID(dir); pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if err := os.RemoveAll(dir); err != nil {
		s.log.Error("cannot wipe the data directory", "dir", dir, "err", err)
		return
	}
	s.mu.Lock()
	s.reinit++
	s.mu.Unlock()
	s.log.Warn("data directory wiped; Patroni re-initialises it from the leader", "reason", reason, "leader", leader)
	go s.reportReinitialised(ctx, reason, leader)
}

// waitForOtherLeader polls the leader key until a member other than this
// one holds it.
func (s *supervisor) waitForOtherLeader(ctx context.Context, limit time.Duration) (string, error) {
	cli, err := s.o.Etcd.New(2 * time.Second)
	if err != nil {
		return "", fmt.Errorf("etcd: %w", err)
	}
	defer cli.Close()
	key := "/service/" + s.o.Patroni.Scope + "/leader"
	deadline := time.Now().Add(limit)
	for {
		gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		res, err := cli.Get(gctx, key)
		cancel()
		if err == nil && len(res.Kvs) == 1 {
			if l := string(res.Kvs[0].Value); l != "" && l != s.o.Patroni.Name {
				return l, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("leader key %s not held by another member within %s", key, limit)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// reportReinitialised waits for the new base backup to land, then tells
// the head node through etcd, where the fault manager turns it into a
// journal event.
func (s *supervisor) reportReinitialised(ctx context.Context, reason, leader string) {
	dir := s.o.Patroni.DataDir
	for ctx.Err() == nil {
		if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
	s.report(ctx, agentapi.NodeEvent{Node: s.o.Patroni.Name, Detail: agentapi.EventReinitialised, Reason: reason,
		From: leader, At: time.Now().UTC()})
}

// report tells the head node about an event of this node through etcd,
// retrying for a minute while etcd is out of reach.
func (s *supervisor) report(ctx context.Context, ev agentapi.NodeEvent) {
	b, _ := json.Marshal(ev)
	key := agentapi.NodeEventKey(s.o.Patroni.Scope, s.o.Patroni.Name, ev.At)
	for attempt := 0; attempt < 60 && ctx.Err() == nil; attempt++ {
		if err := s.putOnce(ctx, key, string(b)); err == nil {
			s.log.Info("reported node event", "key", key, "detail", ev.Detail)
			return
		} else if attempt == 0 {
			s.log.Warn("cannot report a node event yet", "detail", ev.Detail, "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (s *supervisor) putOnce(ctx context.Context, key, val string) error {
	cli, err := s.o.Etcd.New(2 * time.Second)
	if err != nil {
		return err
	}
	defer cli.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = cli.Put(pctx, key, val)
	return err
}

// postmasterPID reads the postmaster's pid from its lock file, or 0.
func postmasterPID(dataDir string) int {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 1 {
		return 0
	}
	return pid
}
