package analysis

import (
	"time"

	"github.com/redswitch/redswitch/journal"
)

// PhaseWritable is the new primary's PostgreSQL accepting writes, as the
// head node saw it polling pg_is_in_recovery() on the node directly
// (journal.KindWritable): measured apart from Patroni, whose `promoted`
// role is published in etcd about a second after the first commit and so
// says nothing about when the failover could end.
const PhaseWritable = "writable"

// writablePhase is the first writable event of f's new primary in the
// window of f, which starts at the cut.
func writablePhase(window []journal.Event, f Failover) (Phase, bool) {
	for _, e := range window {
		if e.Kind == journal.KindWritable && e.Node == f.NewPrimary {
			return Phase{Name: PhaseWritable, Seconds: e.At.Sub(f.StartedAt).Seconds()}, true
		}
	}
	return Phase{}, false
}

// rigShare is what the rig adds after the new primary is writable: from
// the writable phase to the first commit (HAProxy's routing, the probe's
// reconnect and retry), nil without a writable phase. It is negative when
// the probe's commit came before the watcher's next poll: the poll
// interval is the measurement's resolution.
func rigShare(f Failover) *time.Duration {
	for _, p := range f.Phases {
		if p.Name == PhaseWritable {
			d := f.Duration - time.Duration(p.Seconds*float64(time.Second))
			return &d
		}
	}
	return nil
}
