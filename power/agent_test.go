package power

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/redswitch/redswitch/agentapi"
)

// recordingAgent stands in for the node agent's client: the agent itself is
// tested in its package and end to end in the demo's soft power test.
type recordingAgent struct {
	off  bool
	fail error
	sets []bool
}

func (r *recordingAgent) SetPower(_ context.Context, on bool) (agentapi.PowerResponse, error) {
	if r.fail != nil {
		return agentapi.PowerResponse{}, r.fail
	}
	r.sets = append(r.sets, on)
	r.off = !on
	return agentapi.PowerResponse{On: on}, nil
}

func (r *recordingAgent) Status(context.Context) (agentapi.Status, error) {
	if r.fail != nil {
		return agentapi.Status{}, r.fail
	}
	return agentapi.Status{SoftPowerOff: r.off}, nil
}

func TestAgentDriver(t *testing.T) {
	ctx := context.Background()
	n1, n2 := &recordingAgent{}, &recordingAgent{fail: errors.New("connection refused")}
	d := NewAgent(map[string]AgentClient{"n1": n1, "n2": n2})

	if err := d.PowerOff(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if on, err := d.Powered(ctx, "n1"); err != nil || on {
		t.Fatalf("after cut: powered=%v err=%v", on, err)
	}
	if err := d.PowerOn(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if on, err := d.Powered(ctx, "n1"); err != nil || !on {
		t.Fatalf("after restore: powered=%v err=%v", on, err)
	}
	if len(n1.sets) != 2 || n1.sets[0] || !n1.sets[1] {
		t.Errorf("calls %v, want [false true]", n1.sets)
	}
	for _, tc := range []struct {
		name, node, want string
		call             func(context.Context, string) error
	}{
		{"unknown node off", "n9", `unknown node "n9"`, d.PowerOff},
		{"unknown node on", "n9", `unknown node "n9"`, d.PowerOn},
		{"agent down off", "n2", "soft power cut of n2: connection refused", d.PowerOff},
		{"agent down on", "n2", "soft power restore of n2", d.PowerOn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(ctx, tc.node)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := d.Powered(ctx, "n2"); err == nil {
		t.Error("an agent that does not answer must be an error, not off")
	}
}
