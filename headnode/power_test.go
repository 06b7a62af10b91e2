package headnode

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/redswitch/redswitch/etcdaccess"
	"github.com/redswitch/redswitch/journal"
)

// memJournal records events in memory.
type memJournal struct {
	mu     sync.Mutex
	events []journal.Event
}

func (m *memJournal) Append(e journal.Event) (journal.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, e)
	return e, nil
}

func (m *memJournal) power() []journal.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []journal.Event
	for _, e := range m.events {
		if e.Kind == journal.KindPower {
			out = append(out, e)
		}
	}
	return out
}

// seeingPower is a power driver that looks at the journal when asked to
// act, as a head node that dies during the call would leave it.
type seeingPower struct {
	j    *memJournal
	err  error
	seen []journal.Event
}

func (p *seeingPower) act() error { p.seen = p.j.power(); return p.err }

func (p *seeingPower) PowerOff(context.Context, string) error { return p.act() }
func (p *seeingPower) PowerOn(context.Context, string) error  { return p.act() }
func (p *seeingPower) Powered(context.Context, string) (bool, error) {
	return true, nil
}

func TestSetPowerRecordsIntentFirst(t *testing.T) {
	tests := []struct {
		name      string
		driverErr error
		// wantAfter is the power events after the call: the intent, and
		// for a failed call its taking back.
		wantAfter []string
		wantState string
	}{
		{"cut", nil, []string{"off:booth"}, "off"},
		{"failed cut", errors.New("relay stuck"), []string{"off:booth", "on:" + PowerFailedSource}, "on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &memJournal{}
			drv := &seeingPower{j: j, err: tt.driverErr}
			h, err := New(Options{Scope: "s", Etcd: etcdaccess.Access{Endpoints: []string{"127.0.0.1:1"}}, Power: drv, Journal: j,
				Members: []Member{{Name: "n1", Address: "10.0.0.1"}}})
			if err != nil {
				t.Fatal(err)
			}
			defer h.etcd.Close()
			err = h.SetPower(context.Background(), "n1", false, "booth")
			if (err != nil) != (tt.driverErr != nil) {
				t.Fatalf("SetPower: %v, want error %v", err, tt.driverErr)
			}
			if len(drv.seen) != 1 || *drv.seen[0].On || drv.seen[0].Source != "booth" {
				t.Fatalf("the driver acted with power events %+v in the journal, want the cut recorded before", drv.seen)
			}
			var got []string
			for _, e := range j.power() {
				got = append(got, onOff(*e.On)+":"+e.Source)
			}
			if len(got) != len(tt.wantAfter) {
				t.Fatalf("power events %v, want %v", got, tt.wantAfter)
			}
			for i := range got {
				if got[i] != tt.wantAfter[i] {
					t.Fatalf("power events %v, want %v", got, tt.wantAfter)
				}
			}
			for _, n := range h.State().Nodes {
				if n.Name == "n1" && n.Power != tt.wantState {
					t.Errorf("state says power %s, want %s", n.Power, tt.wantState)
				}
			}
		})
	}
}

// blockingPower holds every driver call until release is closed.
type blockingPower struct {
	entered chan struct{}
	release chan struct{}
}

func (p *blockingPower) act() error {
	p.entered <- struct{}{}
	<-p.release
	return nil
}

func (p *blockingPower) PowerOff(context.Context, string) error { return p.act() }
func (p *blockingPower) PowerOn(context.Context, string) error  { return p.act() }
func (p *blockingPower) Powered(context.Context, string) (bool, error) {
	return true, nil
}

func TestChangePowerGuard(t *testing.T) {
	j := &memJournal{}
	drv := &blockingPower{entered: make(chan struct{}, 4), release: make(chan struct{})}
	h, err := New(Options{Scope: "s", Etcd: etcdaccess.Access{Endpoints: []string{"127.0.0.1:1"}}, Power: drv, Journal: j,
		Members: []Member{{Name: "n1", Address: "10.0.0.1"}, {Name: "n2", Address: "10.0.0.2"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.etcd.Close()
	ctx := context.Background()
	// Power is unknown until the first poll: a change goes through.
	done := make(chan error, 1)
	go func() { done <- h.ChangePower(ctx, "n1", false, "switch 1") }()
	<-drv.entered

	t.Run("busy while a change is under way", func(t *testing.T) {
		err := h.ChangePower(ctx, "n1", true, "api")
		if !errors.Is(err, ErrPowerBusy) || statusOf(err) != 409 {
			t.Fatalf("ChangePower during a change = %v (status %d), want ErrPowerBusy and 409", err, statusOf(err))
		}
	})
	close(drv.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Run("unchanged is refused and not journaled", func(t *testing.T) {
		n := len(j.power())
		err := h.ChangePower(ctx, "n1", false, "api")
		if !errors.Is(err, ErrPowerUnchanged) || statusOf(err) != 409 {
			t.Fatalf("second cut = %v (status %d), want ErrPowerUnchanged and 409", err, statusOf(err))
		}
		if got := len(j.power()); got != n {
			t.Errorf("a refused change journaled %d power events", got-n)
		}
	})
	t.Run("a real change goes through", func(t *testing.T) {
		go func() { <-drv.entered }()
		if err := h.ChangePower(ctx, "n1", true, "api"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("SetPower stays unguarded", func(t *testing.T) {
		// Faults and scenario teardowns restore power idempotently.
		go func() { <-drv.entered }()
		if err := h.SetPower(ctx, "n1", true, "scenario teardown"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unknown node", func(t *testing.T) {
		if err := h.ChangePower(ctx, "n9", false, "api"); !errors.Is(err, ErrUnknownNode) {
			t.Fatalf("ChangePower(n9) = %v", err)
		}
	})
}

func TestDecodePowerRequest(t *testing.T) {
	for body, want := range map[string]string{
		`{"on": false}`:             "",
		`{"on": true}`:              "",
		`{"on": true}}`:             "trailing data",
		`{"on": true}]`:             "trailing data",
		`{"on": true} {"on": true}`: "trailing data",
		`{}`:                        `field "on" is required`,
		`{"on": "off"}`:             "cannot unmarshal",
		`{"on": true, "x": 1}`:      "unknown field",
		``:                          "EOF",
	} {
		t.Run(body, func(t *testing.T) {
			req, err := DecodePowerRequest(strings.NewReader(body))
			if want == "" {
				if err != nil || req.On == nil {
					t.Fatalf("DecodePowerRequest(%q) = %+v, %v", body, req, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), want) || statusOf(err) != 400 {
				t.Fatalf("DecodePowerRequest(%q) = %v (status %d), want 400 with %q", body, err, statusOf(err), want)
			}
		})
	}
}

func FuzzDecodePowerRequest(f *testing.F) {
	for _, s := range []string{`{"on": false}`, `{"on": true}}`, `{}`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req, err := DecodePowerRequest(strings.NewReader(body))
		if err == nil && req.On == nil {
			t.Fatalf("accepted %q without a power state", body)
		}
		if err != nil && statusOf(err) != 400 {
			t.Fatalf("%q: status %d, want 400", body, statusOf(err))
		}
	})
}
