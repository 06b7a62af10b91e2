package agentapi

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// PathPatroniLog serves the agent's recent Patroni output: GET with the
// query of LogQuery.
const PathPatroniLog = "/v1/patroni/log"

// MaxLogLines bounds the lines of one answer of GET /v1/patroni/log.
const MaxLogLines = 500

// LogLine is one line of Patroni's output (PostgreSQL's too: Patroni
// runs it with its output) and when the agent read it, by its clock.
type LogLine struct {
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

// PatroniLog is the answer of GET /v1/patroni/log.
type PatroniLog struct {
	Node string `json:"node"`
	// Lines are in the order they were read.
	Lines []LogLine `json:"lines"`
	// Omitted counts the lines of the window left out beyond Max, taken
	// from its middle: the first and the last lines say most.
	Omitted int `json:"omitted,omitempty"`
	// Complete is false when the agent's ring no longer reaches back to
	// Since: older lines were dropped.
	Complete bool `json:"complete"`
}

// LogQuery selects the lines of GET /v1/patroni/log: read from Since up
// to Until (both included; zero means open), at most Max of them.
type LogQuery struct {
	Since, Until time.Time
	Max          int
}

// Values is the query string of q.
func (q LogQuery) Values() url.Values {
	v := url.Values{}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	if q.Max > 0 {
		v.Set("max", strconv.Itoa(q.Max))
	}
	return v
}

// ParseLogQuery reads the query of GET /v1/patroni/log: since and until
// as RFC 3339 times, max from 1 to MaxLogLines (default 50).
func ParseLogQuery(v url.Values) (LogQuery, error) {
	q := LogQuery{Max: 50}
	var err error
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		s := v.Get(f.name)
		if s == "" {
			continue
		}
		if *f.t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return LogQuery{}, fmt.Errorf("%s %q: want an RFC 3339 time", f.name, s)
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return LogQuery{}, errors.New("until is before since")
	}
	if s := v.Get("max"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLogLines {
			return LogQuery{}, fmt.Errorf("max %q: want 1 to %d", s, MaxLogLines)
		}
		q.Max = n
	}
	return q, nil
}
