package scenarios

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redswitch/redswitch/fiu"
	"github.com/redswitch/redswitch/journal"
)

// virtualFIU is the Failure Injection Unit on its virtual backend: switch
// N (pin 100+N) powers node nN. Flips go through the same debounce and
// polling as on the booth, and every debounced change powers its node
// through the cluster with source "switch N", as the head node does.
type virtualFIU struct {
	pins    *fiu.Virtual
	unit    *fiu.Unit
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	applied chan fiu.Switch
}

const switchPinBase = 100

func (r *run) startFIU(ctx context.Context) error {
	var cfg []fiu.SwitchConfig
	for i, n := range r.sc.Cluster.NodeNames() {
		cfg = append(cfg, fiu.SwitchConfig{ID: i + 1, Node: n, Pin: switchPinBase + i + 1, ActiveHigh: true})
	}
	pins, err := fiu.NewVirtual(cfg, nil)
	if err != nil {
		return fmt.Errorf("virtual FIU: %w", err)
	}
	unit, err := fiu.NewUnit(fiu.Options{Pins: pins, Switches: cfg, Now: r.c.Now, Log: r.o.Log})
	if err != nil {
		return fmt.Errorf("virtual FIU: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err = unit.Settle(sctx)
	cancel()
	if err != nil {
		return fmt.Errorf("virtual FIU: %w", err)
	}
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	v := &virtualFIU{pins: pins, unit: unit, cancel: stop, applied: make(chan fiu.Switch, 16)}
	// Polling must not wait for a power call: changes are handed to a
	// worker that applies them in order.
	changes := make(chan fiu.Switch, 64)
	v.wg.Add(2)
	go func() {
		defer v.wg.Done()
		defer close(changes)
		_ = unit.Run(rctx, func(s fiu.Switch) { changes <- s })
	}()
	go func() {
		defer v.wg.Done()
		for s := range changes {
			r.record(journal.Event{At: s.At, Kind: journal.KindSwitch, Node: s.Node, ID: strconv.Itoa(s.ID), On: journal.Bool(s.On)})
			pctx, cancel := context.WithTimeout(rctx, 30*time.Second)
			if err := r.c.SetPower(pctx, s.Node, s.On, "switch "+strconv.Itoa(s.ID)); err != nil {
				r.o.Log.Warn("scenario: switch could not change power", "node", s.Node, "on", s.On, "err", err)
			}
			cancel()
			select {
			case v.applied <- s:
			default:
			}
		}
	}()
	r.fiu = v
	return nil
}

func (v *virtualFIU) close() {
	v.cancel()
	v.wg.Wait()
}

// flip moves a switch to its final position, bouncing on the way as a
// worn toggle does, and waits until the debounced change has been applied
// to the node's power.
func (r *run) flip(ctx context.Context, s SwitchStep) (StepResult, bool, error) {
	if r.fiu == nil {
		if err := r.startFIU(ctx); err != nil {
			return StepResult{}, true, err
		}
	}
	node := NodeName(s.ID)
	if !s.On {
		r.disrupt(ctx, []string{node})
	}
	// Drain changes applied by earlier flips.
	for len(r.fiu.applied) > 0 {
		<-r.fiu.applied
	}
	began := time.Now()
	if s.Bounce > 0 {
		window := s.Window
		if window <= 0 {
			window = DefaultBounceWindow
		}
		pause := window / time.Duration(2*s.Bounce)
		for range s.Bounce {
			if err := r.fiu.pins.Set(s.ID, s.On); err != nil {
				return StepResult{}, true, err
			}
			time.Sleep(pause)
			if err := r.fiu.pins.Set(s.ID, !s.On); err != nil {
				return StepResult{}, true, err
			}
			time.Sleep(pause)
		}
	}
	if err := r.fiu.pins.Set(s.ID, s.On); err != nil {
		return StepResult{}, true, err
	}
	r.last = []string{node}
	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case <-ctx.Done():
			return StepResult{}, true, ctx.Err()
		case <-timeout.C:
			return StepResult{OK: true, Detail: fmt.Sprintf("switch %d was already %s: nothing changed", s.ID, onOff(s.On))}, false, nil
		case a := <-r.fiu.applied:
			if a.ID != s.ID || a.On != s.On {
				continue
			}
			return StepResult{OK: true, Detail: fmt.Sprintf("switch %d %s: %s powered %s %.0f ms after the flip began",
				s.ID, onOff(s.On), node, onOff(s.On), float64(time.Since(began).Microseconds())/1000)}, false, nil
		}
	}
}
