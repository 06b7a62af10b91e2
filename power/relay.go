// Package power holds the power drivers: the ways the head node cuts and
// restores a node's power (relays on the booth, containers in the demo).
package power

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
)

// Outputs drives output pins (fiu's GPIO backends satisfy it).
type Outputs interface {
	Write(pin int, high bool) error
}

// RelayPin is the relay channel of one node.
type RelayPin struct {
	Pin int
	// ActiveHigh is true when a high level energises the relay; most
	// relay boards are active low.
	ActiveHigh bool
}

// ErrUnknownNode is returned for a node that has no relay.
var ErrUnknownNode = errors.New("no relay for node")

// Relay cuts node power with one relay channel per node. The DC power runs
// through the relay's normally-closed contact, so energising the relay
// cuts the node and a de-energised relay (head node dead, Pi rebooting,
// pins released) leaves it powered: the rig fails safe to "all on".
type Relay struct {
	out  Outputs
	pins map[string]RelayPin
	log  *slog.Logger

	mu  sync.Mutex
	cut map[string]bool // last level written successfully: true = energised
}

// NewRelay returns a relay driver. The outputs must start de-energised
// (fiu's backends open them at the level GPIOLines gives), so every node
// starts powered.
func NewRelay(out Outputs, pins map[string]RelayPin, log *slog.Logger) *Relay {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := make(map[string]RelayPin, len(pins))
	for n, rp := range pins {
		p[n] = rp
	}
	return &Relay{out: out, pins: p, log: log, cut: map[string]bool{}}
}

// PowerOff energises the node's relay, which opens its NC contact.
func (r *Relay) PowerOff(ctx context.Context, node string) error {
	return r.set(ctx, node, true)
}

// PowerOn de-energises the node's relay, closing its NC contact again.
func (r *Relay) PowerOn(ctx context.Context, node string) error {
	return r.set(ctx, node, false)
}

// Powered reports whether the node's relay was last left de-energised.
// It is what the head node commanded, not a measurement.
func (r *Relay) Powered(ctx context.Context, node string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("relay %s: %w", node, err)
	}
	if _, ok := r.pins[node]; !ok {
		return false, fmt.Errorf("relay %s: %w", node, ErrUnknownNode)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.cut[node], nil
}

// Release de-energises every relay, powering every node, for a clean
// head-node shutdown: GPIO outputs keep their level after the process
// exits, so a cut node would otherwise stay cut. It tries every node and
// returns all errors.
func (r *Relay) Release(ctx context.Context) error {
	nodes := make([]string, 0, len(r.pins))
	for n := range r.pins {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	var errs []error
	for _, n := range nodes {
		if err := r.set(ctx, n, false); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *Relay) set(ctx context.Context, node string, energise bool) error {
	verb := "power on"
	if energise {
		verb = "power off"
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("relay %s: %s: %w", node, verb, err)
	}
	rp, ok := r.pins[node]
	if !ok {
		return fmt.Errorf("relay %s: %s: %w", node, verb, ErrUnknownNode)
	}
	// Energised means driving the active level.
	high := energise == rp.ActiveHigh
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.out.Write(rp.Pin, high); err != nil {
		// The relay's state is unknown now; keep what we last knew and
		// let the caller retry.
		return fmt.Errorf("relay %s: %s: writing pin %d: %w", node, verb, rp.Pin, err)
	}
	was := r.cut[node]
	r.cut[node] = energise
	if was != energise {
		r.log.Info("relay switched", "node", node, "action", verb, "pin", rp.Pin, "high", high)
	}
	return nil
}
