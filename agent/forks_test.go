package agent

import "testing"

func TestLastJSON(t *testing.T) {
	tests := []struct {
		name, out, want string
		bad             bool
	}{
		{"only json", `{"name":"a"}`, `{"name":"a"}`, false},
		{"logs before", "time=1 level=INFO msg=x\n{\"name\":\"a\"}\n", `{"name":"a"}`, false},
		{"list", "level=WARN msg=copy\n[]\n", `[]`, false},
		{"last of two", "{\"a\":1}\nlog\n{\"b\":2}\n", `{"b":2}`, false},
		{"none", "level=ERROR msg=boom\n", "", true},
		{"empty", "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lastJSON(tc.out)
			if tc.bad {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q %v, want %q", got, err, tc.want)
			}
		})
	}
}

func TestFreeForkPort(t *testing.T) {
	none := func(int) bool { return false }
	if p, err := freeForkPort(nil, none); err != nil || p != firstForkPort {
		t.Fatalf("empty: %d %v", p, err)
	}
	used := map[int]bool{firstForkPort: true, firstForkPort + 1: true}
	busy := func(p int) bool { return p == firstForkPort+2 }
	if p, err := freeForkPort(used, busy); err != nil || p != firstForkPort+3 {
		t.Fatalf("used and busy: %d %v", p, err)
	}
	if _, err := freeForkPort(nil, func(int) bool { return true }); err == nil {
		t.Fatal("every port busy must be an error")
	}
}

func TestClusterState(t *testing.T) {
	out := "pg_control version number:            1300\nDatabase cluster state:               in production\npg_control last modified: x\n"
	for in, want := range map[string]string{
		out: "in production",
		"Database cluster state:               in archive recovery\n": "in archive recovery",
		"Database cluster state:   shut down":                         "shut down",
		"no such line":                                                "",
	} {
		if got := clusterState(in); got != want {
			t.Errorf("clusterState(%q) = %q, want %q", in, got, want)
		}
	}
}
