package demo

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redswitch/redswitch/journal"
)

func switchRequest(t *testing.T, d *Demo, id, token, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, d.URL+"/api/v1/switches/"+id, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitEvent waits for an event that match accepts.
func waitEvent(t *testing.T, d *Demo, what string, match func(journal.Event) bool) journal.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range d.Events() {
			if match(e) {
				return e
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no %s recorded within 30 s", what)
	return journal.Event{}
}

// TestVirtualSwitchCutsNode flips switch 2 through the API: n2's container
// loses power and the journal names the switch as the cause; flipping it
// back restores the node.
func TestVirtualSwitchCutsNode(t *testing.T) {
	d := startRig(t, Options{Nodes: 3})
	ctx := context.Background()
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	_, err := d.WaitHealthy(wctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if got := switchRequest(t, d, "2", "", `{"on": false}`); got != http.StatusUnauthorized {
		t.Errorf("switch without token: status %d, want 401", got)
	}
	if got := switchRequest(t, d, "9", d.Token, `{"on": false}`); got != http.StatusNotFound {
		t.Errorf("unknown switch: status %d, want 404", got)
	}
	if got := switchRequest(t, d, "2", d.Token, `{"on": "no"}`); got != http.StatusBadRequest {
		t.Errorf("malformed switch body: status %d, want 400", got)
	}
	time.Sleep(500 * time.Millisecond)
	if on, _ := d.Rig.Powered(ctx, "n2"); !on {
		t.Fatal("a refused switch request cut n2")
	}

	if got := switchRequest(t, d, "2", d.Token, `{"on": false}`); got != http.StatusAccepted {
		t.Fatalf("flip switch 2 off: status %d", got)
	}
	sw := waitEvent(t, d, "switch 2 off", func(e journal.Event) bool {
		return e.Kind == journal.KindSwitch && e.Node == "n2" && e.On != nil && !*e.On
	})
	pw := waitEvent(t, d, "n2 power cut by switch 2", func(e journal.Event) bool {
		return e.Kind == journal.KindPower && e.Node == "n2" && e.On != nil && !*e.On && e.Source == "switch 2"
	})
	if pw.At.Sub(sw.At) > time.Second || pw.At.Before(sw.At.Add(-time.Second)) {
		t.Errorf("power cut at %v, switch at %v: too far apart", pw.At, sw.At)
	}
	if on, err := d.Rig.Powered(ctx, "n2"); err != nil || on {
		t.Fatalf("n2 still powered after switch 2 went off (err %v)", err)
	}
	if got := switchRequest(t, d, "2", d.Token, `{"on": true}`); got != http.StatusAccepted {
		t.Fatalf("flip switch 2 on: status %d", got)
	}
	waitEvent(t, d, "n2 power restored by switch 2", func(e journal.Event) bool {
		return e.Kind == journal.KindPower && e.Node == "n2" && e.On != nil && *e.On && e.Source == "switch 2"
	})
	if on, err := d.Rig.Powered(ctx, "n2"); err != nil || !on {
		t.Fatalf("n2 not powered after switch 2 went on (err %v)", err)
	}
	for _, s := range d.Switches.Positions() {
		if !s.On || !s.Known {
			t.Errorf("switch %d after the test: on %v known %v", s.ID, s.On, s.Known)
		}
	}
}
