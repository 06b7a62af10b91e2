package fork

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/redswitch/redswitch/fork/pglocal"
)

// ErrTablespaces is returned for a source with user tablespaces: they are
// absolute symlinks shared by every copy, and replaying a fork once deleted
// the primary's tablespace directory.
var ErrTablespaces = errors.New("source has user tablespaces (pg_tblspc is not empty); forks of clusters with tablespaces are refused because the fork would share and could delete the source's tablespace directories")

// identityKeys are settings that tie a data directory to its parent's
// replication, archive, port or cluster identity; a fork must not inherit
// any of them.
var identityKeys = map[string]bool{
	"primary_conninfo": true, "primary_slot_name": true, "port": true,
	"restore_command": true, "archive_cleanup_command": true, "recovery_end_command": true,
	"promote_trigger_file": true, "cluster_name": true,
	// A fork of a synchronous primary would wait forever for standbys.
	"synchronous_standby_names": true,
	// A fork must never push WAL into the parent's archive.
	"archive_mode": true, "archive_command": true, "archive_library": true,
	"data_directory": true, "external_pid_file": true,
}

// IsIdentitySetting reports whether a parameter must not be copied into a
// fork: replication and archive settings, the port, the cluster name,
// recovery targets, and every redswitch.* setting (redswitch.node, or the
// redswitch.fork of a fork being forked again).
func IsIdentitySetting(key string) bool {
	key = strings.ToLower(key)
	return identityKeys[key] || strings.HasPrefix(key, "recovery_target") || strings.HasPrefix(key, "redswitch.")
}

// Recipe describes how a copied data directory becomes a standalone fork.
type Recipe struct {
	Name      string
	Port      int
	SourceDir string    // the parent's data directory, for rewriting paths into it
	ForkDir   string    // the copy
	Settings  []Setting // extra settings, applied last (e.g. a smaller shared_buffers)
}

// safetySettings are written into the fork's postgresql.auto.conf so that
// settings in files the recipe does not rewrite (an included base config)
// cannot reconnect the fork to its parent.
var safetySettings = []Setting{
	{"primary_conninfo", ""}, {"primary_slot_name", ""}, {"restore_command", ""},
	{"archive_mode", "off"}, {"synchronous_standby_names", ""}, {"cluster_name", ""},
}

// rewritePath moves a path inside the source data directory into the fork.
func (r Recipe) rewritePath(_, v string) string {
	src := filepath.Clean(r.SourceDir)
	if v == src {
		return filepath.Clean(r.ForkDir)
	}
	if strings.HasPrefix(v, src+"/") {
		return filepath.Join(r.ForkDir, strings.TrimPrefix(v, src+"/"))
	}
	return v
}

// ConfEdit is the edit for postgresql.conf: identity settings dropped,
// paths into the source moved into the fork.
func (r Recipe) ConfEdit() ConfEdit {
	return ConfEdit{Drop: IsIdentitySetting, Rewrite: r.rewritePath}
}

// AutoConfEdit is the edit for postgresql.auto.conf: like ConfEdit, then
// the parent's command-line settings (from postmaster.opts), the safety
// settings, the new port, redswitch.fork and the extra settings.
func (r Recipe) AutoConfEdit(cmdline []Setting) (ConfEdit, error) {
	if r.Name == "" || r.Port <= 0 || r.Port > 65535 {
		return ConfEdit{}, fmt.Errorf("recipe: name %q and port %d must be set", r.Name, r.Port)
	}
	var set []Setting
	for _, s := range cmdline {
		switch {
		case s.Key == "config_file":
			if filepath.Clean(s.Value) != filepath.Join(filepath.Clean(r.SourceDir), "postgresql.conf") {
				return ConfEdit{}, fmt.Errorf("postmaster.opts: config_file %q is outside the data directory %s; such a layout cannot be forked", s.Value, r.SourceDir)
			}
		case IsIdentitySetting(s.Key):
		default:
			set = append(set, Setting{s.Key, r.rewritePath(s.Key, s.Value)})
		}
	}
	set = append(set, safetySettings...)
	// A copy made without fsync makes crash recovery fsync every file one by
	// one (3 s for a tiny reflink copy); one syncfs is enough.
	set = append(set, Setting{"recovery_init_sync_method", "syncfs"})
	set = append(set, Setting{"port", strconv.Itoa(r.Port)}, Setting{"redswitch.fork", r.Name})
	set = append(set, r.Settings...)
	return ConfEdit{Drop: IsIdentitySetting, Rewrite: r.rewritePath, Set: dedupe(set)}, nil
}

