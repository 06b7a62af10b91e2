package service

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/redswitch/redswitch/faults"
)

// group runs the long-lived parts of the head node. The first part to
// return an error stops all the others: a head node without HAProxy or
// etcd must not go on serving as if it measured something.
type group struct {
	ctx     context.Context
	cancel  context.CancelFunc
	log     *slog.Logger
	wg      sync.WaitGroup
	stopped chan struct{}

	mu   sync.Mutex
	err  error
	once sync.Once
}

func newGroup(parent context.Context, log *slog.Logger) *group {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	return &group{ctx: ctx, cancel: cancel, log: log, stopped: make(chan struct{})}
}

// run starts one part; a part returns nil when its context ends.
func (g *group) run(name string, f func(context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		err := f(g.ctx)
		if err == nil && g.ctx.Err() == nil {
			err = fmt.Errorf("%s stopped", name)
		} else if err != nil {
			err = fmt.Errorf("%s: %w", name, err)
		}
		if err != nil && g.ctx.Err() == nil {
			g.mu.Lock()
			if g.err == nil {
				g.err = err
				g.log.Error("head node part failed; stopping", "err", err)
			}
			g.mu.Unlock()
		}
		g.halt()
	}()
}

func (g *group) halt() {
	g.once.Do(func() {
		g.cancel()
		close(g.stopped)
	})
}

// Err is the first part's error.
func (g *group) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// stop cancels every part, waits for them and returns the first error.
func (g *group) stop() error {
	g.halt()
	g.wg.Wait()
	return g.Err()
}

// faultKinds serves GET /api/v1/fault-kinds: the kinds this head node can
// inject.
type faultKinds struct{ m *faults.Manager }

func (h faultKinds) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	out := []faults.Info{}
	for _, k := range h.m.Kinds() {
		out = append(out, k.Info())
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
