package scenarios

import (
	"context"
	"testing"
	"time"

	"github.com/redswitch/redswitch/journal"
)

// A run on the head node holds its history from its start until its
// teardown, and reads back through the head node's own ReadBack.
func TestLocalClusterHoldsItsHistory(t *testing.T) {
	start := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	var held []time.Time
	released := 0
	readBacks := 0
	c := NewLocalCluster(Local{
		Now:    func() time.Time { return start },
		Events: func() []journal.Event { return nil },
		Record: func(e journal.Event) (journal.Event, error) { return e, nil },
		Hold: func(from time.Time) func() {
			held = append(held, from)
			return func() { released++ }
		},
		ReadBack: func(ctx context.Context) (journal.Event, error) {
			readBacks++
			return journal.Event{Kind: journal.KindProbeReadback}, nil
		},
	})
	steps := []struct {
		name     string
		do       func() error
		held     int
		released int
	}{
		{"started", func() error { return nil }, 1, 0},
		{"read back", func() error { return c.ReadBack(context.Background()) }, 1, 0},
		{"torn down", func() error { return c.Close(context.Background()) }, 1, 1},
		{"torn down twice", func() error { return c.Close(context.Background()) }, 1, 1},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := s.do(); err != nil {
				t.Fatal(err)
			}
			if len(held) != s.held || released != s.released {
				t.Fatalf("held %d, released %d; want %d, %d", len(held), released, s.held, s.released)
			}
		})
	}
	if !held[0].Equal(start) || readBacks != 1 {
		t.Errorf("held from %s, %d read-backs", held[0], readBacks)
	}
}
