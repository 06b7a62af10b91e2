package rig

import (
	"reflect"
	"strings"
	"testing"
)

func TestVolumeMounts(t *testing.T) {
	table := strings.Join([]string{
		`22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw`,
		`100 22 7:0 / /tmp/x/redswitch-volumes/rsaaaa/n1 rw,relatime - btrfs /dev/loop0 rw,user_subvol_rm_allowed`,
		`101 22 7:1 / /tmp/x/redswitch-volumes/rsaaaa/n2 rw,relatime - btrfs /dev/loop1 rw`,
		`102 22 7:2 / /tmp/y/redswitch-volumes/rsbbbb/n1 rw,relatime - btrfs /dev/loop2 rw`,
		`103 22 7:3 / /tmp/with\040space/redswitch-volumes/rsbbbb/n2 rw - btrfs /dev/loop3 rw`,
		`104 22 7:4 / /tmp/redswitch-volumes/n1 rw - btrfs /dev/loop4 rw`,
		`105 22 0:50 / /var/lib/docker/overlay2/abc/merged rw - overlay overlay rw`,
		`short line`,
	}, "\n")
	tests := []struct {
		rig  string
		want []string
	}{
		{"rsaaaa", []string{"/tmp/x/redswitch-volumes/rsaaaa/n1", "/tmp/x/redswitch-volumes/rsaaaa/n2"}},
		{"rsbbbb", []string{"/tmp/with space/redswitch-volumes/rsbbbb/n2", "/tmp/y/redswitch-volumes/rsbbbb/n1"}},
		{"rszzzz", nil},
		{"", []string{"/tmp/with space/redswitch-volumes/rsbbbb/n2", "/tmp/x/redswitch-volumes/rsaaaa/n1",
			"/tmp/x/redswitch-volumes/rsaaaa/n2", "/tmp/y/redswitch-volumes/rsbbbb/n1"}},
	}
	for _, tc := range tests {
		t.Run("rig "+tc.rig, func(t *testing.T) {
			got, err := volumeMounts(strings.NewReader(table), tc.rig)
			if err != nil {
				t.Fatal(err)
			}
			// Order is deepest first; compare as sets of equal length paths.
			if !sameSet(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/a/b`:          "/a/b",
		`/a\040b`:       "/a b",
		`/a\011b\134c`:  "/a\tb\\c",
		`/trailing\04`:  `/trailing\04`,
		`/not\999octal`: `/not\999octal`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVolumePaths(t *testing.T) {
	img, mnt := volumePaths("/srv/head", "rs01", "n2")
	if got := []string{img, mnt}; !reflect.DeepEqual(got, []string{"/srv/head/redswitch-volumes/rs01/n2.img", "/srv/head/redswitch-volumes/rs01/n2"}) {
		t.Fatalf("paths %q", got)
	}
}
