package rig

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/redswitch/redswitch/cluster"
)

// Pause freezes every process of the node at once through the cgroup
// freezer: a hung machine, alive but silent, its sockets open.
func (r *Rig) Pause(ctx context.Context, name string) error {
	n, err := r.node(name)
	if err != nil {
		return err
	}
	if _, err := r.cli.ContainerPause(ctx, n.ContainerID, client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("rig: pause %s: %w", name, err)
	}
	return nil
}

// Unpause thaws a paused node. Thawing a node that is not paused is not an
// error, so recovery is idempotent.
func (r *Rig) Unpause(ctx context.Context, name string) error {
	n, err := r.node(name)
	if err != nil {
		return err
	}
	if _, err := r.cli.ContainerUnpause(ctx, n.ContainerID, client.ContainerUnpauseOptions{}); err != nil {
		if strings.Contains(err.Error(), "is not paused") || strings.Contains(err.Error(), "not running") {
			return nil
		}
		return fmt.Errorf("rig: unpause %s: %w", name, err)
	}
	return nil
}

// ReadFile reads one regular file of the node's filesystem; it works while
// the node is powered off.
func (r *Rig) ReadFile(ctx context.Context, name, file string) ([]byte, cluster.FileInfo, error) {
	n, err := r.node(name)
	if err != nil {
		return nil, cluster.FileInfo{}, err
	}
	res, err := r.cli.CopyFromContainer(ctx, n.ContainerID, client.CopyFromContainerOptions{SourcePath: file})
	if err != nil {
		return nil, cluster.FileInfo{}, fmt.Errorf("rig: read %s:%s: %w", name, file, err)
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, cluster.FileInfo{}, fmt.Errorf("rig: read %s:%s: not a regular file", name, file)
		}
		if err != nil {
			return nil, cluster.FileInfo{}, fmt.Errorf("rig: read %s:%s: %w", name, file, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, cluster.FileInfo{}, fmt.Errorf("rig: read %s:%s: %w", name, file, err)
		}
		return b, cluster.FileInfo{UID: h.Uid, GID: h.Gid, Mode: h.Mode}, nil
	}
}

// WriteFile writes one file into the node's filesystem with the given
// owner and mode, replacing what was there; it works while the node is
// powered off.
func (r *Rig) WriteFile(ctx context.Context, name, file string, data []byte, fi cluster.FileInfo) error {
	n, err := r.node(name)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: path.Base(file), Mode: fi.Mode, Uid: fi.UID, Gid: fi.GID,
		Size: int64(len(data)), ModTime: time.Now(), Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("rig: write %s:%s: %w", name, file, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("rig: write %s:%s: %w", name, file, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("rig: write %s:%s: %w", name, file, err)
	}
	if _, err := r.cli.CopyToContainer(ctx, n.ContainerID, client.CopyToContainerOptions{
		DestinationPath: path.Dir(file), Content: &buf, CopyUIDGID: true}); err != nil {
		return fmt.Errorf("rig: write %s:%s: %w", name, file, err)
	}
	return nil
}

// SetClusterToken writes the token the node agents require on their API
// into every node (agentapi.TokenFile), readable by root only. The agents
// read it on every request, so running nodes take it at once.
func (r *Rig) SetClusterToken(ctx context.Context, file, token string) error {
	var errs []error
	for _, n := range r.Nodes() {
		errs = append(errs, r.WriteFile(ctx, n.Name, file, []byte(token+"\n"), cluster.FileInfo{Mode: 0o600}))
	}
	return errors.Join(errs...)
}
