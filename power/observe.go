package power

import (
	"context"
	"sync"
)

// Observe is the power "driver" of a booth whose switches cut the DC power
// themselves: it changes nothing and remembers the last position it was
// told, so the head node's state follows the switches.
type Observe struct {
	mu  sync.Mutex
	off map[string]bool
}

// NewObserve returns an observe-only driver; every node starts powered.
func NewObserve() *Observe { return &Observe{off: map[string]bool{}} }

// PowerOff records that the node lost power.
func (o *Observe) PowerOff(ctx context.Context, node string) error { return o.set(node, true) }

// PowerOn records that the node has power again.
func (o *Observe) PowerOn(ctx context.Context, node string) error { return o.set(node, false) }

// Powered reports the last recorded position.
func (o *Observe) Powered(ctx context.Context, node string) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return !o.off[node], nil
}

func (o *Observe) set(node string, off bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.off[node] = off
	return nil
}
