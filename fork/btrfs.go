package fork

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/redswitch/redswitch/fork/pglocal"
)

// btrfsMagic is BTRFS_SUPER_MAGIC from statfs(2).
const btrfsMagic = 0x9123683E

// subvolumeRootInode is the inode number of every btrfs subvolume's root
// directory (BTRFS_FIRST_FREE_OBJECTID).
const subvolumeRootInode = 256

// self runs a command as the caller (root for btrfs and mount commands).
var self = pglocal.Owner{}

// OnBtrfs reports whether path is on a btrfs filesystem.
func OnBtrfs(path string) (bool, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return false, fmt.Errorf("statfs %s: %w", path, err)
	}
	return st.Type == btrfsMagic, nil
}

// IsSubvolume reports whether path is the root of a btrfs subvolume (and so
// can be snapshotted).
func IsSubvolume(path string) (bool, error) {
	on, err := OnBtrfs(path)
	if err != nil || !on {
		return false, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", path, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fi.IsDir() && st.Ino == subvolumeRootInode, nil
}

// MkfsBtrfsArgs builds mkfs.btrfs for an image file.
func MkfsBtrfsArgs(image string) []string { return []string{"mkfs.btrfs", "-q", image} }

// MountLoopArgs builds a loop mount of an image file (the loop device is
// released automatically on unmount). LoopOptions says why nodatacow.
func MountLoopArgs(image, mountPoint string) []string {
	return []string{"mount", "-o", LoopOptions, image, mountPoint}
}

// LoopOptions are the mount options of a loop-backed btrfs that
// EnsureBtrfs makes for data directories (the fork bench's). nodatacow:
// PostgreSQL overwrites its pages in place, and copy-on-write of every page
// write (new extents, checksum and extent tree updates, heavier fsync) cost
// the primary's tail latency: in bench fork at scale 100 the primary's p99
// with no fork running was 12-22 ms with datacow and 3-4 ms with
// nodatacow, and 20-25 ms against 11-14 ms during forks. Snapshots and
// reflinks still share extents (a shared extent is copied once, on its
// first write after the snapshot). The data loses btrfs's checksums; where
// they matter, initdb --data-checksums (as the rig's cluster has) stands in.
const LoopOptions = "loop,nodatacow"

// UnmountArgs builds umount.
func UnmountArgs(mountPoint string) []string { return []string{"umount", mountPoint} }

// EnsureBtrfs makes mountPoint a btrfs filesystem: nothing to do if it
// already is one; otherwise it mounts imagePath there through a loop device,
// creating and formatting a sparse image of size bytes if it does not exist
// (an existing image is never reformatted). Mounting needs root.
func EnsureBtrfs(ctx context.Context, log *slog.Logger, imagePath, mountPoint string, size int64) error {
	if err := os.MkdirAll(mountPoint, 0o755); err != nil {
		return fmt.Errorf("ensure btrfs: %w", err)
	}
	if on, err := OnBtrfs(mountPoint); err != nil {
		return fmt.Errorf("ensure btrfs: %w", err)
	} else if on {
		log.Debug("forks storage already on btrfs", "path", mountPoint)
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("ensure btrfs at %s: %s is not btrfs, and creating a loop-backed btrfs needs root", mountPoint, mountPoint)
	}
	log.Info("no btrfs at the forks path; creating a loop-backed btrfs (root only)", "image", imagePath, "mount", mountPoint, "size", size)
	if _, err := os.Stat(imagePath); errors.Is(err, os.ErrNotExist) {
		if size <= 0 {
			return fmt.Errorf("ensure btrfs: image %s does not exist and size %d is not positive", imagePath, size)
		}
		f, err := os.OpenFile(imagePath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("ensure btrfs: %w", err)
		}
		err = f.Truncate(size)
		f.Close()
		if err == nil {
			_, err = pglocal.Run(ctx, self, MkfsBtrfsArgs(imagePath))
		}
		if err != nil {
			os.Remove(imagePath)
			return fmt.Errorf("ensure btrfs: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("ensure btrfs: %w", err)
	}
	if _, err := pglocal.Run(ctx, self, MountLoopArgs(imagePath, mountPoint)); err != nil {
		return fmt.Errorf("ensure btrfs: %w", err)
	}
	return nil
}

// Unmount unmounts a filesystem mounted by EnsureBtrfs (which frees its loop
// device).
func Unmount(ctx context.Context, mountPoint string) error {
	if _, err := pglocal.Run(ctx, self, UnmountArgs(mountPoint)); err != nil {
		return fmt.Errorf("unmount: %w", err)
	}
	return nil
}

// CreateSubvolume creates a btrfs subvolume at path (e.g. for a data
// directory that will be forked by snapshot), owned by owner.
func CreateSubvolume(ctx context.Context, path string, owner pglocal.Owner) error {
	if _, err := pglocal.Run(ctx, self, CreateSubvolumeArgs(path)); err != nil {
		return fmt.Errorf("create subvolume: %w", err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(path, owner.UID, owner.GID); err != nil {
			return fmt.Errorf("create subvolume: %w", err)
		}
	}
	return os.Chmod(path, 0o700)
}

// removeTree removes a fork's data directory, whether a subvolume or not.
func removeTree(ctx context.Context, path string) error {
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if sub, _ := IsSubvolume(path); sub {
		if _, err := pglocal.Run(ctx, self, DeleteSubvolumeArgs(path)); err != nil {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		return nil
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// ParseBtrfsDU reads the totals line of `btrfs filesystem du -s --raw`.
func ParseBtrfsDU(out string) (total, exclusive int64, err error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], "Exclusive") {
		return 0, 0, fmt.Errorf("btrfs du output: want a header and a totals line, got %q", pglocal.Tail(out, 200))
	}
	f := strings.Fields(lines[len(lines)-1])
	if len(f) < 4 {
		return 0, 0, fmt.Errorf("btrfs du output line %d: want 4 fields, got %q", len(lines), lines[len(lines)-1])
	}
	total, err1 := strconv.ParseInt(f[0], 10, 64)
	exclusive, err2 := strconv.ParseInt(f[1], 10, 64)
	if err := errors.Join(err1, err2); err != nil || total < 0 || exclusive < 0 {
		return 0, 0, fmt.Errorf("btrfs du output line %d: bad numbers in %q", len(lines), lines[len(lines)-1])
	}
	return total, exclusive, nil
}

// DiskUsage reports the bytes path holds on its own: on btrfs the bytes not
// shared with other subvolumes or reflinked files, elsewhere everything.
func DiskUsage(ctx context.Context, path string) (int64, error) {
	if on, _ := OnBtrfs(path); on {
		if _, err := pglocal.Run(ctx, self, []string{"btrfs", "filesystem", "sync", path}); err != nil {
			return 0, fmt.Errorf("disk usage: %w", err)
		}
		out, err := pglocal.Run(ctx, self, DiskUsageArgs(path))
		if err != nil {
			return 0, fmt.Errorf("disk usage: %w", err)
		}
		_, excl, err := ParseBtrfsDU(string(out))
		return excl, err
	}
	var n int64
	err := filepath.WalkDir(path, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return nil // files vanish under a running server
		}
		if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n, err
}
