package power

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

type write struct {
	pin  int
	high bool
}

// fakeOutputs records writes and fails on chosen pins.
type fakeOutputs struct {
	writes []write
	fail   map[int]error
}

func (f *fakeOutputs) Write(pin int, high bool) error {
	if err := f.fail[pin]; err != nil {
		return err
	}
	f.writes = append(f.writes, write{pin, high})
	return nil
}

func TestRelayLevels(t *testing.T) {
	pins := map[string]RelayPin{"n1": {Pin: 5}, "n2": {Pin: 6, ActiveHigh: true}}
	tests := []struct {
		name        string
		do          func(ctx context.Context, r *Relay) error
		want        []write
		wantPowered map[string]bool
	}{
		{"active-low cut drives low", func(ctx context.Context, r *Relay) error { return r.PowerOff(ctx, "n1") },
			[]write{{5, false}}, map[string]bool{"n1": false, "n2": true}},
		{"active-high cut drives high", func(ctx context.Context, r *Relay) error { return r.PowerOff(ctx, "n2") },
			[]write{{6, true}}, map[string]bool{"n1": true, "n2": false}},
		{"cut then restore", func(ctx context.Context, r *Relay) error {
			return errors.Join(r.PowerOff(ctx, "n1"), r.PowerOn(ctx, "n1"), r.PowerOff(ctx, "n2"), r.PowerOn(ctx, "n2"))
		}, []write{{5, false}, {5, true}, {6, true}, {6, false}}, map[string]bool{"n1": true, "n2": true}},
		{"release powers everything", func(ctx context.Context, r *Relay) error {
			return errors.Join(r.PowerOff(ctx, "n1"), r.PowerOff(ctx, "n2"), r.Release(ctx))
		}, []write{{5, false}, {6, true}, {5, true}, {6, false}}, map[string]bool{"n1": true, "n2": true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := &fakeOutputs{}
			r := NewRelay(out, pins, nil)
			ctx := context.Background()
			if err := tc.do(ctx, r); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out.writes, tc.want) {
				t.Errorf("writes %v, want %v", out.writes, tc.want)
			}
			for node, want := range tc.wantPowered {
				got, err := r.Powered(ctx, node)
				if err != nil || got != want {
					t.Errorf("Powered(%s) = %v, %v; want %v", node, got, err, want)
				}
			}
		})
	}
}

func TestRelayErrors(t *testing.T) {
	broken := errors.New("i2c expander gone")
	out := &fakeOutputs{fail: map[int]error{6: broken}}
	r := NewRelay(out, map[string]RelayPin{"n1": {Pin: 5}, "n2": {Pin: 6}}, nil)
	ctx := context.Background()

	if err := r.PowerOff(ctx, "n9"); !errors.Is(err, ErrUnknownNode) || !strings.Contains(err.Error(), "n9") {
		t.Errorf("unknown node: %v", err)
	}
	if _, err := r.Powered(ctx, "n9"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("Powered of unknown node: %v", err)
	}
	err := r.PowerOff(ctx, "n2")
	if !errors.Is(err, broken) || !strings.Contains(err.Error(), "pin 6") {
		t.Errorf("write failure: %v", err)
	}
	if on, _ := r.Powered(ctx, "n2"); !on {
		t.Errorf("a failed cut recorded the node as off")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := r.PowerOff(cancelled, "n1"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	if len(out.writes) != 0 {
		t.Errorf("writes happened: %v", out.writes)
	}
	// Release tries every node and reports the broken one.
	if err := r.Release(ctx); !errors.Is(err, broken) {
		t.Errorf("Release: %v", err)
	}
	if fmt.Sprint(out.writes) != fmt.Sprint([]write{{5, true}}) {
		t.Errorf("Release writes %v, want n1 released", out.writes)
	}
}

// headNodePower is what the head node calls; Relay must satisfy it.
type headNodePower interface {
	PowerOff(ctx context.Context, node string) error
	PowerOn(ctx context.Context, node string) error
	Powered(ctx context.Context, node string) (bool, error)
}

var _ headNodePower = (*Relay)(nil)
