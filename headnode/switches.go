package headnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/redswitch/redswitch/fiu"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
)

// SwitchesOptions wire the Failure Injection Unit to the head node.
type SwitchesOptions struct {
	Head   *HeadNode
	Events *EventLog
	Pins   fiu.Pins
	// Virtual is set when the pins are virtual: then POST
	// /api/v1/switches/{id} flips them.
	Virtual *fiu.Virtual
	Config  []fiu.SwitchConfig
	Window  time.Duration
	Poll    time.Duration
	// Observe is for a booth whose switches cut the DC power themselves:
	// the head node only records the switch as the cause.
	Observe bool
	Log     *slog.Logger
}

// Switches connects debounced switch changes to node power.
type Switches struct {
	o    SwitchesOptions
	unit *fiu.Unit
}

// NewSwitches builds the switch unit.
func NewSwitches(o SwitchesOptions) (*Switches, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	u, err := fiu.NewUnit(fiu.Options{Pins: o.Pins, Switches: o.Config, Window: o.Window, PollInterval: o.Poll,
		Now: o.Head.o.Clock, Log: o.Log})
	if err != nil {
		return nil, fmt.Errorf("switches: %w", err)
	}
	return &Switches{o: o, unit: u}, nil
}

// Run settles the switches, reconciles node power with their positions (a
// switch left off keeps its node off), then follows every change until ctx
// ends.
func (s *Switches) Run(ctx context.Context) error {
	positions, err := s.unit.Settle(ctx)
	if err != nil {
		return fmt.Errorf("switches: settle: %w", err)
	}
	st := s.o.Head.State()
	var nodes []fiu.NodePower
	for _, n := range st.Nodes {
		nodes = append(nodes, fiu.NodePower{Node: n.Name, Powered: n.Power == "on"})
	}
	for _, a := range fiu.Reconcile(positions, nodes) {
		s.o.Log.Info("switch position decides node power at start", "node", a.Node, "on", a.PowerOn, "switches", a.Switches)
		s.apply(ctx, a.Node, a.PowerOn, a.Switches)
	}
	return s.unit.Run(ctx, func(sw fiu.Switch) {
		s.o.Events.Append(journal.Event{At: sw.At, Kind: journal.KindSwitch, Node: sw.Node, ID: strconv.Itoa(sw.ID), On: journal.Bool(sw.On)})
		s.apply(ctx, sw.Node, sw.On, []int{sw.ID})
	})
}

func (s *Switches) apply(ctx context.Context, node string, on bool, ids []int) {
	source := fmt.Sprintf("switch %v", ids)
	if len(ids) == 1 {
		source = "switch " + strconv.Itoa(ids[0])
	}
	if s.o.Observe {
		s.o.Events.Append(journal.Event{Kind: journal.KindPower, Node: node, On: journal.Bool(on), Source: source})
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := s.o.Head.ChangePower(pctx, node, on, source)
	// A switch flipped back while its first change is still under way
	// waits for it rather than be lost: the switch's position must win.
	for errors.Is(err, ErrPowerBusy) {
		select {
		case <-pctx.Done():
			err = fmt.Errorf("%w (gave up waiting: %w)", err, pctx.Err())
		case <-time.After(50 * time.Millisecond):
			err = s.o.Head.ChangePower(pctx, node, on, source)
		}
		if pctx.Err() != nil {
			break
		}
	}
	switch {
	case errors.Is(err, ErrPowerUnchanged):
		// The node is already where the switch puts it (the operator's
		// API or a scenario got there first): nothing to do.
		s.o.Log.Info("switch finds the node already there", "node", node, "on", on, "source", source)
	case err != nil:
		s.o.Log.Error("switch could not change power", "node", node, "on", on, "err", err)
	}
}

// Positions lists every switch with its node and debounced position.
func (s *Switches) Positions() []headnodeapi.Switch {
	pos, err := s.unit.Positions()
	cfg := s.unit.Switches()
	out := make([]headnodeapi.Switch, 0, len(cfg))
	byID := map[int]fiu.Switch{}
	if err == nil {
		for _, p := range pos {
			byID[p.ID] = p
		}
	}
	for _, c := range cfg {
		p, ok := byID[c.ID]
		out = append(out, headnodeapi.Switch{ID: c.ID, Node: c.Node, On: p.On, Known: ok})
	}
	return out
}

// DecodeSwitchRequest parses and checks a switch request body.
func DecodeSwitchRequest(r io.Reader) (headnodeapi.SwitchRequest, error) {
	on, err := decodeOn(r)
	return headnodeapi.SwitchRequest{On: on}, err
}

var errNotVirtual = apiError{http.StatusConflict, "switches are hardware: flip the real switch"}

// Mount adds GET /api/v1/switches and POST /api/v1/switches/{id}.
func (s *Switches) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/switches", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"switches": s.Positions(), "virtual": s.o.Virtual != nil})
	})
	mux.Handle("POST /api/v1/switches/{id}", s.o.Head.RequireOperator(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		known := false
		for _, c := range s.unit.Switches() {
			known = known || c.ID == id
		}
		if err != nil || !known {
			writeError(w, apiError{http.StatusNotFound, fmt.Sprintf("unknown switch %q", r.PathValue("id"))})
			return
		}
		req, err := DecodeSwitchRequest(r.Body)
		if err != nil {
			writeError(w, err)
			return
		}
		if s.o.Virtual == nil {
			writeError(w, errNotVirtual)
			return
		}
		if err := s.o.Virtual.Set(id, *req.On); err != nil {
			writeError(w, apiError{http.StatusBadRequest, err.Error()})
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "on": *req.On})
	})))
}
