package headnode

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/redswitch/redswitch/cluster"
)

func TestParseSync(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    []string
		wantErr string
	}{
		{`{"leader":"n1","sync_standby":"n2"}`, []string{"n2"}, ""},
		{`{"leader":"n1","sync_standby":"n2, n3,"}`, []string{"n2", "n3"}, ""},
		{`{"leader":"n1","sync_standby":null}`, nil, ""},
		{`{"leader":null}`, nil, ""},
		{`{"sync_standby":7}`, nil, "sync key: json"},
		{`not json`, nil, "sync key:"},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := parseSync([]byte(c.in))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if names := slices.Sorted(maps.Keys(got)); !slices.Equal(names, c.want) {
				t.Fatalf("got %v, want %v", names, c.want)
			}
		})
	}
}

func FuzzParseSync(f *testing.F) {
	f.Add([]byte(`{"leader":"n1","sync_standby":"n2,n3"}`))
	f.Add([]byte(`{"sync_standby":null}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := parseSync(in)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "sync key: ") {
				t.Fatalf("error does not name the key: %v", err)
			}
			return
		}
		for n := range got {
			if n == "" || strings.Contains(n, ",") || strings.TrimSpace(n) != n {
				t.Fatalf("bad standby name %q from %q", n, in)
			}
		}
	})
}

// TestBuildNodesSync: the /sync key marks a running replica, never the
// leader (whose name the key also carries) nor a node that is down.
func TestBuildNodesSync(t *testing.T) {
	members := map[string]member{
		"n1": {Role: "master", State: "running", XLogLoc: 100},
		"n2": {Role: "replica", State: "running", XLogLoc: 100},
		"n3": {Role: "replica", State: "running", XLogLoc: 90},
		"n4": {Role: "replica", State: "stopped"},
	}
	syncs := map[string]bool{"n1": true, "n2": true, "n4": true}
	nodes := buildNodes([]string{"n1", "n2", "n3", "n4"}, nil, nil, nil, members, "n1", syncs, nil)
	want := map[string]bool{"n2": true}
	for _, n := range nodes {
		if n.Sync != want[n.Name] {
			t.Errorf("%s (%s): sync %v, want %v", n.Name, n.Role, n.Sync, want[n.Name])
		}
	}
	if nodes[0].Role != cluster.RolePrimary {
		t.Errorf("n1 role %s", nodes[0].Role)
	}
}
