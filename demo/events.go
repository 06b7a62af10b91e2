package demo

import (
	"github.com/redswitch/redswitch/headnode"
	"github.com/redswitch/redswitch/journal"
)

// Events returns every event recorded so far, including those read back
// from the journal of an earlier run of the same data dir.
func (d *Demo) Events() []journal.Event { return d.rec.Events() }

// Record appends an event (a scenario step, a fault) to the journal.
func (d *Demo) Record(e journal.Event) (journal.Event, error) { return d.rec.Append(e) }

// Log is the demo's event log, for parts composed around it.
func (d *Demo) Log() *headnode.EventLog { return d.rec }
