package fiu

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Watch polls the unit's pins until ctx ends and prints, for wiring day,
// every switch's raw pin level and debounced position as they change: the
// first raw edge of a burst, each debounced flip with how much the contact
// bounced, glitches that never became a flip, and read errors. It is what
// `redswitch fiu watch` runs; do not Run the same Unit at the same time.
func Watch(ctx context.Context, w io.Writer, u *Unit) error {
	wt := newWatcher(w, u)
	wt.header()
	err := u.loop(ctx, func(now time.Time, changes []Switch) {
		wt.observe(now, u.snapshot(), changes)
	})
	if wt.err != nil {
		return fmt.Errorf("fiu watch: writing: %w", wt.err)
	}
	return err
}

// pinView is one switch's raw and debounced state after a sample.
type pinView struct {
	raw     bool
	readErr error
	level   bool
	known   bool
}

func (u *Unit) snapshot() []pinView {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]pinView, len(u.switches))
	for i := range u.switches {
		level, known := u.deb[i].Level()
		out[i] = pinView{raw: u.raw[i].high, readErr: u.readErr[i], level: level, known: known}
	}
	return out
}

// watcher renders what Watch sees; it holds no I/O but the writer, so
// tests drive it sample by sample.
type watcher struct {
	w      io.Writer
	u      *Unit
	start  time.Time
	err    error
	states []watchState
}

type watchState struct {
	seen      bool // a raw level has been read
	raw       bool
	known     bool
	failing   bool
	edges     int
	firstEdge time.Time
	lastEdge  time.Time
}

func newWatcher(w io.Writer, u *Unit) *watcher {
	return &watcher{w: w, u: u, states: make([]watchState, len(u.switches))}
}

func (wt *watcher) printf(format string, args ...any) {
	if wt.err == nil {
		_, wt.err = fmt.Fprintf(wt.w, format, args...)
	}
}

func levelName(high bool) string {
	if high {
		return "high"
	}
	return "low"
}

func posName(on bool) string {
	if on {
		return "ON"
	}
	return "OFF"
}

func (wt *watcher) header() {
	wt.printf("watching %d switches: debounce window %v, polling every %v. Flip each switch; Ctrl-C to stop.\n",
		len(wt.u.switches), wt.u.o.Window, wt.u.o.PollInterval)
	for _, s := range wt.u.switches {
		wt.printf("  switch %d  node %s  pin %d  reads %s when ON\n", s.ID, s.Node, s.Pin, levelName(s.ActiveHigh))
	}
}

func (wt *watcher) observe(now time.Time, views []pinView, changes []Switch) {
	if wt.start.IsZero() {
		wt.start = now
	}
	at := fmt.Sprintf("%+8.3fs", now.Sub(wt.start).Seconds())
	changed := map[int]bool{}
	for _, c := range changes {
		changed[c.ID] = true
	}
	for i, s := range wt.u.switches {
		st, v := &wt.states[i], views[i]
		if v.readErr != nil {
			if !st.failing {
				wt.printf("%s  switch %d pin %d  read error: %v\n", at, s.ID, s.Pin, v.readErr)
			}
			st.failing = true
			continue
		}
		if st.failing {
			wt.printf("%s  switch %d pin %d  readable again, raw %s\n", at, s.ID, s.Pin, levelName(v.raw))
			st.failing = false
		}
		if st.seen && v.raw != st.raw {
			st.edges++
			if st.edges == 1 {
				st.firstEdge = now
				wt.printf("%s  switch %d pin %d  raw %s\n", at, s.ID, s.Pin, levelName(v.raw))
			}
			st.lastEdge = now
		}
		st.seen, st.raw = true, v.raw
		switch {
		case v.known && !st.known:
			st.known, st.edges = true, 0
			wt.printf("%s  switch %d node %s  is %s (pin %s)\n", at, s.ID, s.Node, posName(v.level == s.ActiveHigh), levelName(v.level))
		case changed[s.ID]:
			wt.printf("%s  switch %d node %s  %s  (debounced; %s over %v)\n", at, s.ID, s.Node,
				posName(v.level == s.ActiveHigh), edges(st.edges), st.lastEdge.Sub(st.firstEdge).Round(100*time.Microsecond))
			st.edges = 0
		case st.edges > 0 && v.known && v.raw == v.level && now.Sub(st.lastEdge) >= wt.u.o.Window:
			wt.printf("%s  switch %d pin %d  glitch: %s over %v, position unchanged\n", at, s.ID, s.Pin,
				edges(st.edges), st.lastEdge.Sub(st.firstEdge).Round(100*time.Microsecond))
			st.edges = 0
		}
	}
}

func edges(n int) string {
	if n == 1 {
		return "1 raw edge"
	}
	return fmt.Sprintf("%d raw edges", n)
}
