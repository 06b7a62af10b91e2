package fiu

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/stianeikeland/go-rpio/v4"
)

// gpioMemPath is the device go-rpio maps on a Raspberry Pi 1–4.
const gpioMemPath = "/dev/gpiomem"

// maxRPIOPin is the highest BCM GPIO on the 40-pin header.
const maxRPIOPin = 27

// RPIO reads and drives pins through go-rpio's memory-mapped registers
// (Raspberry Pi 1–4; the Pi 5's RP1 chip is not supported by go-rpio: use
// Cdev there). Inputs are only ever polled: go-rpio's edge detection
// disables interrupts and can freeze a Pi.
//
// go-rpio keeps its mapping in package state, so only one RPIO may be open
// in a process.
type RPIO struct {
	mu     sync.Mutex
	inputs map[int]bool
	outs   map[int]bool
	closed bool
}

// OpenRPIO maps the GPIO registers, makes the inputs pulled-up inputs and
// the outputs outputs at their initial level. It fails with a clear error
// when /dev/gpiomem is absent (not a Raspberry Pi 1–4).
func OpenRPIO(l Lines) (*RPIO, error) {
	if err := checkLines(l); err != nil {
		return nil, fmt.Errorf("rpio: %w", err)
	}
	r := &RPIO{inputs: map[int]bool{}, outs: map[int]bool{}}
	for _, p := range l.Inputs {
		if p > maxRPIOPin {
			return nil, fmt.Errorf("rpio: input pin %d: BCM GPIO numbers on the header go up to %d", p, maxRPIOPin)
		}
		r.inputs[p] = true
	}
	for p := range l.Outputs {
		if p > maxRPIOPin {
			return nil, fmt.Errorf("rpio: output pin %d: BCM GPIO numbers on the header go up to %d", p, maxRPIOPin)
		}
		r.outs[p] = true
	}
	if _, err := os.Stat(gpioMemPath); err != nil {
		return nil, fmt.Errorf("rpio: %s: %w (not a Raspberry Pi 1-4; on a Pi 5 or another board use gpio backend cdev)", gpioMemPath, err)
	}
	if err := rpio.Open(); err != nil {
		return nil, fmt.Errorf("rpio: mapping GPIO registers: %w", err)
	}
	for _, p := range l.Inputs {
		pin := rpio.Pin(p)
		pin.Input()
		pin.PullUp()
	}
	for p, high := range l.Outputs {
		pin := rpio.Pin(p)
		// Latch the level first so the pin never drives the other level,
		// even for a moment: that would click a relay.
		pin.Write(state(high))
		pin.Output()
	}
	return r, nil
}

func state(high bool) rpio.State {
	if high {
		return rpio.High
	}
	return rpio.Low
}

// errClosed is returned by a backend used after Close.
var errClosed = errors.New("gpio backend closed")

// Read returns the level of an input pin.
func (r *RPIO) Read(pin int) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false, fmt.Errorf("rpio: read pin %d: %w", pin, errClosed)
	}
	if !r.inputs[pin] {
		return false, fmt.Errorf("rpio: pin %d was not opened as an input", pin)
	}
	return rpio.Pin(pin).Read() == rpio.High, nil
}

// Write sets an output pin.
func (r *RPIO) Write(pin int, high bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("rpio: write pin %d: %w", pin, errClosed)
	}
	if !r.outs[pin] {
		return fmt.Errorf("rpio: pin %d was not opened as an output", pin)
	}
	rpio.Pin(pin).Write(state(high))
	return nil
}

// Close unmaps the registers. Outputs keep their last level.
func (r *RPIO) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if err := rpio.Close(); err != nil {
		return fmt.Errorf("rpio: unmapping GPIO registers: %w", err)
	}
	return nil
}
