package demo

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/redswitch/redswitch/dashboard"
	"github.com/redswitch/redswitch/fiu"
	"github.com/redswitch/redswitch/headnode"
)

// startObservers starts the dashboard hub, the observer (analysis, metrics,
// dashboard view) and the virtual Failure Injection Unit: switch i powers
// node ni, as on the booth.
func (d *Demo) startObservers(ctx context.Context, wg *sync.WaitGroup) error {
	d.Hub = dashboard.NewHub(dashboard.HubOptions{Log: d.Opts.Log.With("component", "dashboard")})
	var cfg []fiu.SwitchConfig
	for i, n := range d.Rig.Nodes() {
		cfg = append(cfg, fiu.SwitchConfig{ID: i + 1, Node: n.Name, Pin: i + 1, ActiveHigh: true})
	}
	virt, err := fiu.NewVirtual(cfg, nil)
	if err != nil {
		return fmt.Errorf("demo: virtual switches: %w", err)
	}
	// A node that is off when the rig is adopted keeps its switch off.
	for i, n := range d.Rig.Nodes() {
		on, err := d.Rig.Powered(ctx, n.Name)
		if err == nil && !on {
			_ = virt.Set(i+1, false)
		}
	}
	d.Virtual = virt
	d.Switches, err = headnode.NewSwitches(headnode.SwitchesOptions{Head: d.Head, Events: d.rec, Pins: virt,
		Virtual: virt, Config: cfg, Log: d.Opts.Log.With("component", "fiu")})
	if err != nil {
		return err
	}
	var ps headnode.ProbeStats
	if d.Probe != nil {
		ps = d.Probe
	}
	d.Observer = headnode.NewObserver(headnode.ObserverOptions{Head: d.Head, Events: d.rec, Probe: ps,
		Switches: d.Switches, Hub: d.Hub, Log: d.Opts.Log.With("component", "observer")})
	for _, run := range []func(context.Context){
		func(ctx context.Context) { _ = d.Hub.Run(ctx) },
		d.Observer.Run,
		func(ctx context.Context) {
			if err := d.Switches.Run(ctx); err != nil && ctx.Err() == nil {
				d.Opts.Log.Error("switches stopped", "err", err)
			}
		},
	} {
		wg.Add(1)
		go func(run func(context.Context)) {
			defer wg.Done()
			run(ctx)
		}(run)
	}
	return nil
}

func (d *Demo) mountObservers(mux *http.ServeMux) {
	d.Observer.Mount(mux, nil)
	d.Switches.Mount(mux)
}
