package fiu

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// manualClock is a clock the test moves.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// stepUntil samples the unit every period from the clock's time up to end
// (offsets from t0) and returns all changes.
func stepUntil(u *Unit, clk *manualClock, from, end, period time.Duration) []Switch {
	var out []Switch
	for d := from; d <= end; d += period {
		clk.Set(t0.Add(d))
		out = append(out, u.step(t0.Add(d))...)
	}
	return out
}

func threeSwitches() []SwitchConfig {
	return []SwitchConfig{
		{ID: 2, Node: "n2", Pin: 27},
		{ID: 1, Node: "n1", Pin: 17},
		{ID: 3, Node: "n3", Pin: 22, ActiveHigh: true},
	}
}

func TestUnitFlipWithBounce(t *testing.T) {
	clk := &manualClock{t: t0}
	f := NewFake(t0, clk.Now)
	// Switches 1 and 2 are active low and On (low); 3 is active high, On.
	f.Script(17, Step{0, false})
	f.Script(22, Step{0, true})
	// Switch 2 is flipped off at 200 ms with 3 bounces 1 ms apart,
	// settling high at 206 ms; back on at 500 ms, cleanly.
	f.Script(27, append(append([]Step{{0, false}}, Bounce(200*time.Millisecond, true, 3, time.Millisecond)...), Step{500 * time.Millisecond, false})...)
	u, err := NewUnit(Options{Pins: f, Switches: threeSwitches(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Positions(); !errors.Is(err, ErrNotSettled) {
		t.Fatalf("Positions before settling: err %v, want ErrNotSettled", err)
	}
	if got := stepUntil(u, clk, 0, 100*time.Millisecond, time.Millisecond); len(got) != 0 {
		t.Fatalf("settling reported changes %v", got)
	}
	pos, err := u.Positions()
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pos {
		if p.ID != i+1 || !p.On {
			t.Errorf("position %d = %+v, want switch %d On", i, p, i+1)
		}
	}
	got := stepUntil(u, clk, 101*time.Millisecond, 700*time.Millisecond, time.Millisecond)
	want := []Switch{
		{ID: 2, Node: "n2", On: false, At: t0.Add(236 * time.Millisecond)},
		{ID: 2, Node: "n2", On: true, At: t0.Add(530 * time.Millisecond)},
	}
	if len(got) != len(want) {
		t.Fatalf("changes %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	pos, _ = u.Positions()
	if !pos[1].On || !pos[1].At.Equal(t0.Add(530*time.Millisecond)) {
		t.Errorf("switch 2 position %+v, want On since 530 ms", pos[1])
	}
}

func TestUnitActiveHighOff(t *testing.T) {
	clk := &manualClock{t: t0}
	f := NewFake(t0, clk.Now)
	f.Script(17, Step{0, false})
	f.Script(27, Step{0, true}) // active low and high: Off
	f.Script(22, Step{0, false}, Step{100 * time.Millisecond, true})
	u, err := NewUnit(Options{Pins: f, Switches: threeSwitches(), Now: clk.Now, Window: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	got := stepUntil(u, clk, 0, 200*time.Millisecond, time.Millisecond)
	if len(got) != 1 || got[0].ID != 3 || !got[0].On {
		t.Fatalf("changes %+v, want switch 3 turned On", got)
	}
	pos, err := u.Positions()
	if err != nil {
		t.Fatal(err)
	}
	wantOn := map[int]bool{1: true, 2: false, 3: true}
	for _, p := range pos {
		if p.On != wantOn[p.ID] {
			t.Errorf("switch %d On = %v, want %v", p.ID, p.On, wantOn[p.ID])
		}
	}
}

func TestUnitReadErrorNeverFlips(t *testing.T) {
	clk := &manualClock{t: t0}
	f := NewFake(t0, clk.Now)
	f.Script(17, Step{0, false}, Step{150 * time.Millisecond, true})
	u, err := NewUnit(Options{Pins: f, Switches: []SwitchConfig{{ID: 1, Node: "n1", Pin: 17}}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	stepUntil(u, clk, 0, 100*time.Millisecond, time.Millisecond)
	f.Fail(17, errors.New("wire cut"))
	if got := stepUntil(u, clk, 101*time.Millisecond, 300*time.Millisecond, time.Millisecond); len(got) != 0 {
		t.Fatalf("unreadable pin reported %+v", got)
	}
	f.Fail(17, nil)
	got := stepUntil(u, clk, 301*time.Millisecond, 400*time.Millisecond, time.Millisecond)
	// After healing the debouncer needs a full window of the new level.
	if len(got) != 1 || got[0].On || !got[0].At.Equal(t0.Add(331*time.Millisecond)) {
		t.Fatalf("after healing: %+v, want one Off at 331 ms", got)
	}
}

func TestNewUnitRejects(t *testing.T) {
	f := NewFake(t0, time.Now)
	one := []SwitchConfig{{ID: 1, Node: "n1", Pin: 17}}
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no pins", Options{Switches: one}, "no Pins"},
		{"no switches", Options{Pins: f}, "no switches"},
		{"duplicate id", Options{Pins: f, Switches: []SwitchConfig{{ID: 1, Node: "a", Pin: 1}, {ID: 1, Node: "b", Pin: 2}}}, "switch 1 configured twice"},
		{"shared pin", Options{Pins: f, Switches: []SwitchConfig{{ID: 1, Node: "a", Pin: 1}, {ID: 2, Node: "b", Pin: 1}}}, "share pin 1"},
		{"no node", Options{Pins: f, Switches: []SwitchConfig{{ID: 1, Pin: 1}}}, "has no node"},
		{"poll too slow", Options{Pins: f, Switches: one, PollInterval: 5 * time.Millisecond}, "at least 500 Hz"},
		{"negative window", Options{Pins: f, Switches: one, Window: -time.Second}, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewUnit(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestUnitRunRealTime drives Settle and Run with the real clock and ticker.
func TestUnitRunRealTime(t *testing.T) {
	start := time.Now()
	f := NewFake(start, time.Now)
	f.Script(17, Step{0, false}, Step{80 * time.Millisecond, true})
	u, err := NewUnit(Options{Pins: f, Switches: []SwitchConfig{{ID: 7, Node: "n1", Pin: 17}}, Window: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pos, err := u.Settle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pos) != 1 || !pos[0].On {
		t.Fatalf("settled positions %+v, want switch 7 On", pos)
	}
	got := make(chan Switch, 4)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- u.Run(runCtx, func(s Switch) { got <- s }) }()
	select {
	case s := <-got:
		if s.ID != 7 || s.On {
			t.Errorf("event %+v, want switch 7 Off", s)
		}
		if lat := s.At.Sub(start.Add(80 * time.Millisecond)); lat < 20*time.Millisecond {
			t.Errorf("flip reported %v after the edge, before the 20 ms window", lat)
		}
	case <-ctx.Done():
		t.Fatal("no event within 5 s")
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestSettleHonoursContext(t *testing.T) {
	f := NewFake(t0, time.Now)
	f.Fail(17, errors.New("no such pin"))
	f.Script(17, Step{0, true})
	u, err := NewUnit(Options{Pins: f, Switches: []SwitchConfig{{ID: 1, Node: "n1", Pin: 17}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := u.Settle(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Settle on an unreadable pin: %v, want deadline exceeded", err)
	}
}
