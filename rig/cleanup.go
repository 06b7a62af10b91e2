package rig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"syscall"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

func filtersFor(labels map[string]string) client.Filters {
	f := client.Filters{}
	f.Add("label", LabelManaged+"=1")
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	return f
}

// Remove deletes every rig container and network that carries all the
// given labels, collecting every error rather than stopping at the first.
func Remove(ctx context.Context, cli *testcontainers.DockerClient, labels map[string]string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := filtersFor(labels)
	var errs []error
	ctrs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return fmt.Errorf("rig: list containers: %w", err)
	}
	for _, c := range ctrs.Items {
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, fmt.Errorf("rig: remove container %s: %w", c.ID[:12], err))
			continue
		}
		log.Debug("removed container", "id", c.ID[:12], "names", c.Names)
	}
	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("rig: list networks: %w", err))...)
	}
	for _, n := range nets.Items {
		if _, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("rig: remove network %s: %w", n.Name, err))
			continue
		}
		log.Debug("removed network", "name", n.Name)
	}
	return errors.Join(errs...)
}

// SweepLeftovers removes the rig resources of earlier runs: those started
// from the same head-node data dir (other than keep, a rig being adopted),
// and ephemeral rigs (tests, scenario runs) whose owning process is gone.
// Rigs of live processes (parallel tests, another demo) are left alone. It
// returns how many rigs it removed.
func SweepLeftovers(ctx context.Context, cli *testcontainers.DockerClient, dataDir, keep string, log *slog.Logger) (int, error) {
	f := filtersFor(nil)
	ctrs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return 0, fmt.Errorf("rig: list containers: %w", err)
	}
	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return 0, fmt.Errorf("rig: list networks: %w", err)
	}
	labels := map[string]map[string]string{}
	for _, c := range ctrs.Items {
		labels[c.Labels[LabelRig]] = c.Labels
	}
	for _, n := range nets.Items {
		labels[n.Labels[LabelRig]] = n.Labels
	}
	var errs []error
	removed := 0
	for id, l := range labels {
		if !isLeftover(id, l, dataDir, keep, processAlive) {
			continue
		}
		if log != nil {
			log.Info("removing leftovers of an earlier run", "rig", id, "owner_pid", l[LabelOwner])
		}
		if err := Remove(ctx, cli, map[string]string{LabelRig: id}, log); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := RemoveVolumes(ctx, l[LabelDataDir], id, log); err != nil {
			errs = append(errs, err)
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// isLeftover decides whether a rig with these labels may be removed.
func isLeftover(id string, l map[string]string, dataDir, keep string, alive func(string) bool) bool {
	switch {
	case id == "" || id == keep:
		return false
	case dataDir != "" && l[LabelDataDir] == dataDir:
		return true
	case l[LabelEphemeral] == "1" && !alive(l[LabelOwner]):
		return true
	}
	return false
}

func processAlive(pid string) bool {
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return false
	}
	err = syscall.Kill(n, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func demux(rc io.Reader) (string, error) {
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, rc); err != nil {
		return "", fmt.Errorf("rig: read logs: %w", err)
	}
	return out.String() + errb.String(), nil
}
