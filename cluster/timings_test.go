package cluster

import (
	"strings"
	"testing"
)

func TestParseTimings(t *testing.T) {
	tests := []struct {
		in      string
		ttl     int
		wantErr string
	}{
		{in: "aggressive", ttl: 5},
		{in: "default", ttl: 30},
		{in: "5/1/2", ttl: 5},
		{in: "10/2/4", ttl: 10},
		{in: "5/1/1", wantErr: "retry_timeout 1 s is below 2 s: with etcd3 Patroni never acquires the leader key"},
		{in: "5/2/2", wantErr: "loop_wait + 2*retry_timeout = 6 s exceeds ttl 5 s"},
		{in: "4/1/2", wantErr: "loop_wait + 2*retry_timeout = 5 s exceeds ttl 4 s"},
		{in: "0/1/2", wantErr: "ttl (0) and loop_wait (1) must be at least 1 s"},
		{in: "5/0/2", wantErr: "ttl (5) and loop_wait (0) must be at least 1 s"},
		{in: "fast", wantErr: `timings "fast": want aggressive or default, or TTL/LOOP_WAIT/RETRY_TIMEOUT`},
		{in: "5/x/2", wantErr: `loop_wait "x" is not a whole number of seconds`},
		{in: "5/1", wantErr: "want aggressive or default"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTimings(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseTimings(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTimings(%q): %v", tt.in, err)
			}
			if got.TTL != tt.ttl {
				t.Errorf("ttl = %d, want %d", got.TTL, tt.ttl)
			}
		})
	}
}

func TestEffectiveFor(t *testing.T) {
	agg, _ := ParseTimings("aggressive")
	tests := []struct {
		version       string
		ttl, retryTmo int
	}{
		{"3.0.2", 5, 2},
		{"3.1.9", 5, 2},
		{"3.2.0", 20, 3},
		{"4.0.1", 20, 3},
		{"", 5, 2},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			e := agg.EffectiveFor(tt.version)
			if e.TTL != tt.ttl || e.RetryTimeout != tt.retryTmo {
				t.Errorf("EffectiveFor(%q) = ttl %d retry %d, want %d %d", tt.version, e.TTL, e.RetryTimeout, tt.ttl, tt.retryTmo)
			}
		})
	}
}

func FuzzParseTimings(f *testing.F) {
	for _, s := range []string{"aggressive", "default", "5/1/2", "5/1/1", "//", "-1/-1/-1", "99999999999999999999/1/2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTimings(s)
		if err == nil {
			if verr := tm.Validate(); verr != nil {
				t.Fatalf("ParseTimings(%q) accepted timings that fail Validate: %v", s, verr)
			}
		}
	})
}

func TestRoleFromPatroni(t *testing.T) {
	tests := []struct {
		role, state string
		want        Role
	}{
		{"leader", "running", RolePrimary},
		{"master", "running", RolePrimary},
		{"replica", "running", RoleReplica},
		{"sync_standby", "running", RoleReplica},
		{"replica", "creating replica", RoleReinitialising},
		{"replica", "starting", RoleStarting},
		{"replica", "stopped", RoleDown},
		{"uninitialized", "", RoleStarting},
		{"weird", "running", RoleUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.role+"/"+tt.state, func(t *testing.T) {
			if got := RoleFromPatroni(tt.role, tt.state); got != tt.want {
				t.Errorf("RoleFromPatroni(%q, %q) = %q, want %q", tt.role, tt.state, got, tt.want)
			}
		})
	}
}
