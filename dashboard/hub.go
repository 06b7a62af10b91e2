package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redswitch/redswitch/journal"
)

// Errors a subscription can end with, or Subscribe can refuse with.
var (
	// ErrHubFull refuses a viewer beyond HubOptions.MaxSubscribers.
	ErrHubFull = errors.New("dashboard: too many viewers")
	// ErrHubClosed refuses or ends viewers once Run has returned.
	ErrHubClosed = errors.New("dashboard: hub closed")
	// ErrSlowViewer ends a viewer whose buffer filled up: it is dropped
	// rather than let it hold back the others.
	ErrSlowViewer = errors.New("dashboard: viewer too slow, dropped")
)

// HubOptions configure a Hub. Zero values take the defaults.
type HubOptions struct {
	// MaxSubscribers caps concurrent viewers (default 500).
	MaxSubscribers int
	// SendBuffer is how many messages may wait for one viewer beyond its
	// replay before it counts as slow and is dropped (default 64).
	SendBuffer int
	// ReplayLines is how many recent log lines a new viewer gets (default 50).
	ReplayLines int
	// ReplaySamples is how many recent rate samples a new viewer gets
	// (default 240: a minute at 250 ms).
	ReplaySamples int
	// Log receives drops and refusals; nil discards.
	Log *slog.Logger
}

func (o HubOptions) withDefaults() HubOptions {
	if o.MaxSubscribers <= 0 {
		o.MaxSubscribers = 500
	}
	if o.SendBuffer <= 0 {
		o.SendBuffer = 64
	}
	if o.ReplayLines <= 0 {
		o.ReplayLines = 50
	}
	if o.ReplaySamples <= 0 {
		o.ReplaySamples = 240
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// HubStats are the hub's counters, for tests, benchmarks and metrics.
type HubStats struct {
	Subscribers int    `json:"subscribers"`
	Published   uint64 `json:"published"`
	Dropped     uint64 `json:"dropped"`
	Refused     uint64 `json:"refused"`
}

// Hub fans messages out to viewers. Each message is encoded once; every
// viewer has a bounded queue, and Publish never waits for a viewer. The
// latest View and the recent lines and rate samples are kept and replayed
// to each new viewer, so a page opened mid-failover is complete at once.
type Hub struct {
	o HubOptions

	mu      sync.Mutex
	subs    map[*Subscription]struct{}
	view    []byte
	lines   ring
	samples ring
	closed  bool
	stats   HubStats
}

// NewHub returns a hub ready for Publish and Subscribe; Run ends it.
func NewHub(o HubOptions) *Hub {
	o = o.withDefaults()
	return &Hub{
		o:       o,
		subs:    map[*Subscription]struct{}{},
		lines:   ring{max: o.ReplayLines},
		samples: ring{max: o.ReplaySamples},
	}
}

// Run blocks until ctx ends, then disconnects every viewer and refuses new
// ones. The hub works before Run is called; Run only bounds its life.
func (h *Hub) Run(ctx context.Context) error {
	<-ctx.Done()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		h.dropLocked(s, ErrHubClosed)
	}
	return nil
}

// SetView replaces the screen state and sends it to every viewer.
func (h *Hub) SetView(v View) error { return h.Publish(ViewMessage(v)) }

// PublishEvent describes a journal event and publishes it as a log line;
// events not worth a line are skipped.
func (h *Hub) PublishEvent(e journal.Event) error {
	l, ok := Describe(e)
	if !ok {
		return nil
	}
	return h.Publish(LineMessage(l))
}

// Publish encodes m once and queues it for every viewer. A viewer whose
// queue is full is dropped. Views, lines and rate samples are also kept for
// replay to viewers that connect later.
func (h *Hub) Publish(m Message) error {
	if err := checkMessage(m); err != nil {
		return err
	}
	frame, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("dashboard: encode %s message: %w", m.Type, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrHubClosed
	}
	switch m.Type {
	case TypeView:
		h.view = frame
	case TypeLine:
		h.lines.add(frame)
	case TypeRate:
		h.samples.add(frame)
	}
	h.stats.Published++
	for s := range h.subs {
		select {
		case s.c <- frame:
		default:
			h.dropLocked(s, ErrSlowViewer)
		}
	}
	return nil
}

// checkMessage refuses a message whose payload does not match its type, so
// the page never receives a frame it cannot draw.
func checkMessage(m Message) error {
	var ok bool
	switch m.Type {
	case TypeView:
		ok = m.View != nil && m.Line == nil && m.Sample == nil
	case TypeLine:
		ok = m.Line != nil && m.View == nil && m.Sample == nil
	case TypeRate:
		ok = m.Sample != nil && m.View == nil && m.Line == nil
	default:
		return fmt.Errorf("dashboard: message type %q: want %q, %q or %q", m.Type, TypeView, TypeLine, TypeRate)
	}
	if !ok {
		return fmt.Errorf("dashboard: message type %q must carry exactly its own payload", m.Type)
	}
	return nil
}

// Subscribe adds a viewer. Its queue starts with the replay: the current
// View, then recent lines, then recent rate samples. It fails with
// ErrHubFull beyond the cap and ErrHubClosed after Run.
func (h *Hub) Subscribe() (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrHubClosed
	}
	if len(h.subs) >= h.o.MaxSubscribers {
		h.stats.Refused++
		h.o.Log.Warn("dashboard viewer refused", "viewers", len(h.subs), "max", h.o.MaxSubscribers)
		return nil, ErrHubFull
	}
	replay := h.lines.len() + h.samples.len()
	if h.view != nil {
		replay++
	}
	s := &Subscription{hub: h, c: make(chan []byte, h.o.SendBuffer+replay), done: make(chan struct{})}
	if h.view != nil {
		s.c <- h.view
	}
	h.lines.each(func(f []byte) { s.c <- f })
	h.samples.each(func(f []byte) { s.c <- f })
	h.subs[s] = struct{}{}
	return s, nil
}

// Stats returns the hub's counters.
func (h *Hub) Stats() HubStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.stats
	st.Subscribers = len(h.subs)
	return st
}

func (h *Hub) dropLocked(s *Subscription, why error) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	s.err = why
	close(s.done)
	if errors.Is(why, ErrSlowViewer) {
		h.stats.Dropped++
		h.o.Log.Info("dashboard viewer dropped", "reason", why, "buffer", cap(s.c))
	}
}

// Subscription is one viewer's queue of encoded messages.
type Subscription struct {
	hub  *Hub
	c    chan []byte
	done chan struct{}
	err  error // set under hub.mu before done closes
}

// Frames delivers encoded JSON messages in publish order. It is never
// closed: watch Done.
func (s *Subscription) Frames() <-chan []byte { return s.c }

// Done is closed when the viewer was dropped, closed, or the hub ended.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err says why Done closed: ErrSlowViewer, ErrHubClosed, or nil after Close.
// It is nil while the subscription is live.
func (s *Subscription) Err() error {
	select {
	case <-s.done:
	default:
		return nil
	}
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close removes the viewer. Safe to call more than once.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.dropLocked(s, nil)
}

// ring keeps the last max frames.
type ring struct {
	max   int
	buf   [][]byte
	start int
}

func (r *ring) add(f []byte) {
	if len(r.buf) < r.max {
		r.buf = append(r.buf, f)
		return
	}
	r.buf[r.start] = f
	r.start = (r.start + 1) % r.max
}

func (r *ring) len() int { return len(r.buf) }

func (r *ring) each(fn func([]byte)) {
	for i := range r.buf {
		fn(r.buf[(r.start+i)%len(r.buf)])
	}
}
