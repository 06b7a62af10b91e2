package fiu

import (
	"math/rand"
	"testing"
	"time"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func ms(f float64) time.Time { return t0.Add(time.Duration(f * float64(time.Millisecond))) }

type sample struct {
	at   float64 // ms after t0
	high bool
}

// feedAll returns the times (ms) and levels at which the debouncer changed,
// and the sample index at which the level first became known (-1 if never).
func feedAll(d *Debouncer, samples []sample) (changes []sample, knownAt int) {
	knownAt = -1
	for i, s := range samples {
		level, changed := d.Feed(ms(s.at), s.high)
		if _, known := d.Level(); known && knownAt < 0 {
			knownAt = i
		}
		if changed {
			changes = append(changes, sample{s.at, level})
		}
	}
	return changes, knownAt
}

// every samples a piecewise-constant signal every period ms from 0 to end.
func every(period, end float64, level func(t float64) bool) []sample {
	var out []sample
	for t := 0.0; t <= end; t += period {
		out = append(out, sample{t, level(t)})
	}
	return out
}

func TestDebouncerTable(t *testing.T) {
	hiUntil := func(edge float64) func(float64) bool { return func(t float64) bool { return t < edge } }
	tests := []struct {
		name    string
		window  time.Duration
		samples []sample
		knownAt int
		want    []sample
	}{
		{name: "steady high becomes known after the window, no change",
			window: 30 * time.Millisecond, samples: every(1, 100, func(float64) bool { return true }),
			knownAt: 30},
		{name: "clean edge toggles once, a window after the edge",
			window: 30 * time.Millisecond, samples: every(1, 200, hiUntil(100)),
			knownAt: 30, want: []sample{{130, false}}},
		{name: "bounce train shorter than window never toggles",
			window: 30 * time.Millisecond, samples: every(1, 200, func(t float64) bool {
				return !(t >= 100 && t < 125 && int(t)%3 == 0)
			}), knownAt: 30},
		{name: "bounce then settle toggles once, a window after settling",
			window: 30 * time.Millisecond, samples: every(1, 200, func(t float64) bool {
				if t < 100 {
					return true
				}
				if t < 108 {
					return int(t)%2 == 1 // 100 low, 101 high, ... 107 high
				}
				return false
			}), knownAt: 30, want: []sample{{138, false}}},
		{name: "zero window means the default",
			window: 0, samples: every(1, 200, hiUntil(100)),
			knownAt: 30, want: []sample{{130, false}}},
		{name: "a pulse one sample short of the window does not count",
			window: 10 * time.Millisecond, samples: every(1, 100, func(t float64) bool { return !(t >= 50 && t < 60) }),
			knownAt: 10},
		{name: "a pulse exactly the window long counts, twice",
			window: 10 * time.Millisecond, samples: every(1, 100, func(t float64) bool { return !(t >= 50 && t <= 60) }),
			knownAt: 10, want: []sample{{60, false}, {71, true}}},
		{name: "sparse samples: a change seen by two samples a window apart",
			window: 10 * time.Millisecond, samples: []sample{{0, true}, {10, true}, {15, false}, {25, false}},
			knownAt: 1, want: []sample{{25, false}}},
		{name: "a sample older than the last one is ignored",
			window: 10 * time.Millisecond, samples: []sample{{0, true}, {10, true}, {20, false}, {5, false}, {25, false}},
			knownAt: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &Debouncer{Window: tc.window}
			got, knownAt := feedAll(d, tc.samples)
			if knownAt != tc.knownAt {
				t.Errorf("level known at sample %d, want %d", knownAt, tc.knownAt)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("changes %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("change %d = %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestDebouncerUnknownUntilStable(t *testing.T) {
	d := &Debouncer{Window: 10 * time.Millisecond}
	for i := 0; i < 50; i++ { // toggling every ms: never stable
		d.Feed(ms(float64(i)), i%2 == 0)
		if _, known := d.Level(); known {
			t.Fatalf("level known after %d toggling samples", i+1)
		}
	}
	if !d.Since().IsZero() {
		t.Errorf("Since = %v before the level is known", d.Since())
	}
}

// signal is a piecewise-constant level: level[i] holds from edges[i].
type signal struct {
	edges  []float64
	levels []bool
}

func (s signal) at(t float64) bool {
	l := !s.levels[0]
	for i, e := range s.edges {
		if e > t {
			break
		}
		l = s.levels[i]
	}
	return l
}

// jittered samples s from 0 to end with periods in [minP, maxP].
func jittered(r *rand.Rand, s signal, end, minP, maxP float64) []sample {
	var out []sample
	for t := 0.0; t <= end; t += minP + r.Float64()*(maxP-minP) {
		out = append(out, sample{t, s.at(t)})
	}
	return out
}

// TestDebouncerBounceTrains is the property test: many random bounce
// trains, sampled with jitter.
func TestDebouncerBounceTrains(t *testing.T) {
	r := rand.New(rand.NewSource(20260501))
	for c := 0; c < 2000; c++ {
		window := 5 + r.Float64()*45
		minP := 0.1 + r.Float64()*0.9
		maxP := minP + r.Float64()
		initial := r.Intn(2) == 0
		// Settle on the initial level, then a train of toggles that
		// lasts less than the window in total.
		start := window + 5*maxP + r.Float64()*20
		trainLen := r.Float64() * window * 0.99
		n := 1 + r.Intn(12)
		sig := signal{edges: []float64{0}, levels: []bool{initial}}
		level := initial
		for k := 0; k < n; k++ {
			level = !level
			sig.edges = append(sig.edges, start+trainLen*float64(k)/float64(n))
			sig.levels = append(sig.levels, level)
		}
		real := r.Intn(2) == 0 // a real flip ends the train on the other level
		final := !initial
		if !real {
			final = initial
		}
		sig.edges = append(sig.edges, start+trainLen)
		sig.levels = append(sig.levels, final)
		// The contact settled at the last edge that changed the level.
		settle := 0.0
		for k := 1; k < len(sig.edges); k++ {
			if sig.levels[k] != sig.levels[k-1] {
				settle = sig.edges[k]
			}
		}
		end := settle + window + 5*maxP + r.Float64()*50
		samples := jittered(r, sig, end, minP, maxP)

		d := &Debouncer{Window: time.Duration(window * float64(time.Millisecond))}
		changes, _ := feedAll(d, samples)
		switch {
		case !real && len(changes) != 0:
			t.Fatalf("case %d: train of %.2f ms (window %.2f ms) ending on the initial level toggled: %v", c, trainLen, window, changes)
		case real && len(changes) != 1:
			t.Fatalf("case %d: real flip toggled %d times, want once: %v", c, len(changes), changes)
		case real:
			got := changes[0]
			if got.high != final {
				t.Fatalf("case %d: toggled to %v, want %v", c, got.high, final)
			}
			// The change comes a window after the first sample of the final
			// run of samples, which is at most one period after settling
			// (it can be earlier when a bounce fell between samples).
			first := len(samples) - 1
			for first > 0 && samples[first-1].high == final {
				first--
			}
			runStart := samples[first].at
			if runStart > settle+maxP+1e-9 {
				t.Fatalf("case %d: sampling saw the settled level at %.3f ms, settled at %.3f", c, runStart, settle)
			}
			if got.at < runStart+window-1e-9 || got.at > runStart+window+maxP+1e-9 {
				t.Fatalf("case %d: toggled at %.3f ms, want within [%.3f, %.3f]", c, got.at, runStart+window, runStart+window+maxP)
			}
			if got.at > settle+window+2*maxP+1e-9 {
				t.Fatalf("case %d: toggled at %.3f ms, later than settle %.3f + window %.3f + 2 periods", c, got.at, settle, window)
			}
		}
	}
}

// reference computes the debounced level after each sample from scratch:
// it is the level of the latest run of equal samples that has lasted a
// window, if any.
func reference(samples []sample, window float64) (levels []bool, known []bool) {
	for k := range samples {
		var lvl, ok bool
		// Walk runs backwards from k.
		end := k
		for end >= 0 && !ok {
			first := end
			for first > 0 && samples[first-1].high == samples[end].high {
				first--
			}
			if samples[end].at-samples[first].at >= window {
				lvl, ok = samples[end].high, true
			}
			end = first - 1
		}
		levels = append(levels, lvl)
		known = append(known, ok)
	}
	return levels, known
}

// TestDebouncerMatchesReference compares the state machine with the
// brute-force definition on random noisy signals.
func TestDebouncerMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for c := 0; c < 300; c++ {
		window := 2 + r.Float64()*20
		var samples []sample
		level := r.Intn(2) == 0
		tm := 0.0
		for i := 0; i < 400; i++ {
			if r.Float64() < 0.08 {
				level = !level
			}
			samples = append(samples, sample{tm, level})
			tm += 0.2 + r.Float64()
		}
		want, wantKnown := reference(samples, window)
		d := &Debouncer{Window: time.Duration(window * float64(time.Millisecond))}
		for i, s := range samples {
			// The state machine works in nanoseconds: keep the reference
			// comparison away from rounding at the window's edge.
			got, _ := d.Feed(ms(s.at), s.high)
			_, known := d.Level()
			if known != wantKnown[i] || (known && got != want[i]) {
				t.Fatalf("case %d sample %d (t=%.3f): got level %v known %v, want %v known %v", c, i, s.at, got, known, want[i], wantKnown[i])
			}
		}
	}
}

func FuzzDebouncer(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1, 1, 1, 1, 1}, uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, w uint8) {
		d := &Debouncer{Window: time.Duration(w) * time.Millisecond}
		var prev bool
		var prevKnown bool
		for i, b := range data {
			level, changed := d.Feed(ms(float64(i)), b&1 == 1)
			_, known := d.Level()
			if changed && (!prevKnown || level == prev) {
				t.Fatalf("sample %d: change reported from %v known %v to %v", i, prev, prevKnown, level)
			}
			if prevKnown && !known {
				t.Fatalf("sample %d: level became unknown again", i)
			}
			prev, prevKnown = level, known
		}
	})
}
