package fiu

import "time"

// DefaultWindow is how long a level must stay stable before it counts.
// Toggle switches bounce for under 10 ms; 30 ms leaves a wide margin and
// is still invisible next to a five-second failover.
const DefaultWindow = 30 * time.Millisecond

// Debouncer turns raw samples of one pin into a debounced level. It is a
// pure state machine: time comes only from the samples, so it can be fed
// recorded or generated sequences.
//
// A new level counts once every sample for at least Window has shown it;
// a pulse shorter than Window never counts, however many of them come.
// Before the first level has been stable for Window the level is unknown.
type Debouncer struct {
	// Window is how long a level must be stable; zero means DefaultWindow.
	Window time.Duration

	known  bool
	stable bool      // debounced level, valid when known
	cand   bool      // level of the current run of equal samples
	since  time.Time // first sample of the current run
	fed    bool      // at least one sample seen
	last   time.Time // latest sample
	at     time.Time // sample that established the debounced level
}

// Feed adds one sample taken at t and returns the debounced level and
// whether this sample changed it. The first time a level becomes known is
// not a change: there was nothing to change from. A sample older than the
// previous one is ignored: with a monotonic clock it cannot happen, and
// letting it in could stretch a short pulse into a window.
func (d *Debouncer) Feed(t time.Time, high bool) (level, changed bool) {
	w := d.Window
	if w <= 0 {
		w = DefaultWindow
	}
	if d.fed && t.Before(d.last) {
		return d.stable, false
	}
	d.last = t
	if !d.fed || high != d.cand {
		d.fed = true
		d.cand = high
		d.since = t
	}
	if d.known && d.cand == d.stable {
		return d.stable, false
	}
	if t.Sub(d.since) < w {
		return d.stable, false
	}
	changed = d.known
	d.known = true
	d.stable = d.cand
	d.at = t
	return d.stable, changed
}

// Level returns the debounced level and whether it is known yet.
func (d *Debouncer) Level() (high, known bool) { return d.stable, d.known }

// Since returns the time of the sample that established the current
// debounced level (zero while unknown).
func (d *Debouncer) Since() time.Time { return d.at }
