package rig

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Adopt finds a rig that is still running, by its labels, so a restarted
// head node drives the same containers instead of starting a second
// cluster.
func Adopt(ctx context.Context, cli *testcontainers.DockerClient, id string, o Options) (*Rig, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.ID = id
	f := filtersFor(map[string]string{LabelRig: id})
	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("rig: adopt %s: list networks: %w", id, err)
	}
	if len(nets.Items) != 1 {
		return nil, fmt.Errorf("rig: adopt %s: want one network, found %d", id, len(nets.Items))
	}
	nw := nets.Items[0]
	r := &Rig{opts: o, cli: cli, netID: nw.ID, netName: nw.Name, nodes: map[string]*Node{}, ctrs: map[string]*testcontainers.DockerContainer{}}
	ins, err := cli.NetworkInspect(ctx, nw.ID, client.NetworkInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("rig: adopt %s: inspect network: %w", id, err)
	}
	for _, c := range ins.Network.IPAM.Config {
		r.subnet, r.gateway = c.Subnet, c.Gateway
	}
	if !r.subnet.IsValid() {
		return nil, fmt.Errorf("rig: adopt %s: network %s has no subnet", id, nw.Name)
	}
	ctrs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("rig: adopt %s: list containers: %w", id, err)
	}
	for _, c := range ctrs.Items {
		name := c.Labels[LabelNode]
		res, err := cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			return nil, fmt.Errorf("rig: adopt %s: inspect %s: %w", id, name, err)
		}
		addr := ""
		if res.Container.NetworkSettings != nil {
			if es, ok := res.Container.NetworkSettings.Networks[nw.Name]; ok && es.IPAMConfig != nil && es.IPAMConfig.IPv4Address.IsValid() {
				addr = es.IPAMConfig.IPv4Address.String()
			}
		}
		if addr == "" {
			return nil, fmt.Errorf("rig: adopt %s: node %s has no fixed address", id, name)
		}
		if _, err := netip.ParseAddr(addr); err != nil {
			return nil, fmt.Errorf("rig: adopt %s: node %s: %w", id, name, err)
		}
		r.nodes[name] = &Node{Name: name, Address: addr, ContainerID: c.ID}
	}
	o.Log.Info("adopted running rig", "rig", id, "nodes", len(r.nodes), "network", nw.Name)
	return r, nil
}
