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
	// listeners get every event after it is recorded, in order.
	listeners []func(journal.Event)
}

// NewEventLog wraps an open journal and the history read back from it.
func NewEventLog(j *journal.Journal, history []journal.Event) *EventLog {
	return &EventLog{j: j, ev: append([]journal.Event(nil), history...)}
}

// Append records e durably, then in memory, then tells the listeners.
func (l *EventLog) Append(e journal.Event) (journal.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Held across the journal append so memory and file keep one order.
	e, err := l.j.Append(e)
	if err != nil {
		return e, err
	}
	l.ev = append(l.ev, e)
	for _, f := range l.listeners {
		f(e)
	}
	return e, nil
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
