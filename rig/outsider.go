package rig

import (
	"bytes"
	"context"
	"fmt"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Outsider is a throwaway container on a rig's network that runs one
// command and exits: a laptop on the booth LAN, which is not the head
// node and holds none of its secrets.
type Outsider struct {
	// Rig is the rig's id; the container carries its label, so removing
	// the rig removes it too.
	Rig   string
	Image string
	// Cmd runs instead of the image's entrypoint.
	Cmd []string
	// Files are copied in before the command starts, path → content.
	Files map[string][]byte
}

// RunOutsider runs o and returns the command's standard output, its
// standard error and exit code. The container is removed afterwards.
func RunOutsider(ctx context.Context, cli *testcontainers.DockerClient, o Outsider) (stdout, stderr string, code int, err error) {
	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: filtersFor(map[string]string{LabelRig: o.Rig})})
	if err != nil {
		return "", "", -1, fmt.Errorf("rig: outsider: list networks: %w", err)
	}
	if len(nets.Items) != 1 {
		return "", "", -1, fmt.Errorf("rig: outsider: rig %s has %d networks, want 1", o.Rig, len(nets.Items))
	}
	var files []testcontainers.ContainerFile
	for path, b := range o.Files {
		files = append(files, testcontainers.ContainerFile{Reader: bytes.NewReader(b), ContainerFilePath: path, FileMode: 0o600})
	}
	c, err := testcontainers.Run(ctx, o.Image,
		testcontainers.WithLabels(map[string]string{LabelManaged: "1", LabelRig: o.Rig, LabelNode: "outsider"}),
		testcontainers.WithEntrypoint(o.Cmd...),
		testcontainers.WithFiles(files...),
		tcnetwork.WithNetworkName([]string{"outsider"}, nets.Items[0].Name),
		testcontainers.WithWaitStrategy(wait.ForExit()),
	)
	if c != nil {
		defer c.Terminate(context.WithoutCancel(ctx))
	}
	if err != nil {
		return "", "", -1, fmt.Errorf("rig: outsider: %w", err)
	}
	st, err := c.State(ctx)
	if err != nil {
		return "", "", -1, fmt.Errorf("rig: outsider: %w", err)
	}
	// The daemon's own log stream, stdout apart from stderr (the
	// container's Logs merges them).
	rc, err := cli.ContainerLogs(ctx, c.GetContainerID(), client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return "", "", st.ExitCode, fmt.Errorf("rig: outsider: logs: %w", err)
	}
	defer rc.Close()
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, rc); err != nil {
		return "", "", st.ExitCode, fmt.Errorf("rig: outsider: logs: %w", err)
	}
	return out.String(), errb.String(), st.ExitCode, nil
}
