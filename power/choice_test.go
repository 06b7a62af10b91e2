package power

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// fakeDriver records calls and keeps its own idea of each node's power.
type fakeDriver struct {
	name  string
	calls *[]string
	off   map[string]bool
	fail  bool
}

func (f *fakeDriver) PowerOff(_ context.Context, node string) error {
	*f.calls = append(*f.calls, f.name+" off "+node)
	if f.fail {
		return errors.New("refused")
	}
	f.off[node] = true
	return nil
}

func (f *fakeDriver) PowerOn(_ context.Context, node string) error {
	*f.calls = append(*f.calls, f.name+" on "+node)
	delete(f.off, node)
	return nil
}

func (f *fakeDriver) Powered(_ context.Context, node string) (bool, error) {
	return !f.off[node], nil
}

func TestChoice(t *testing.T) {
	ctx := context.Background()
	type step struct {
		do   string // "use X", "off N", "on N", "powered N"
		want string // the calls made, or the answer of powered
	}
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"first driver by default", []step{{"off n1", "container off n1"}, {"on n1", "container on n1"}}},
		{"alternating cuts, each restored by its own driver", []step{
			{"use agent", ""}, {"off n1", "agent off n1"}, {"use container", ""}, {"off n2", "container off n2"},
			{"on n1", "agent on n1"}, {"on n2", "container on n2"}}},
		{"a soft cut is read through the agent, not the running container", []step{
			{"use agent", ""}, {"off n1", "agent off n1"}, {"powered n1", "false"}, {"on n1", "agent on n1"}, {"powered n1", "true"}}},
		{"a node nobody cut is read through the first driver", []step{{"use agent", ""}, {"powered n3", "true"}}},
		{"a failed cut leaves no owner", []step{{"use broken", ""}, {"off n1", "broken off n1"}, {"on n1", "container on n1"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var calls []string
			mk := func(name string) *fakeDriver { return &fakeDriver{name: name, calls: &calls, off: map[string]bool{}} }
			broken := mk("broken")
			broken.fail = true
			c, err := NewChoice([]string{"container", "agent", "broken"}, map[string]Driver{"container": mk("container"), "agent": mk("agent"), "broken": broken})
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tt.steps {
				calls = nil
				verb, node, _ := strings.Cut(s.do, " ")
				got := ""
				switch verb {
				case "use":
					if err := c.Use(node); err != nil {
						t.Fatal(err)
					}
				case "off":
					_ = c.PowerOff(ctx, node)
				case "on":
					if err := c.PowerOn(ctx, node); err != nil {
						t.Fatal(err)
					}
				case "powered":
					on, err := c.Powered(ctx, node)
					if err != nil {
						t.Fatal(err)
					}
					got = fmt.Sprint(on)
				}
				if got == "" {
					got = strings.Join(calls, ", ")
				}
				if got != s.want {
					t.Fatalf("step %d %q: got %q, want %q", i, s.do, got, s.want)
				}
			}
		})
	}
}

func TestChoiceRefuses(t *testing.T) {
	if _, err := NewChoice(nil, nil); err == nil {
		t.Error("a choice of nothing: want an error")
	}
	if _, err := NewChoice([]string{"container"}, map[string]Driver{}); err == nil || !strings.Contains(err.Error(), `"container"`) {
		t.Errorf("a name without a driver: err %v", err)
	}
	var calls []string
	c, err := NewChoice([]string{"container"}, map[string]Driver{"container": &fakeDriver{name: "container", calls: &calls, off: map[string]bool{}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Use("relay"); err == nil || !strings.Contains(err.Error(), "have container") {
		t.Errorf("Use of an unknown driver: err %v", err)
	}
	if c.Using() != "container" {
		t.Errorf("after a refused Use the choice is %q", c.Using())
	}
}
