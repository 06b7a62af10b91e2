package headnode

import (
	"sync"

	"github.com/redswitch/redswitch/journal"
)

// EventLog appends to the journal and keeps every event in memory, so the
// analysis, the API, scenarios and benchmarks judge the whole history
// without re-reading the file. Probe acks are compacted into ranges, so an
// hour is a few thousand events.
type EventLog struct {
	j  *journal.Journal
	mu sync.Mutex
	ev []journal.Event
	// listeners get every event once it is written, in order.
	listeners []func(journal.Event)
}

// NewEventLog wraps an open journal and the history read back from it.
func NewEventLog(j *journal.Journal, history []journal.Event) *EventLog {
	return &EventLog{j: j, ev: append([]journal.Event(nil), history...)}
}

// Append records e: it writes it to the journal, keeps it in memory and
// tells the listeners, all in sequence order, then waits until it is as
// durable as its kind asks (journal.Journal.Append's guarantee). An
// event whose fsync failed stays in memory, since it was written; the
// journal refuses everything after it and the state says so.
func (l *EventLog) Append(e journal.Event) (journal.Event, error) {
	l.mu.Lock()
	// Held for the write, not the fsync: memory, file and listeners keep
	// one order, and an unsynced probe ack does not wait behind a power
	// or role event's fsync at failover time.
	e, err := l.j.Write(e)
	if err != nil {
		l.mu.Unlock()
		return e, err
	}
	l.ev = append(l.ev, e)
	for _, f := range l.listeners {
		f(e)
	}
	l.mu.Unlock()
	return e, l.j.WaitDurable(e)
}

// Events returns every event recorded so far, including those read back
// from the journal of an earlier run.
func (l *EventLog) Events() []journal.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]journal.Event(nil), l.ev...)
}

// Listen calls f for every event recorded from now on. f runs under the
// log's lock: it must be quick and must not append.
func (l *EventLog) Listen(f func(journal.Event)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.listeners = append(l.listeners, f)
}
