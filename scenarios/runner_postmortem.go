package scenarios

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe"
)

// postmortem waits for the agent's post-mortem fork of node, reads how far
// the probe's rows go in it, and judges that against what the node
// acknowledged.
func (r *run) postmortem(ctx context.Context, node string, deadline time.Time) verdict {
	var found *agentapi.ForkInfo
	var lastErr error
	r.pollUntil(ctx, deadline, func() bool {
		fl, err := r.c.Forks(ctx)
		if err != nil {
			lastErr = err
			return false
		}
		for _, f := range fl {
			if f.Node == node && strings.HasPrefix(f.Name, agentapi.PostmortemPrefix) {
				found = &f
				return true
			}
		}
		return false
	})
	if found == nil {
		if lastErr != nil {
			return fail("no post-mortem fork of %s: %v", node, lastErr)
		}
		return fail("no post-mortem fork of %s (is cluster.postmortem_forks on, and did %s crash as primary?)", node, node)
	}
	maxSeq, err := forkProbeMax(ctx, found.DSN)
	if err != nil {
		return fail("post-mortem fork %s of %s: %v", found.Name, node, err)
	}
	return judgePostmortem(r.c.Events(), node, *found, maxSeq)
}

// forkProbeMax reads the highest probe row a fork holds.
func forkProbeMax(ctx context.Context, dsn string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var m int64
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(seq), 0) FROM "+probe.DefaultTable).Scan(&m); err != nil {
		return 0, err
	}
	return uint64(m), nil
}

// judgePostmortem passes when the fork holds every probe commit node
// acknowledged; rows beyond the last acknowledged one were written but
// never acknowledged (in flight at the cut), and are what only a
// post-mortem shows.
func judgePostmortem(events []journal.Event, node string, f agentapi.ForkInfo, forkMax uint64) verdict {
	var acked uint64
	for _, e := range events {
		if e.Kind == journal.KindProbeAck && e.Node == node && e.Last > acked {
			acked = e.Last
		}
	}
	if acked == 0 {
		return fail("post-mortem fork %s: %s acknowledged no probe commit in this run", f.Name, node)
	}
	if forkMax < acked {
		return fail("post-mortem fork %s of %s holds probe rows up to #%d, but %s acknowledged up to #%d", f.Name, node, forkMax, node, acked)
	}
	v := pass("post-mortem fork %s of %s (%s, port %d) holds every commit %s acknowledged (up to #%d); %d more row(s) there were never acknowledged",
		f.Name, node, f.Method, f.Port, node, acked, forkMax-acked)
	v.Measures = []measure{{Name: "postmortem_unacked_rows", Value: float64(forkMax - acked)}}
	return v
}
