package rig

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Attach drives node containers made elsewhere, by name: a booth
// rehearsed on one machine whose head node has power: container. The
// rig it returns cuts and restores power (SIGKILL and start), freezes,
// reads files and logs; it never removes anything (Close is a no-op).
func Attach(ctx context.Context, cli *testcontainers.DockerClient, containers map[string]string, log *slog.Logger) (*Rig, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(containers) == 0 {
		return nil, errors.New("rig: attach: no containers named")
	}
	r := &Rig{opts: Options{Nodes: len(containers), Log: log}, cli: cli, attached: true,
		nodes: map[string]*Node{}, ctrs: map[string]*testcontainers.DockerContainer{}}
	for node, name := range containers {
		res, err := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
		if err != nil {
			return nil, fmt.Errorf("rig: attach node %s to container %s: %w", node, name, err)
		}
		r.nodes[node] = &Node{Name: node, ContainerID: res.Container.ID}
	}
	return r, nil
}
