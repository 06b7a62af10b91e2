package fiu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// DefaultPollInterval samples every pin at 1 kHz: with a 30 ms window a
// switch is seen within about 31 ms of settling.
const DefaultPollInterval = time.Millisecond

// MaxPollInterval is the slowest polling allowed (500 Hz): slower polling
// would add noticeably to the time from flip to power cut.
const MaxPollInterval = 2 * time.Millisecond

// SwitchConfig wires one switch: which pin it is on, which node it
// controls, and which level the pin reads when the switch is On.
type SwitchConfig struct {
	ID   int
	Node string
	Pin  int
	// ActiveHigh is true when the pin reads high while the switch is On
	// (its normal position: node powered). The common wiring, switch to
	// GND with the internal pull-up and the contact closed when On, is
	// active low: ActiveHigh false.
	ActiveHigh bool
}

// Switch is a switch position. On is the normal position: node powered.
type Switch struct {
	ID   int    `json:"id"`
	Node string `json:"node"`
	On   bool   `json:"on"`
	// At is when the position became known or changed (the sample that
	// completed the debounce window).
	At time.Time `json:"at"`
}

// Options configure a Unit.
type Options struct {
	Pins     Pins
	Switches []SwitchConfig
	// Window is the debounce window (default DefaultWindow).
	Window time.Duration
	// PollInterval is the time between samples (default
	// DefaultPollInterval, at most MaxPollInterval).
	PollInterval time.Duration
	// Now reads the clock (default time.Now). Use one monotonic base for
	// the whole run so event times compare with the journal's.
	Now func() time.Time
	Log *slog.Logger
}

// Unit polls the switch pins, debounces them and reports changes.
type Unit struct {
	o        Options
	log      *slog.Logger
	switches []SwitchConfig // sorted by ID

	mu      sync.Mutex
	deb     []Debouncer
	raw     []rawLevel
	readErr []error
}

type rawLevel struct {
	high, ok bool
}

// ErrNotSettled is returned by Positions before every switch has been
// stable for one debounce window.
var ErrNotSettled = errors.New("fiu: switch positions not settled yet")

// NewUnit checks the options and returns a Unit; it does not read pins.
func NewUnit(o Options) (*Unit, error) {
	if o.Pins == nil {
		return nil, errors.New("fiu: no Pins backend")
	}
	if len(o.Switches) == 0 {
		return nil, errors.New("fiu: no switches configured")
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.Window < 0 {
		return nil, fmt.Errorf("fiu: debounce window %v is negative", o.Window)
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.PollInterval < 0 || o.PollInterval > MaxPollInterval {
		return nil, fmt.Errorf("fiu: poll interval %v: want between 0 and %v (at least 500 Hz)", o.PollInterval, MaxPollInterval)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	sw := append([]SwitchConfig(nil), o.Switches...)
	sort.Slice(sw, func(i, j int) bool { return sw[i].ID < sw[j].ID })
	ids, pins := map[int]bool{}, map[int]int{}
	for _, s := range sw {
		if ids[s.ID] {
			return nil, fmt.Errorf("fiu: switch %d configured twice", s.ID)
		}
		ids[s.ID] = true
		if other, dup := pins[s.Pin]; dup {
			return nil, fmt.Errorf("fiu: switches %d and %d share pin %d", other, s.ID, s.Pin)
		}
		pins[s.Pin] = s.ID
		if s.Node == "" {
			return nil, fmt.Errorf("fiu: switch %d has no node", s.ID)
		}
	}
	u := &Unit{o: o, log: o.Log, switches: sw,
		deb: make([]Debouncer, len(sw)), raw: make([]rawLevel, len(sw)), readErr: make([]error, len(sw))}
	for i := range u.deb {
		u.deb[i].Window = o.Window
	}
	return u, nil
}

// Switches returns the configured switches, ordered by ID.
func (u *Unit) Switches() []SwitchConfig { return append([]SwitchConfig(nil), u.switches...) }

// step samples every pin once at now and returns the debounced changes.
// Read errors keep the previous raw level out of the debouncer: a pin that
// cannot be read never counts as flipped.
func (u *Unit) step(now time.Time) []Switch {
	var out []Switch
	u.mu.Lock()
	defer u.mu.Unlock()
	for i, s := range u.switches {
		high, err := u.o.Pins.Read(s.Pin)
		if err != nil {
			if u.readErr[i] == nil {
				u.log.Error("fiu: cannot read switch pin", "switch", s.ID, "pin", s.Pin, "err", err)
			}
			u.readErr[i] = err
			u.raw[i].ok = false
			continue
		}
		if u.readErr[i] != nil {
			u.log.Info("fiu: switch pin readable again", "switch", s.ID, "pin", s.Pin)
			u.readErr[i] = nil
		}
		u.raw[i] = rawLevel{high: high, ok: true}
		level, changed := u.deb[i].Feed(now, high)
		if changed {
			out = append(out, Switch{ID: s.ID, Node: s.Node, On: level == s.ActiveHigh, At: now})
		}
	}
	return out
}

// settled reports whether every switch has a known debounced level.
func (u *Unit) settled() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for i := range u.deb {
		if _, known := u.deb[i].Level(); !known {
			return false
		}
	}
	return true
}

// Positions returns the debounced position of every switch, ordered by ID,
// or ErrNotSettled before Settle has finished.
func (u *Unit) Positions() ([]Switch, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]Switch, 0, len(u.switches))
	for i, s := range u.switches {
		level, known := u.deb[i].Level()
		if !known {
			return nil, fmt.Errorf("switch %d (pin %d): %w", s.ID, s.Pin, ErrNotSettled)
		}
		out = append(out, Switch{ID: s.ID, Node: s.Node, On: level == s.ActiveHigh, At: u.deb[i].Since()})
	}
	return out, nil
}

// Settle polls until every switch has been stable for one debounce window
// and returns the positions, so the head node can reconcile node power
// with the switches before it starts reacting to flips.
func (u *Unit) Settle(ctx context.Context) ([]Switch, error) {
	t := time.NewTicker(u.o.PollInterval)
	defer t.Stop()
	for {
		u.step(u.o.Now())
		if u.settled() {
			return u.Positions()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("fiu: settling switch positions: %w", context.Cause(ctx))
		case <-t.C:
		}
	}
}

// Run polls the pins until ctx ends and calls handle for every debounced
// change, in order, from the polling goroutine: handle should be quick
// (or hand the event off) because polling waits for it. A switch whose
// position is not known yet (Settle not called) reports nothing until it
// is: becoming known is not a flip.
func (u *Unit) Run(ctx context.Context, handle func(Switch)) error {
	return u.loop(ctx, func(now time.Time, changes []Switch) {
		for _, c := range changes {
			u.log.Info("fiu: switch flipped", "switch", c.ID, "node", c.Node, "on", c.On)
			handle(c)
		}
	})
}

// loop samples at the poll interval and hands every sample's changes to fn.
func (u *Unit) loop(ctx context.Context, fn func(now time.Time, changes []Switch)) error {
	t := time.NewTicker(u.o.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		now := u.o.Now()
		fn(now, u.step(now))
	}
}
