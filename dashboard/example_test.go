package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/redswitch/redswitch/dashboard"
	"github.com/redswitch/redswitch/journal"
)

// How the head node wires the dashboard: the page at /, the read-only
// websocket at /ws, and state pushed into the hub as it changes.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hub := dashboard.NewHub(dashboard.HubOptions{})
	go func() { _ = hub.Run(ctx) }()

	mux := http.NewServeMux()
	mux.Handle("GET /ws", dashboard.Handler(hub, dashboard.HandlerOptions{}))
	mux.Handle("GET /", dashboard.Static())

	_ = hub.SetView(dashboard.View{Cluster: dashboard.Cluster{Scope: "booth", Leader: "n1"}, Reference: dashboard.DefaultReference()})
	_ = hub.PublishEvent(journal.Event{At: time.Now(), Kind: journal.KindLeader, Detail: "expired"})
	_ = hub.Publish(dashboard.RateMessage(dashboard.RateSample{T: time.Now(), Rate: 98}))
	fmt.Println(hub.Stats().Published)
	// Output: 3
}

func ExampleDescribe() {
	l, ok := dashboard.Describe(journal.Event{Kind: journal.KindPower, Node: "n2", On: journal.Bool(false), Source: "switch 2"})
	fmt.Println(l.Text, l.Kind, ok)
	// Output: power cut on n2 (switch 2) fault true
}
