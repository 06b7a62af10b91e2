package main

import (
	"context"
	"fmt"
	"os"

	"github.com/redswitch/redswitch/rig"
)

// runCleanup removes every container and network any redswitch rig left.
func runCleanup(ctx context.Context, env *environ, args []string) error {
	fs := newFlags(env, "cleanup", "Removes every container and network labelled by a redswitch rig (org.redswitch=1),\nincluding those of a running demo.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") != "true" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	cli, err := rig.Docker(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	if err := rig.Remove(ctx, cli, nil, env.log); err != nil {
		return err
	}
	if err := rig.RemoveVolumes(ctx, "", "", env.log); err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, "removed every redswitch container, network and node volume")
	return nil
}
