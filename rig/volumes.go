package rig

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Each node can get a data volume of its own: a sparse image file holding
// a btrfs filesystem, loop-mounted on the host and bound into the node at
// /data. Bounded, so filling it fills one node and not the host; btrfs, so
// a fork of the node's database is a snapshot. They live under
// <data dir>/redswitch-volumes/<rig id>/<node>, a path distinctive enough
// that a cleanup that only has the host's mount table finds them.

// VolumesDirName is the directory under a head node's data dir that holds
// the rigs' volumes.
const VolumesDirName = "redswitch-volumes"

// NodeDataDir is where a node's volume appears inside its container.
const NodeDataDir = "/data"

// volumePaths returns the image file and mount point of a node's volume.
func volumePaths(dataDir, rigID, node string) (img, mnt string) {
	dir := filepath.Join(dataDir, VolumesDirName, rigID)
	return filepath.Join(dir, node+".img"), filepath.Join(dir, node)
}

// VolumesSupported says why this machine cannot give nodes their own
// volumes, or nil when it can: it takes root (mount) and mkfs.btrfs.
func VolumesSupported() error {
	if os.Geteuid() != 0 {
		return errors.New("loop-mounted node volumes need root")
	}
	if _, err := exec.LookPath("mkfs.btrfs"); err != nil {
		return errors.New("loop-mounted node volumes need mkfs.btrfs (Debian package btrfs-progs)")
	}
	return nil
}

// createVolume makes and mounts one node's volume and returns its mount
// point. user_subvol_rm_allowed lets PostgreSQL's owner remove a data
// directory that is a subvolume, as Patroni does before re-initialising.
// Unlike fork.LoopOptions (the fork bench's), node volumes stay
// copy-on-write: the disk-full fault needs the very next write to fail,
// which nodatacow's in-place WAL overwrites delay (the primary then stays
// up with failing writes and never fails over; seen in CI).
func createVolume(ctx context.Context, dataDir, rigID, node string, size int64) (string, error) {
	img, mnt := volumePaths(dataDir, rigID, node)
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return "", fmt.Errorf("rig: volume of %s: %w", node, err)
	}
	f, err := os.OpenFile(img, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", fmt.Errorf("rig: volume of %s: %w", node, err)
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = run(ctx, "mkfs.btrfs", "-q", img)
	}
	if err == nil {
		err = run(ctx, "mount", "-o", "loop,user_subvol_rm_allowed", img, mnt)
	}
	if err != nil {
		os.Remove(img)
		return "", fmt.Errorf("rig: volume of %s: %w", node, err)
	}
	return mnt, nil
}

func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// RemoveVolumes unmounts and deletes the volumes of a rig (every rig when
// rigID is empty): those mounted, found through the host's mount table,
// and, when dataDir is known, any left unmounted there.
func RemoveVolumes(ctx context.Context, dataDir, rigID string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("rig: volumes: %w", err)
	}
	mounts, err := volumeMounts(f, rigID)
	f.Close()
	if err != nil {
		return fmt.Errorf("rig: volumes: %w", err)
	}
	var errs []error
	dirs := map[string]bool{}
	for _, m := range mounts {
		// A lazy unmount still succeeds while a dying container holds it.
		if err := run(ctx, "umount", m); err != nil {
			if lerr := run(ctx, "umount", "-l", m); lerr != nil {
				errs = append(errs, fmt.Errorf("rig: unmount volume: %w", lerr))
				continue
			}
		}
		log.Debug("volume unmounted", "path", m)
		dirs[filepath.Dir(m)] = true
	}
	if dataDir != "" && rigID != "" {
		dirs[filepath.Join(dataDir, VolumesDirName, rigID)] = true
	}
	for d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, fmt.Errorf("rig: remove volumes: %w", err))
		}
	}
	return errors.Join(errs...)
}

// volumeMounts lists, from a mountinfo table, the mount points of rig
// volumes (of rigID, or of every rig when it is empty).
func volumeMounts(r io.Reader, rigID string) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		parent := filepath.Dir(mp)
		if filepath.Base(filepath.Dir(parent)) != VolumesDirName {
			continue
		}
		if rigID != "" && filepath.Base(parent) != rigID {
			continue
		}
		out = append(out, mp)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	// Deepest first, so nested mounts go before their parents.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, ok := octal(s[i+1 : i+4]); ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func octal(s string) (byte, bool) {
	if len(s) != 3 {
		return 0, false
	}
	v := 0
	for _, c := range s {
		if c < '0' || c > '7' {
			return 0, false
		}
		v = v*8 + int(c-'0')
	}
	if v > 255 {
		return 0, false
	}
	return byte(v), true
}
