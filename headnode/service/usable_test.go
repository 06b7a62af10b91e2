package service

import (
	"context"
	"testing"

	"github.com/redswitch/redswitch/faults"
)

type noStarve struct{}

func (noStarve) Starve(context.Context, string, float64) error { return nil }
func (noStarve) Unstarve(context.Context, string) error        { return nil }

// TestUsableCPUStarve: the head node offers cpu_starve only where it can
// cap a node's CPU (containers), not on a booth whose agents cannot.
func TestUsableCPUStarve(t *testing.T) {
	agent := func(string) (faults.Agent, error) { return nil, nil }
	for _, tc := range []struct {
		name string
		env  faults.Env
		want bool
	}{
		{"containers", faults.Env{Starver: noStarve{}, Agent: agent}, true},
		{"booth with agents", faults.Env{Agent: agent}, false},
		{"nothing", faults.Env{}, false},
	} {
		if got := usable(faults.KindCPUStarve, tc.env); got != tc.want {
			t.Errorf("%s: usable(cpu_starve) = %t, want %t", tc.name, got, tc.want)
		}
	}
}
