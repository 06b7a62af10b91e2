package fork

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redswitch/redswitch/fork/pglocal"
)

// fakeCopy lays out the files of a copied standby's data directory.
func fakeCopy(t *testing.T, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"PG_VERSION":           "15\n",
		"postmaster.pid":       "12345\n/data/pg\n",
		"postmaster.opts":      `/usr/lib/postgresql/15/bin/postgres "-D" "/data/pg" "--config-file=/data/pg/postgresql.conf" "--port=5432" "--max_connections=150"` + "\n",
		"standby.signal":       "",
		"postgresql.conf":      "include 'postgresql.base.conf'\nport = 5432\ncluster_name = 'demo'\nredswitch.node = 'n2'\n",
		"postgresql.auto.conf": "primary_conninfo = 'host=n1'\nprimary_slot_name = 'n2'\n",
		"pg_replslot/n3/state": "x",
	}
	for k, v := range extra {
		files[k] = v
	}
	for _, d := range []string{"pg_tblspc", "pg_replslot"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPrepare(t *testing.T) {
	dir := fakeCopy(t, nil)
	owner := pglocal.Owner{UID: os.Getuid(), GID: os.Getgid()}
	if err := Prepare(Recipe{Name: "f1", Port: 6001, SourceDir: "/data/pg", ForkDir: dir}, owner); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"postmaster.pid", "postmaster.opts", "pg_replslot/n3"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there (err %v)", gone, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "standby.signal")); err != nil {
		t.Errorf("standby.signal: %v", err)
	}
	settings := func(name string) map[string]string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		ss, err := ConfSettings(string(b))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, s := range ss {
			m[s.Key] = s.Value
		}
		return m
	}
	conf := settings("postgresql.conf")
	for _, k := range []string{"port", "cluster_name", "redswitch.node"} {
		if v, ok := conf[k]; ok {
			t.Errorf("postgresql.conf still sets %s = %q", k, v)
		}
	}
	auto := settings("postgresql.auto.conf")
	for k, want := range map[string]string{"port": "6001", "redswitch.fork": "f1", "primary_conninfo": "", "primary_slot_name": "", "max_connections": "150", "archive_mode": "off"} {
		if got, ok := auto[k]; !ok || got != want {
			t.Errorf("postgresql.auto.conf %s = %q (set %v), want %q", k, got, ok, want)
		}
	}
}

func TestPrepareRefuses(t *testing.T) {
	owner := pglocal.Owner{UID: os.Getuid(), GID: os.Getgid()}
	tests := []struct {
		name    string
		extra   map[string]string
		wantErr string
	}{
		{"tablespace", map[string]string{"pg_tblspc/16384": ""}, "tablespaces"},
		{"bad conf", map[string]string{"postgresql.conf": "port = 1\nshared_buffers = '1GB\n"}, "postgresql.conf: line 2"},
		{"bad opts", map[string]string{"postmaster.opts": `/bin/postgres "-Q"`}, "postmaster.opts"},
		{"config elsewhere", map[string]string{"postmaster.opts": `/bin/postgres "--config-file=/etc/postgresql/15/main/postgresql.conf"`}, "outside the data directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := fakeCopy(t, tt.extra)
			err := Prepare(Recipe{Name: "f1", Port: 6001, SourceDir: "/data/pg", ForkDir: dir}, owner)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
	dir := fakeCopy(t, map[string]string{"pg_tblspc/16384": ""})
	if err := CheckTablespaces(dir); !errors.Is(err, ErrTablespaces) {
		t.Fatalf("CheckTablespaces = %v, want ErrTablespaces", err)
	}
}

func TestParseMeta(t *testing.T) {
	good := `{"name":"f1","port":6001,"dir":"/forks/f1","method":"snapshot","timeline":2,"created_at":"2026-01-01T00:00:00Z","dsn":"host=h port=6001","source_dir":"/d","log_file":"/forks/f1.log","timings":{"to_writable_ns":1000},"running":true}`
	tests := []struct {
		name, path, in, wantErr string
	}{
		{"good", "/forks/f1.json", good, ""},
		{"not json", "/forks/f1.json", "{", "/forks/f1.json: unexpected EOF"},
		{"unknown field", "/forks/f1.json", `{"name":"f1","colour":"red"}`, `unknown field "colour"`},
		{"bad name", "/forks/F!.json", `{"name":"F!","port":1,"dir":"/x"}`, "field name"},
		{"file mismatch", "/forks/f2.json", `{"name":"f1","port":1,"dir":"/x"}`, "does not match"},
		{"bad port", "/forks/f1.json", `{"name":"f1","port":70000,"dir":"/x"}`, "field port"},
		{"relative dir", "/forks/f1.json", `{"name":"f1","port":1,"dir":"x"}`, "field dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseMeta(tt.path, []byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || f.Name != "f1" || f.Port != 6001 || f.Timeline != 2 || f.Timings.ToWritable != 1000 || f.Method != Snapshot {
				t.Fatalf("got %+v, %v", f, err)
			}
		})
	}
}

func FuzzParseMeta(f *testing.F) {
	f.Add([]byte(`{"name":"f1","port":6001,"dir":"/forks/f1"}`))
	f.Add([]byte(`{"name":"f1","port":-1}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := ParseMeta("/forks/f1.json", in)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "/forks/f1.json: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if got.Name != "f1" || got.Port <= 0 || got.Port > 65535 || !filepath.IsAbs(got.Dir) {
			t.Fatalf("accepted an invalid record: %+v", got)
		}
	})
}

func TestValidateName(t *testing.T) {
	for name, ok := range map[string]bool{"f1": true, "my-fork_2": true, "": false, "-x": false, "A": false, "a/b": false, "..": false, strings.Repeat("a", 64): false, strings.Repeat("a", 63): true} {
		if err := ValidateName(name); (err == nil) != ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}
