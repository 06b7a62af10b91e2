package fiu

import (
	"fmt"
	"sync"
)

// Virtual is an in-memory backend: switches are flipped through Set (from
// the dashboard or a scenario) instead of by hand, and relay outputs are
// kept in memory. Every switch starts On.
type Virtual struct {
	mu       sync.Mutex
	switches map[int]SwitchConfig
	pins     map[int]bool
	outs     map[int]bool
}

// NewVirtual returns a virtual backend for the switches and output pins
// (with their initial levels).
func NewVirtual(switches []SwitchConfig, outputs map[int]bool) (*Virtual, error) {
	v := &Virtual{switches: map[int]SwitchConfig{}, pins: map[int]bool{}, outs: map[int]bool{}}
	for _, s := range switches {
		if _, dup := v.switches[s.ID]; dup {
			return nil, fmt.Errorf("virtual gpio: switch %d configured twice", s.ID)
		}
		if _, dup := v.pins[s.Pin]; dup {
			return nil, fmt.Errorf("virtual gpio: pin %d used by two switches", s.Pin)
		}
		v.switches[s.ID] = s
		v.pins[s.Pin] = s.ActiveHigh
	}
	for p, high := range outputs {
		if _, dup := v.pins[p]; dup {
			return nil, fmt.Errorf("virtual gpio: pin %d is both a switch and an output", p)
		}
		v.outs[p] = high
	}
	return v, nil
}

// Set puts switch id in position on (true = On, node powered). The Unit
// sees the change at its next sample and debounces it like a real one.
func (v *Virtual) Set(id int, on bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	s, ok := v.switches[id]
	if !ok {
		return fmt.Errorf("virtual gpio: no switch %d", id)
	}
	v.pins[s.Pin] = on == s.ActiveHigh
	return nil
}

// Read returns the level of a switch pin.
func (v *Virtual) Read(pin int) (bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	high, ok := v.pins[pin]
	if !ok {
		return false, fmt.Errorf("virtual gpio: pin %d is not a switch", pin)
	}
	return high, nil
}

// Write sets an output pin.
func (v *Virtual) Write(pin int, high bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.outs[pin]; !ok {
		return fmt.Errorf("virtual gpio: pin %d is not an output", pin)
	}
	v.outs[pin] = high
	return nil
}

// Output returns the level last written to an output pin.
func (v *Virtual) Output(pin int) (high, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	high, ok = v.outs[pin]
	return high, ok
}

// Close does nothing; it makes Virtual a Backend.
func (v *Virtual) Close() error { return nil }
