package main

import "context"

func runDemo(ctx context.Context, env *environ, args []string) error {
	return usagef("not yet")
}
