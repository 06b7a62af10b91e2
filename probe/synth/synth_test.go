package synth

import (
	"testing"
	"time"

	"github.com/redswitch/redswitch/journal"
)

// events plays a booth for d, asking a second at a time as the soak does.
func events(o Options, d time.Duration) []journal.Event {
	b := New(o)
	var out []journal.Event
	for t, end := b.Now(), b.Now().Add(d); t.Before(end); {
		t = t.Add(time.Second)
		out = append(out, b.Until(t)...)
	}
	return out
}

func TestBooth(t *testing.T) {
	o := Options{DeadAt: 30 * time.Minute, DeadFor: 20 * time.Minute, DeadEvery: 2 * time.Hour}
	ev := events(o, 2*time.Hour)
	count := func(match func(journal.Event) bool) int {
		n := 0
		for _, e := range ev {
			if match(e) {
				n++
			}
		}
		return n
	}
	tests := []struct {
		name      string
		got, want int
	}{
		// 60 slots of 2 min, 10 of them in the dead 20 min; of the 50
		// failovers every 13th has no cut and every 7th is a fault.
		{"power cuts", count(func(e journal.Event) bool {
			return e.Kind == journal.KindPower && e.On != nil && !*e.On
		}), 50 - 3 - 7},
		{"fault injections", count(func(e journal.Event) bool { return e.Kind == journal.KindFaultInject }), 7},
		{"same again", len(events(o, 2*time.Hour)), len(ev)},
		{"a probe start at the beginning and a head node restart none yet", count(func(e journal.Event) bool {
			return e.Kind == journal.KindMark && e.Detail == "probe started"
		}), 1},
		{"failed attempts in the dead 20 min, at 100 a second", count(func(e journal.Event) bool {
			return e.Kind == journal.KindProbeError && e.SQLState == "" && !e.At.Before(o.withDefaults().Start.Add(30*time.Minute)) &&
				e.At.Before(o.withDefaults().Start.Add(50*time.Minute))
		}), 1 + 20*60}, // the first alone, then one counted event a second
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %d, want %d", tc.got, tc.want)
			}
		})
	}
	// Journal order: nothing is journaled long after it happened.
	var newest time.Time
	for i, e := range ev {
		if e.At.Before(newest.Add(-2 * time.Second)) {
			t.Fatalf("event %d (%s at %s) journaled after one at %s", i, e.Kind, e.At, newest)
		}
		if e.At.After(newest) {
			newest = e.At
		}
	}
	if len(ev) < 7000 {
		t.Errorf("only %d events in 2 h", len(ev))
	}
}
