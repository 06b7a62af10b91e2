package faults

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestCPUStarve(t *testing.T) {
	for _, c := range []struct {
		name      string
		req       Request
		onInject  []string
		onRecover []string
	}{
		{"default share", Request{Kind: KindCPUStarve, Target: "primary"}, []string{"n1:starve 1"}, []string{"n1:unstarve"}},
		{"named share", Request{Kind: KindCPUStarve, Target: "n2", CPUPercent: 20}, []string{"n2:starve 20"}, []string{"n2:unstarve"}},
		{"under one percent", Request{Kind: KindCPUStarve, Target: "n3", CPUPercent: 0.5}, []string{"n3:starve 0.5"}, []string{"n3:unstarve"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(nil)
			ctx := context.Background()
			f, err := h.m.Inject(ctx, c.req)
			if err != nil || f.State != StateActive {
				t.Fatalf("inject: %+v %v", f, err)
			}
			if calls := h.take(); !reflect.DeepEqual(calls, c.onInject) {
				t.Errorf("inject called %v, want %v", calls, c.onInject)
			}
			if _, err := h.m.Inject(ctx, c.req); !errors.Is(err, ErrAlreadyActive) {
				t.Errorf("second starve of the same node: %v, want ErrAlreadyActive", err)
			}
			if _, err := h.m.Recover(ctx, f.ID); err != nil {
				t.Fatalf("recover: %v", err)
			}
			if calls := h.take(); !reflect.DeepEqual(calls, c.onRecover) {
				t.Errorf("recover called %v, want %v", calls, c.onRecover)
			}
		})
	}
}

// TestCPUStarveWithoutStarver: a head node that cannot cap a node's CPU
// (a booth machine) refuses the injection with a reason, as a bad request,
// and leaves nothing active.
func TestCPUStarveWithoutStarver(t *testing.T) {
	h := newHarness(nil, func(o *Options) { o.Env.Starver = nil })
	f, err := h.m.Inject(context.Background(), Request{Kind: KindCPUStarve, Target: "n1", CPUPercent: 5})
	if err == nil || !strings.Contains(err.Error(), "cannot cap a node's CPU") {
		t.Fatalf("inject without a starver: %v", err)
	}
	if statusOf(err) != http.StatusBadRequest {
		t.Errorf("status %d, want 400", statusOf(err))
	}
	if f.State != StateFailed || len(h.m.Active()) != 0 {
		t.Errorf("fault %s, active %v; want failed and nothing active", f.State, h.m.Active())
	}
}
