package agent

import (
	"sync"
	"time"

	"github.com/redswitch/redswitch/agentapi"
)

// Bounds of the Patroni log ring: a few minutes of Patroni's output at
// the booth's rate (a line a second per loop, more in a failover), and
// lines cut so that a traceback's long line cannot fill memory.
const (
	logRingLines = 4096
	logLineBytes = 512
)

// logRing keeps Patroni's most recent output lines with the time the
// agent read them, so that the head node can fetch what a node said
// around an outage once it closed. It is safe for concurrent use.
type logRing struct {
	mu    sync.Mutex
	lines []agentapi.LogLine // a ring of cap lines once full
	next  int                // where the next line goes once full
	cap   int
	// oldest is when the newest dropped line was read: the ring holds
	// every line read after it (zero: nothing dropped yet).
	oldest time.Time
}

func newLogRing(n int) *logRing { return &logRing{cap: n} }

// add keeps line, read at at, dropping the oldest when full.
func (r *logRing) add(at time.Time, line string) {
	if len(line) > logLineBytes {
		line = line[:logLineBytes] + "…"
	}
	l := agentapi.LogLine{At: at, Text: line}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lines) < r.cap {
		r.lines = append(r.lines, l)
		return
	}
	r.oldest = r.lines[r.next].At
	r.lines[r.next] = l
	r.next = (r.next + 1) % r.cap
}

// window returns the lines read in q's window, at most q.Max: the first
// and last halves when there are more, the middle counted as omitted.
// complete is false when lines of the window may have been dropped.
func (r *logRing) window(q agentapi.LogQuery) (lines []agentapi.LogLine, omitted int, complete bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var in []agentapi.LogLine
	for i := range r.lines {
		l := r.lines[(r.next+i)%len(r.lines)]
		if (!q.Since.IsZero() && l.At.Before(q.Since)) || (!q.Until.IsZero() && l.At.After(q.Until)) {
			continue
		}
		in = append(in, l)
	}
	complete = r.oldest.IsZero() || (!q.Since.IsZero() && r.oldest.Before(q.Since))
	if q.Max <= 0 || len(in) <= q.Max {
		return in, 0, complete
	}
	head := (q.Max + 1) / 2
	tail := q.Max - head
	out := append(append([]agentapi.LogLine{}, in[:head]...), in[len(in)-tail:]...)
	return out, len(in) - q.Max, complete
}
