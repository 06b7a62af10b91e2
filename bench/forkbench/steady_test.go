package forkbench

import (
	"strings"
	"testing"
	"time"

	"github.com/redswitch/redswitch/fork"
)

func TestParseSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"30s", 30 * time.Second, ""},
		{"5min", 5 * time.Minute, ""},
		{" 1.5h ", 90 * time.Minute, ""},
		{"300", 300 * time.Second, ""},
		{"500 ms", 500 * time.Millisecond, ""},
		{"1d", 24 * time.Hour, ""},
		{"", 0, "no number"},
		{"min", 0, "no number"},
		{"30 sec", 0, `unit "sec"`},
		{"1.2.3s", 0, `number "1.2.3"`},
		{"0", 0, "out of range"},
		{"99999999999999d", 0, "out of range"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseSeconds(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseSeconds(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseSeconds(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestSteadyFor(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []fork.Setting
		want time.Duration
		err  bool
	}{
		{"rig default", serverSettings(nil), 60 * time.Second, false},
		{"postgres default", serverSettings([]fork.Setting{{Key: "CHECKPOINT_TIMEOUT", Value: "5min"}}), 10 * time.Minute, false},
		{"not set: PostgreSQL's 5min", nil, 10 * time.Minute, false},
		{"below PostgreSQL's 30s", []fork.Setting{{Key: "checkpoint_timeout", Value: "2s"}}, 0, true},
		{"above PostgreSQL's 1d", []fork.Setting{{Key: "checkpoint_timeout", Value: "2d"}}, 0, true},
		{"bad value names the setting", []fork.Setting{{Key: "checkpoint_timeout", Value: "soon"}}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := steadyFor(tc.in)
			if tc.err {
				if err == nil || !strings.Contains(err.Error(), "checkpoint_timeout") {
					t.Fatalf("steadyFor = %v, %v; want an error naming checkpoint_timeout", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("steadyFor = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func FuzzParseSeconds(f *testing.F) {
	for _, s := range []string{"30s", "5min", "1.5 h", "300", "", "x", "1e309s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseSeconds(s)
		if err == nil && d <= 0 {
			t.Fatalf("parseSeconds(%q) = %v with no error", s, d)
		}
	})
}