// dedupe keeps the last of each name, in order of those last occurrences.
func dedupe(in []Setting) []Setting {
	last := map[string]int{}
	for i, s := range in {
		last[strings.ToLower(s.Key)] = i
	}
	var out []Setting
	for i, s := range in {
		if last[strings.ToLower(s.Key)] == i {
			out = append(out, Setting{strings.ToLower(s.Key), s.Value})
		}
	}
	return out
}

// CheckTablespaces refuses a data directory with user tablespaces.
func CheckTablespaces(dataDir string) error {
	ents, err := os.ReadDir(filepath.Join(dataDir, "pg_tblspc"))
	if err != nil {
		return fmt.Errorf("check tablespaces of %s: %w", dataDir, err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("%s: %w", dataDir, ErrTablespaces)
	}
	return nil
}

// Prepare turns the copy in r.ForkDir into a fork that starts as a standby
// with no upstream (to be promoted onto a new timeline): it removes the
// parent's pid file and recovery signals, its replication slots, rewrites the
// configuration and writes standby.signal. New files belong to owner.
func Prepare(r Recipe, owner pglocal.Owner) error {
	dir := r.ForkDir
	if err := CheckTablespaces(dir); err != nil {
		return err
	}
	var cmdline []Setting
	if b, err := os.ReadFile(filepath.Join(dir, "postmaster.opts")); err == nil {
		if cmdline, err = ParsePostmasterOpts(string(b)); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("prepare fork: %w", err)
	}
	for _, f := range []string{"postmaster.pid", "postmaster.opts", "standby.signal", "recovery.signal", "backup_label.old", "tablespace_map.old"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("prepare fork: %w", err)
		}
	}
	slots, err := os.ReadDir(filepath.Join(dir, "pg_replslot"))
	if err != nil {
		return fmt.Errorf("prepare fork: %w", err)
	}
	for _, s := range slots {
		if err := os.RemoveAll(filepath.Join(dir, "pg_replslot", s.Name())); err != nil {
			return fmt.Errorf("prepare fork: remove slot: %w", err)
		}
	}
	if err := editFile(filepath.Join(dir, "postgresql.conf"), false, r.ConfEdit(), owner); err != nil {
		return err
	}
	auto, err := r.AutoConfEdit(cmdline)
	if err != nil {
		return err
	}
	if err := editFile(filepath.Join(dir, "postgresql.auto.conf"), true, auto, owner); err != nil {
		return err
	}
	return writeOwned(filepath.Join(dir, "standby.signal"), nil, owner)
}

// editFile applies e to path in place (keeping its owner and mode); a
// missing file is an error unless mayCreate.
func editFile(path string, mayCreate bool, e ConfEdit, owner pglocal.Owner) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && mayCreate {
		b, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("prepare fork: %w", err)
	}
	out, err := EditConf(string(b), e)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeOwned(path, []byte(out), owner)
}

// writeOwned writes a file the fork's server must own.
func writeOwned(path string, data []byte, owner pglocal.Owner) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("prepare fork: %w", err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(path, owner.UID, owner.GID); err != nil {
			return fmt.Errorf("prepare fork: %w", err)
		}
	}
	return nil
}
