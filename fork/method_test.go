package fork

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestChooseMethod(t *testing.T) {
	all := Capabilities{SourceIsSubvolume: true, SameBtrfs: true, Reflink: true}
	tests := []struct {
		name      string
		req       Method
		caps      Capabilities
		allowCopy bool
		want      Method
		wantErr   string
	}{
		{"auto snapshot", Auto, all, false, Snapshot, ""},
		{"auto reflink when not a subvolume", Auto, Capabilities{SameBtrfs: true, Reflink: true}, false, Reflink, ""},
		{"auto reflink on xfs", Auto, Capabilities{Reflink: true}, false, Reflink, ""},
		{"auto copy allowed", Auto, Capabilities{}, true, Copy, ""},
		{"auto nothing", Auto, Capabilities{}, false, "", "no copy-on-write storage"},
		{"snapshot refused", Snapshot, Capabilities{Reflink: true}, true, "", "must be a btrfs subvolume"},
		{"reflink refused", Reflink, Capabilities{}, true, "", "does not work"},
		{"copy needs consent", Copy, all, false, "", "set AllowCopy"},
		{"copy", Copy, all, true, Copy, ""},
		{"basebackup always", BaseBackup, Capabilities{}, false, BaseBackup, ""},
		{"unknown", Method("zfs"), all, true, "", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ChooseMethod(tt.req, tt.caps, tt.allowCopy)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := ChooseMethod(Auto, Capabilities{}, false); !errors.Is(err, ErrNoCoW) {
		t.Fatalf("want ErrNoCoW, got %v", err)
	}
}

func TestParseMethod(t *testing.T) {
	for in, want := range map[string]Method{"": Auto, "auto": Auto, "Snapshot": Snapshot, " reflink ": Reflink, "basebackup": BaseBackup, "copy": Copy} {
		if got, err := ParseMethod(in); err != nil || got != want {
			t.Errorf("ParseMethod(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseMethod("lvm"); err == nil || !strings.Contains(err.Error(), `"lvm"`) {
		t.Errorf("ParseMethod(lvm) err = %v", err)
	}
}

func TestBuilders(t *testing.T) {
	tests := []struct {
		name string
		got  []string
		want string
	}{
		{"snapshot", SnapshotArgs("/b/src", "/b/forks/f1"), "btrfs subvolume snapshot /b/src /b/forks/f1"},
		{"delete", DeleteSubvolumeArgs("/b/forks/f1"), "btrfs subvolume delete /b/forks/f1"},
		{"create", CreateSubvolumeArgs("/b/src"), "btrfs subvolume create /b/src"},
		{"reflink tree", CopyTreeArgs("/d/src/", "/d/f1", true), "cp -a --reflink=always /d/src/. /d/f1/"},
		{"plain tree", CopyTreeArgs("/d/src", "/d/f1", false), "cp -a --reflink=never /d/src/. /d/f1/"},
		{"wal files", CopyFilesArgs([]string{"/s/pg_wal/a", "/s/pg_wal/b"}, "/f/pg_wal", true), "cp -p --reflink=always /s/pg_wal/a /s/pg_wal/b /f/pg_wal/"},
		{"basebackup", BaseBackupArgs("/usr/lib/postgresql/15/bin", "host=h port=1", "/f/x", "redswitch fork x"),
			"/usr/lib/postgresql/15/bin/pg_basebackup -d host=h port=1 -D /f/x -X stream -c fast --no-sync -l redswitch fork x"},
		{"du", DiskUsageArgs("/b/f1"), "btrfs filesystem du -s --raw /b/f1"},
		{"mkfs", MkfsBtrfsArgs("/img"), "mkfs.btrfs -q /img"},
		{"mount", MountLoopArgs("/img", "/mnt"), "mount -o loop,nodatacow /img /mnt"},
		{"umount", UnmountArgs("/mnt"), "umount /mnt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(tt.got, " "); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	// The DSN and label must stay single arguments, whatever they contain.
	args := BaseBackupArgs("/bin", "host=a password='x y'", "/f", "a label")
	if !reflect.DeepEqual(args[1:3], []string{"-d", "host=a password='x y'"}) || args[len(args)-1] != "a label" {
		t.Fatalf("arguments split: %q", args)
	}
}

func TestOnlyVanished(t *testing.T) {
	tests := []struct {
		stderr string
		want   bool
	}{
		{"cp: cannot stat '/d/pg_wal/000000010000000000000003': No such file or directory\n", true},
		{"cp: cannot stat 'a': No such file or directory\ncp: cannot stat 'b': No such file or directory", true},
		{"cp: failed to clone '/f/x' from '/d/x': Operation not supported", false},
		{"cp: cannot stat 'a': No such file or directory\ncp: error writing 'b': No space left on device", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.stderr, func(t *testing.T) {
			if got := onlyVanished(tt.stderr); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseBtrfsDU(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		total, exc int64
		wantErr    string
	}{
		{"ok", "     Total   Exclusive  Set shared  Filename\n 161398784      327680   161071104  /mnt/forks/f1\n", 161398784, 327680, ""},
		{"dash shared", "     Total   Exclusive  Set shared  Filename\n 4096  4096  -  /x\n", 4096, 4096, ""},
		{"no header", "161398784 1 2 /x\n", 0, 0, "want a header"},
		{"short", "Total Exclusive Set shared Filename\n1 2\n", 0, 0, "want 4 fields"},
		{"not numbers", "Total Exclusive Set shared Filename\n1.5MiB 2 3 /x\n", 0, 0, "bad numbers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			total, exc, err := ParseBtrfsDU(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || total != tt.total || exc != tt.exc {
				t.Fatalf("got %d %d %v, want %d %d", total, exc, err, tt.total, tt.exc)
			}
		})
	}
}

func FuzzParseBtrfsDU(f *testing.F) {
	f.Add("Total Exclusive Set shared Filename\n1 2 3 /x\n")
	f.Add("x\n-1 -2 - /y")
	f.Fuzz(func(t *testing.T, in string) {
		total, exc, err := ParseBtrfsDU(in)
		if err == nil && (total < 0 || exc < 0) {
			t.Fatalf("negative sizes %d %d from %q", total, exc, in)
		}
	})
}

func TestTimelineOfWALFile(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"000000020000000000000003", 2, false},
		{"0000000A00000001000000FF", 10, false},
		{"00000000000000000000000A", 0, true},
		{"00000002000000000000000", 0, true},
		{"0000000Z0000000000000003", 0, true},
		{"00000002000000000000000G", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := TimelineOfWALFile(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("got %d, %v; want %d (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
