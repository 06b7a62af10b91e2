package haproxy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// MaxSocketPath is the longest unix socket path HAProxy accepts: sun_path
// holds 108 bytes and HAProxy keeps room for the temporary name it binds
// before renaming. HAProxy 2.6 refuses 98 bytes with "socket path ... too
// long (max 97)".
const MaxSocketPath = 97

// socketName is the admin socket's file name.
const socketName = "haproxy.sock"

// SocketPlace says where HAProxy's admin socket goes for a head node
// whose files are in dir (absolute): dir/haproxy.sock when that fits in
// MaxSocketPath, as it does for ordinary data dirs; otherwise a directory
// of its own under the first of runtimeDirs where it fits, named after
// dir so that a restarted head node finds the same one and two head nodes
// never share one. private is that directory ("" for dir itself): the
// caller creates it and removes it afterwards. Pure.
func SocketPlace(dir string, runtimeDirs []string) (socket, private string, err error) {
	if s := filepath.Join(dir, socketName); len(s) <= MaxSocketPath {
		return s, "", nil
	}
	sum := sha256.Sum256([]byte(dir))
	name := "haproxy-" + hex.EncodeToString(sum[:6])
	for _, rd := range runtimeDirs {
		if !filepath.IsAbs(rd) {
			continue
		}
		p := filepath.Join(rd, name)
		if s := filepath.Join(p, socketName); len(s) <= MaxSocketPath {
			return s, p, nil
		}
	}
	return "", "", fmt.Errorf("haproxy: no place for the admin socket: %s is %d bytes, over HAProxy's limit of %d, and so is every runtime dir %q",
		filepath.Join(dir, socketName), len(filepath.Join(dir, socketName)), MaxSocketPath, runtimeDirs)
}

// runtimeDirs are where a private socket directory may go, best first:
// /run/redswitch for root (a tmpfs, cleared at boot), then the temporary
// directory, then /tmp should TMPDIR itself be deep.
func runtimeDirs() []string {
	var dirs []string
	if os.Geteuid() == 0 {
		dirs = append(dirs, "/run/redswitch")
	}
	return append(dirs, os.TempDir(), "/tmp")
}

// makePrivateDir creates dir (mode 0700) for the socket, or accepts it
// when an earlier run of this head node left it: a directory, not a
// symlink, owned by us and closed to others, since it may sit in a
// world-writable place such as /tmp.
func makePrivateDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("haproxy: socket dir: %w", err)
	}
	err := os.Mkdir(dir, 0o700)
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("haproxy: socket dir: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("haproxy: socket dir: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm() != 0o700 {
		return fmt.Errorf("haproxy: socket dir %s exists but is not a private directory of this user (mode %s): remove it", dir, fi.Mode())
	}
	return nil
}
