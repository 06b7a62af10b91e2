package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func sample(i int) RateSample {
	return RateSample{T: time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * 250 * time.Millisecond), Rate: float64(i)}
}

// drain reads what is queued for s without waiting.
func drain(s *Subscription) []Message {
	var out []Message
	for {
		select {
		case f := <-s.Frames():
			var m Message
			if err := json.Unmarshal(f, &m); err != nil {
				panic(err)
			}
			out = append(out, m)
		default:
			return out
		}
	}
}

func TestHubReplaysStateToNewSubscribers(t *testing.T) {
	h := NewHub(HubOptions{ReplayLines: 2, ReplaySamples: 3})
	v1 := View{Cluster: Cluster{Scope: "old"}}
	v2 := View{Cluster: Cluster{Scope: "demo", Leader: "n1"}}
	must(t, h.SetView(v1))
	for i := range 4 {
		must(t, h.Publish(LineMessage(Line{Text: "line " + string(rune('a'+i))})))
	}
	for i := range 5 {
		must(t, h.Publish(RateMessage(sample(i))))
	}
	must(t, h.SetView(v2))

	s, err := h.Subscribe()
	must(t, err)
	got := drain(s)
	var types []string
	for _, m := range got {
		switch m.Type {
		case TypeView:
			types = append(types, "view:"+m.View.Cluster.Scope)
		case TypeLine:
			types = append(types, m.Line.Text)
		case TypeRate:
			types = append(types, fmt.Sprint("rate:", m.Sample.Rate))
		}
	}
	want := "view:demo|line c|line d|rate:2|rate:3|rate:4"
	if g := strings.Join(types, "|"); g != want {
		t.Fatalf("replay\n got %s\nwant %s", g, want)
	}

	// After the replay, live messages follow in order.
	must(t, h.Publish(LineMessage(Line{Text: "live"})))
	if got := drain(s); len(got) != 1 || got[0].Line.Text != "live" {
		t.Fatalf("live message after replay: got %+v", got)
	}
}

func TestHubDropsSlowSubscriberOnly(t *testing.T) {
	h := NewHub(HubOptions{SendBuffer: 4})
	slow, err := h.Subscribe()
	must(t, err)
	fast, err := h.Subscribe()
	must(t, err)
	for i := range 20 {
		must(t, h.Publish(RateMessage(sample(i))))
		drain(fast) // the fast viewer keeps up
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("slow subscriber still connected after overflowing its buffer")
	}
	if !errors.Is(slow.Err(), ErrSlowViewer) {
		t.Fatalf("slow.Err() = %v, want ErrSlowViewer", slow.Err())
	}
	select {
	case <-fast.Done():
		t.Fatalf("fast subscriber dropped: %v", fast.Err())
	default:
	}
	st := h.Stats()
	if st.Subscribers != 1 || st.Dropped != 1 || st.Published != 20 {
		t.Fatalf("stats = %+v, want 1 subscriber, 1 dropped, 20 published", st)
	}
}

func TestHubPublishNeverBlocks(t *testing.T) {
	h := NewHub(HubOptions{SendBuffer: 1})
	for range 10 {
		_, err := h.Subscribe()
		must(t, err)
	}
	done := make(chan struct{})
	go func() {
		for i := range 1000 {
			_ = h.Publish(RateMessage(sample(i)))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on subscribers that never read")
	}
}

func TestHubCap(t *testing.T) {
	h := NewHub(HubOptions{MaxSubscribers: 2})
	a, err := h.Subscribe()
	must(t, err)
	_, err = h.Subscribe()
	must(t, err)
	if _, err := h.Subscribe(); !errors.Is(err, ErrHubFull) {
		t.Fatalf("third Subscribe: err = %v, want ErrHubFull", err)
	}
	a.Close()
	a.Close() // twice is harmless
	if a.Err() != nil {
		t.Fatalf("Err after Close = %v, want nil", a.Err())
	}
	if _, err := h.Subscribe(); err != nil {
		t.Fatalf("Subscribe after a viewer left: %v", err)
	}
	if st := h.Stats(); st.Refused != 1 || st.Subscribers != 2 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestHubRunEndsEverything(t *testing.T) {
	h := NewHub(HubOptions{})
	s, err := h.Subscribe()
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- h.Run(ctx) }()
	cancel()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	<-s.Done()
	if !errors.Is(s.Err(), ErrHubClosed) {
		t.Fatalf("Err = %v, want ErrHubClosed", s.Err())
	}
	if _, err := h.Subscribe(); !errors.Is(err, ErrHubClosed) {
		t.Fatalf("Subscribe after Run: %v", err)
	}
	if err := h.SetView(View{}); !errors.Is(err, ErrHubClosed) {
		t.Fatalf("SetView after Run: %v", err)
	}
}

func TestHubRefusesBadMessages(t *testing.T) {
	line := Line{Text: "x"}
	tests := []struct {
		name string
		m    Message
		want string
	}{
		{"unknown type", Message{Type: "exec"}, `type "exec"`},
		{"empty", Message{}, `type ""`},
		{"view without payload", Message{Type: TypeView}, "exactly its own payload"},
		{"line carrying a view", Message{Type: TypeLine, Line: &line, View: &View{}}, "exactly its own payload"},
		{"NaN rate", RateMessage(RateSample{Rate: math.NaN()}), "encode rate message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHub(HubOptions{})
			s, err := h.Subscribe()
			must(t, err)
			err = h.Publish(tt.m)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Publish: err = %v, want it to mention %q", err, tt.want)
			}
			if got := drain(s); len(got) != 0 {
				t.Fatalf("refused message reached a viewer: %+v", got)
			}
		})
	}
}

func TestHubPublishEventSkipsNoise(t *testing.T) {
	h := NewHub(HubOptions{})
	s, err := h.Subscribe()
	must(t, err)
	must(t, h.PublishEvent(ev("probe.ack", nil)))
	must(t, h.PublishEvent(ev("leader", nil)))
	got := drain(s)
	if len(got) != 1 || got[0].Line == nil || got[0].Line.Text != "leader key expired" {
		t.Fatalf("got %+v, want only the leader line", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
