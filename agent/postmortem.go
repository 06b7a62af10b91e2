package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/fork"
	"github.com/redswitch/redswitch/fork/pglocal"
)

// A primary that lost its power holds commits no replica received. When
// it comes back, Patroni runs pg_rewind and they are gone. With
// PostmortemForks the agent first forks the data directory as it lies (a
// snapshot on btrfs, so the rejoin waits well under a second) and starts
// the fork on a port of its own, so those commits can still be read.

func (s *supervisor) takePostmortemDue() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	due := s.postmortemDue
	s.postmortemDue = false
	return due
}

// clusterState returns the "Database cluster state" pg_controldata reports.
func clusterState(controldata string) string {
	for _, l := range strings.Split(controldata, "\n") {
		if v, ok := strings.CutPrefix(l, "Database cluster state:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// postmortem forks the data directory when its server was a primary that
// stopped without shutting down (state "in production" while nothing
// runs). Older post-mortem forks are destroyed first: a booth fails over
// all day, and one running fork per node is enough.
func (s *supervisor) postmortem(ctx context.Context) {
	if !s.o.PostmortemForks {
		return
	}
	dir := s.o.Patroni.DataDir
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		return
	}
	if _, running := pglocal.RunningPID(dir); running {
		return // running: not a crash we can look at
	}
	runCtx := ctx
	ctx, cancel := context.WithTimeout(ctx, forkTimeout)
	defer cancel()
	out, err := runCmd(ctx, s.r, &s.acct, []string{s.o.Patroni.BinDir + "/pg_controldata", "-D", dir})
	if err != nil || clusterState(out) != "in production" {
		return
	}
	s.forkMu.Lock()
	defer s.forkMu.Unlock()
	used := map[int]bool{}
	fl, err := s.listForks(ctx)
	if err != nil {
		s.log.Warn("post-mortem: cannot list the forks kept so far", "err", err)
	}
	for _, f := range fl {
		if strings.HasPrefix(f.Name, agentapi.PostmortemPrefix) {
			_, err := s.forkCmd(ctx, "destroy", "--dir", s.forksDir(), f.Name)
			if err == nil {
				continue
			}
			s.log.Warn("old post-mortem fork not destroyed", "fork", f.Name, "err", err)
		}
		used[f.Port] = true
	}
	port, err := freeForkPort(used, tcpListening)
	if err != nil {
		s.log.Error("no post-mortem fork", "err", err)
		return
	}
	name := agentapi.PostmortemPrefix + time.Now().UTC().Format("20060102-150405")
	start := time.Now()
	res, err := s.forkCmd(ctx, createArgs(dir, s.forksDir(), s.o.Patroni.BinDir, name, port, "", true)...)
	if err != nil {
		s.log.Error("no post-mortem fork of the crashed primary", "err", err)
		return
	}
	j, err := lastJSON(res)
	if err != nil {
		s.log.Error("post-mortem fork: unreadable answer", "err", err)
		return
	}
	var f fork.Fork
	if err := json.Unmarshal([]byte(j), &f); err != nil {
		s.log.Error("post-mortem fork: unreadable answer", "err", err)
		return
	}
	s.log.Warn("crashed primary forked before it rejoins: read what pg_rewind will discard there",
		"fork", f.Name, "port", f.Port, "method", f.Method, "took", time.Since(start).Round(time.Millisecond))
	// Reported in the background: Patroni must not wait for etcd.
	go s.report(runCtx, agentapi.NodeEvent{Node: s.o.Patroni.Name, At: time.Now().UTC(),
		Detail: fmt.Sprintf("post-mortem fork %s kept before rejoining (%s, port %d)", f.Name, f.Method, f.Port)})
}
