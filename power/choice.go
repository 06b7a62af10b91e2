package power

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Driver cuts and restores nodes; the head node's power drivers are.
type Driver interface {
	PowerOff(ctx context.Context, node string) error
	PowerOn(ctx context.Context, node string) error
	Powered(ctx context.Context, node string) (bool, error)
}

// Choice is a power driver with several ways to cut a node, one chosen
// before each cut: a bench compares a silent cut (a container's SIGKILL)
// with a soft cut (the agent's) on one cluster, in one machine state. A
// node is powered on, and its power read, through the driver that cut it,
// since only that one knows how to undo its cut; a node nobody cut is read
// through the first driver.
type Choice struct {
	names []string
	by    map[string]Driver

	mu    sync.Mutex
	next  string
	cutBy map[string]string
}

// NewChoice returns a choice between drivers, starting with names[0].
func NewChoice(names []string, drivers map[string]Driver) (*Choice, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("power choice: no drivers")
	}
	for _, n := range names {
		if drivers[n] == nil {
			return nil, fmt.Errorf("power choice: no driver %q", n)
		}
	}
	return &Choice{names: slices.Clone(names), by: drivers, next: names[0], cutBy: map[string]string{}}, nil
}

// Use makes name the driver of the next cuts.
func (c *Choice) Use(name string) error {
	if c.by[name] == nil {
		known := slices.Clone(c.names)
		sort.Strings(known)
		return fmt.Errorf("power choice: no driver %q (have %s)", name, strings.Join(known, ", "))
	}
	c.mu.Lock()
	c.next = name
	c.mu.Unlock()
	return nil
}

// Using is the driver the next cut goes through.
func (c *Choice) Using() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.next
}

// CutBy names the driver that cut node, "" when it is not cut.
func (c *Choice) CutBy(node string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cutBy[node]
}

// PowerOff cuts node through the chosen driver and remembers which.
func (c *Choice) PowerOff(ctx context.Context, node string) error {
	c.mu.Lock()
	name := c.next
	c.mu.Unlock()
	if err := c.by[name].PowerOff(ctx, node); err != nil {
		return err
	}
	c.mu.Lock()
	c.cutBy[node] = name
	c.mu.Unlock()
	return nil
}

// PowerOn restores node through the driver that cut it.
func (c *Choice) PowerOn(ctx context.Context, node string) error {
	name := c.owner(node)
	if err := c.by[name].PowerOn(ctx, node); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.cutBy, node)
	c.mu.Unlock()
	return nil
}

// Powered reads node's power through the driver that cut it: a soft cut
// leaves the container running.
func (c *Choice) Powered(ctx context.Context, node string) (bool, error) {
	return c.by[c.owner(node)].Powered(ctx, node)
}

func (c *Choice) owner(node string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.cutBy[node]; ok {
		return n
	}
	return c.names[0]
}
