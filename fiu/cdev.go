package fiu

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/warthog618/go-gpiocdev"
)

// consumer labels the lines we hold, as shown by gpioinfo.
const consumer = "redswitch"

// Cdev reads and drives pins through the GPIO character device
// (/dev/gpiochipN): Raspberry Pi 5 and most other boards. Inputs get the
// pull-up and, where the kernel offers it (5.10+), kernel debounce on top
// of ours.
type Cdev struct {
	// KernelDebounce reports whether the kernel accepted the debounce
	// period for every input.
	KernelDebounce bool

	mu     sync.Mutex
	ins    map[int]*gpiocdev.Line
	outs   map[int]*gpiocdev.Line
	closed bool
}

// OpenCdev requests the lines of chip (e.g. "gpiochip0"). It fails with a
// clear error when the chip is absent.
func OpenCdev(chip string, l Lines, debounce time.Duration) (*Cdev, error) {
	if chip == "" {
		chip = "gpiochip0"
	}
	if err := checkLines(l); err != nil {
		return nil, fmt.Errorf("cdev %s: %w", chip, err)
	}
	if err := gpiocdev.IsChip(chip); err != nil {
		return nil, fmt.Errorf("cdev %s: %w (no GPIO character device: wrong chip name, or not a board with GPIO; gpiodetect lists the chips)", chip, err)
	}
	c := &Cdev{KernelDebounce: debounce > 0, ins: map[int]*gpiocdev.Line{}, outs: map[int]*gpiocdev.Line{}}
	for _, p := range l.Inputs {
		opts := []gpiocdev.LineReqOption{gpiocdev.WithConsumer(consumer), gpiocdev.AsInput, gpiocdev.WithPullUp}
		var line *gpiocdev.Line
		var err error
		if debounce > 0 {
			line, err = gpiocdev.RequestLine(chip, p, append(opts, gpiocdev.WithDebounce(debounce))...)
			if err != nil {
				// Kernels before 5.10 have no debounce; ours is enough.
				c.KernelDebounce = false
			}
		}
		if line == nil {
			line, err = gpiocdev.RequestLine(chip, p, opts...)
		}
		if err != nil {
			return nil, errors.Join(fmt.Errorf("cdev %s: input line %d: %w", chip, p, err), c.Close())
		}
		c.ins[p] = line
	}
	for p, high := range l.Outputs {
		v := 0
		if high {
			v = 1
		}
		line, err := gpiocdev.RequestLine(chip, p, gpiocdev.WithConsumer(consumer), gpiocdev.AsOutput(v))
		if err != nil {
			return nil, errors.Join(fmt.Errorf("cdev %s: output line %d: %w", chip, p, err), c.Close())
		}
		c.outs[p] = line
	}
	return c, nil
}

// Read returns the level of an input line.
func (c *Cdev) Read(pin int) (bool, error) {
	c.mu.Lock()
	line, ok := c.ins[pin]
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return false, fmt.Errorf("cdev: read line %d: %w", pin, errClosed)
	}
	if !ok {
		return false, fmt.Errorf("cdev: line %d was not requested as an input", pin)
	}
	v, err := line.Value()
	if err != nil {
		return false, fmt.Errorf("cdev: read line %d: %w", pin, err)
	}
	return v == 1, nil
}

// Write sets an output line.
func (c *Cdev) Write(pin int, high bool) error {
	c.mu.Lock()
	line, ok := c.outs[pin]
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return fmt.Errorf("cdev: write line %d: %w", pin, errClosed)
	}
	if !ok {
		return fmt.Errorf("cdev: line %d was not requested as an output", pin)
	}
	v := 0
	if high {
		v = 1
	}
	if err := line.SetValue(v); err != nil {
		return fmt.Errorf("cdev: write line %d: %w", pin, err)
	}
	return nil
}

// Close releases every line. Released outputs may fall back to the
// chip's default; the relays are wired so that means powered.
func (c *Cdev) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	for p, l := range c.ins {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cdev: closing line %d: %w", p, err))
		}
	}
	for p, l := range c.outs {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cdev: closing line %d: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
