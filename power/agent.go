package power

import (
	"context"
	"fmt"

	"github.com/redswitch/redswitch/agentapi"
)

// AgentClient is the part of a node agent's client a soft power cut uses.
type AgentClient interface {
	SetPower(ctx context.Context, on bool) (agentapi.PowerResponse, error)
	Status(ctx context.Context) (agentapi.Status, error)
}

// Agent cuts power softly, through each node's agent: for machines with
// neither relay nor container. The agent stops and kills every Patroni and
// PostgreSQL process at once and keeps Patroni down until power returns.
type Agent struct {
	nodes map[string]AgentClient
}

// NewAgent returns a driver over one agent client per node.
func NewAgent(nodes map[string]AgentClient) *Agent { return &Agent{nodes: nodes} }

func (a *Agent) client(node string) (AgentClient, error) {
	c, ok := a.nodes[node]
	if !ok {
		return nil, fmt.Errorf("soft power: unknown node %q", node)
	}
	return c, nil
}

// PowerOff cuts the node's database processes.
func (a *Agent) PowerOff(ctx context.Context, node string) error {
	c, err := a.client(node)
	if err != nil {
		return err
	}
	if _, err := c.SetPower(ctx, false); err != nil {
		return fmt.Errorf("soft power cut of %s: %w", node, err)
	}
	return nil
}

// PowerOn lets the node's agent start Patroni again.
func (a *Agent) PowerOn(ctx context.Context, node string) error {
	c, err := a.client(node)
	if err != nil {
		return err
	}
	if _, err := c.SetPower(ctx, true); err != nil {
		return fmt.Errorf("soft power restore of %s: %w", node, err)
	}
	return nil
}

// Powered asks the agent; an agent that does not answer is an error, not
// "off": the machine itself may be gone, which is not a soft cut.
func (a *Agent) Powered(ctx context.Context, node string) (bool, error) {
	c, err := a.client(node)
	if err != nil {
		return false, err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return false, fmt.Errorf("power state of %s: %w", node, err)
	}
	return !st.SoftPowerOff, nil
}
