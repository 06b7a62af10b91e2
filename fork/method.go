package fork

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Method is how a fork's data directory is made from its source.
type Method string

// The methods, fastest first.
const (
	// Auto picks Snapshot, else Reflink, else (only if allowed) Copy.
	Auto Method = ""
	// Snapshot is `btrfs subvolume snapshot`: atomic and O(1); the source
	// data directory must be a btrfs subvolume.
	Snapshot Method = "snapshot"
	// Reflink is `cp --reflink=always` inside pg_backup_start/stop: shared
	// extents on btrfs or XFS, fast but not atomic.
	Reflink Method = "reflink"
	// BaseBackup is pg_basebackup over a replication connection.
	BaseBackup Method = "basebackup"
	// Copy is a plain `cp` inside pg_backup_start/stop: time and space
	// proportional to the database.
	Copy Method = "copy"
)

// Methods lists the explicit methods.
var Methods = []Method{Snapshot, Reflink, BaseBackup, Copy}

// ErrNoCoW is returned when no copy-on-write method is available and a full
// copy was not allowed.
var ErrNoCoW = errors.New("no copy-on-write storage: the source is not a btrfs subvolume and reflink copies are not supported between the source and the forks directory; allow a full copy or put both on btrfs/XFS")

// ParseMethod parses a method name; "" and "auto" mean Auto.
func ParseMethod(s string) (Method, error) {
	switch m := Method(strings.ToLower(strings.TrimSpace(s))); m {
	case "auto", Auto:
		return Auto, nil
	case Snapshot, Reflink, BaseBackup, Copy:
		return m, nil
	}
	return "", fmt.Errorf("fork method %q: want one of auto, snapshot, reflink, basebackup, copy", s)
}

// Capabilities is what the storage offers, as probed.
type Capabilities struct {
	SourceIsSubvolume bool // the source data directory is a btrfs subvolume
	SameBtrfs         bool // the forks directory is on the source's btrfs filesystem
	Reflink           bool // a reflink copy from the source to the forks directory works
}

// ChooseMethod resolves the requested method against the storage. Explicit
// requests that the storage cannot honour are refused, not silently changed.
func ChooseMethod(req Method, c Capabilities, allowCopy bool) (Method, error) {
	switch req {
	case Auto:
		switch {
		case c.SourceIsSubvolume && c.SameBtrfs:
			return Snapshot, nil
		case c.Reflink:
			return Reflink, nil
		case allowCopy:
			return Copy, nil
		}
		return "", ErrNoCoW
	case Snapshot:
		if !c.SourceIsSubvolume || !c.SameBtrfs {
			return "", fmt.Errorf("method snapshot: the source must be a btrfs subvolume and the forks directory on the same btrfs (subvolume %v, same btrfs %v)", c.SourceIsSubvolume, c.SameBtrfs)
		}
	case Reflink:
		if !c.Reflink {
			return "", errors.New("method reflink: cp --reflink=always does not work from the source to the forks directory")
		}
	case Copy:
		if !allowCopy {
			return "", errors.New("method copy: a full copy takes time proportional to the database; set AllowCopy to confirm")
		}
	case BaseBackup:
	default:
		return "", fmt.Errorf("fork method %q: unknown", req)
	}
	return req, nil
}

// SnapshotArgs builds the btrfs snapshot command.
func SnapshotArgs(src, dst string) []string {
	return []string{"btrfs", "subvolume", "snapshot", src, dst}
}

// DeleteSubvolumeArgs builds the btrfs subvolume delete command.
func DeleteSubvolumeArgs(path string) []string {
	return []string{"btrfs", "subvolume", "delete", path}
}

// CreateSubvolumeArgs builds the btrfs subvolume create command.
func CreateSubvolumeArgs(path string) []string {
	return []string{"btrfs", "subvolume", "create", path}
}

// CopyTreeArgs builds a cp of the contents of src into the existing dst,
// keeping owners, modes and times; reflink=always shares extents (and fails
// where the filesystem cannot), reflink=never copies every byte.
func CopyTreeArgs(src, dst string, reflink bool) []string {
	mode := "--reflink=never"
	if reflink {
		mode = "--reflink=always"
	}
	return []string{"cp", "-a", mode, filepath.Clean(src) + "/.", filepath.Clean(dst) + "/"}
}

// CopyFilesArgs builds a cp of the named files into the directory dst.
func CopyFilesArgs(files []string, dst string, reflink bool) []string {
	mode := "--reflink=never"
	if reflink {
		mode = "--reflink=always"
	}
	args := []string{"cp", "-p", mode}
	args = append(args, files...)
	return append(args, filepath.Clean(dst)+"/")
}

// BaseBackupArgs builds pg_basebackup into the existing empty dst, with WAL
// streamed alongside, an immediate checkpoint and no fsync (a fork is
// disposable, and the other methods do not sync either).
func BaseBackupArgs(binDir, dsn, dst, label string) []string {
	return []string{filepath.Join(binDir, "pg_basebackup"), "-d", dsn, "-D", dst, "-X", "stream", "-c", "fast", "--no-sync", "-l", label}
}

// DiskUsageArgs builds `btrfs filesystem du -s --raw`, which reports the
// bytes a path holds exclusively (not shared with snapshots or reflinks).
func DiskUsageArgs(path string) []string {
	return []string{"btrfs", "filesystem", "du", "-s", "--raw", path}
}

// onlyVanished reports whether cp's error output only complains about files
// that disappeared during the copy, which a backup tolerates (WAL replay
// recreates or removes them).
func onlyVanished(stderr string) bool {
	seen := false
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if !strings.HasSuffix(line, "No such file or directory") {
			return false
		}
		seen = true
	}
	return seen
}
