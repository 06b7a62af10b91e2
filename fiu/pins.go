package fiu

import (
	"fmt"
	"io"
	"time"
)

// Pins reads the level of input pins. high is true when the pin reads a
// logical 1. Numbers are the backend's line numbers (BCM numbers on a
// Raspberry Pi).
type Pins interface {
	Read(pin int) (high bool, err error)
}

// Outputs drives output pins, such as the inputs of a relay board.
type Outputs interface {
	Write(pin int, high bool) error
}

// Lines says which pins a backend opens and how. Outputs are set to their
// initial level before they become outputs, so a relay never clicks while
// the head node starts.
type Lines struct {
	// Inputs are the switch pins, opened as inputs with the pull-up enabled.
	Inputs []int
	// Outputs maps each output pin to its initial level (true = high).
	Outputs map[int]bool
}

// Backend is an opened GPIO backend: it reads inputs, drives outputs and
// releases the device on Close.
type Backend interface {
	Pins
	Outputs
	io.Closer
}

// BackendOptions select and configure a backend for Open.
type BackendOptions struct {
	// Kind is "rpio", "cdev" or "virtual".
	Kind string
	// Chip is the GPIO character device for cdev, e.g. "gpiochip0".
	Chip string
	// Debounce is the kernel debounce period asked of cdev (0 = none).
	Debounce time.Duration
	// Switches are needed by the virtual backend to map switch ids to pins.
	Switches []SwitchConfig
	Lines    Lines
}

// Open opens the backend named in o.Kind. Hardware backends return a
// clear error when their device is absent.
func Open(o BackendOptions) (Backend, error) {
	switch o.Kind {
	case "rpio":
		return OpenRPIO(o.Lines)
	case "cdev":
		return OpenCdev(o.Chip, o.Lines, o.Debounce)
	case "virtual":
		return NewVirtual(o.Switches, o.Lines.Outputs)
	default:
		return nil, fmt.Errorf("gpio backend %q: want rpio, cdev or virtual", o.Kind)
	}
}

func checkLines(l Lines) error {
	seen := map[int]string{}
	for _, p := range l.Inputs {
		if p < 0 {
			return fmt.Errorf("input pin %d is negative", p)
		}
		if _, dup := seen[p]; dup {
			return fmt.Errorf("pin %d is opened twice", p)
		}
		seen[p] = "input"
	}
	for p := range l.Outputs {
		if p < 0 {
			return fmt.Errorf("output pin %d is negative", p)
		}
		if _, dup := seen[p]; dup {
			return fmt.Errorf("pin %d is both an input and an output", p)
		}
	}
	return nil
}
