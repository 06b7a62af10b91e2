package main

import (
	"context"
	"fmt"

	"github.com/redswitch/redswitch/booth"
	"github.com/redswitch/redswitch/fiu"
)

// runFIU handles `redswitch fiu watch`.
func runFIU(ctx context.Context, env *environ, args []string) error {
	if len(args) == 0 || args[0] != "watch" {
		return usagef("usage: redswitch fiu watch --config booth.yaml")
	}
	fs := newFlags(env, "fiu watch", "Shows the live level of every configured pin and each debounced switch, for wiring day.")
	config := fs.String("config", envDefault(env, "REDSWITCH_CONFIG", "/etc/redswitch/booth.yaml"), "booth configuration file")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := booth.Load(*config)
	if err != nil {
		return err
	}
	b, err := fiu.Open(fiu.BackendOptions{Kind: cfg.GPIO.Backend, Chip: cfg.GPIO.Chip, Debounce: cfg.GPIO.Debounce,
		Switches: cfg.FIUSwitches(), Lines: cfg.GPIOLines()})
	if err != nil {
		return fmt.Errorf("gpio: %w", err)
	}
	defer b.Close()
	u, err := fiu.NewUnit(fiu.Options{Pins: b, Switches: cfg.FIUSwitches(), Window: cfg.GPIO.Debounce,
		PollInterval: cfg.GPIO.PollInterval(), Log: env.log})
	if err != nil {
		return err
	}
	return fiu.Watch(ctx, env.stdout, u)
}
