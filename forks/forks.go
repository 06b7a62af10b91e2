// Package forks is the head node's side of database forks: it picks the
// node to fork (a streaming replica unless told), asks that node's agent,
// which makes the copy-on-write fork, records the fork in the journal, and
// serves the operator API.
package forks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/jsonapi"
)

// Errors a request can meet, mapped to HTTP statuses by statusOf.
var (
	ErrBadRequest  = errors.New("bad request")
	ErrUnknownNode = errors.New("unknown node")
	ErrUnknownFork = errors.New("unknown fork")
	ErrNoSource    = errors.New("no node to fork")
	ErrNameTaken   = errors.New("fork name taken")
)

// Agent is the part of a node agent's client forks use.
type Agent interface {
	CreateFork(ctx context.Context, req agentapi.ForkRequest) (agentapi.ForkInfo, error)
	Forks(ctx context.Context) ([]agentapi.ForkInfo, error)
	DestroyFork(ctx context.Context, name string) error
}

// Options wire the service to the head node.
type Options struct {
	// Agent returns the agent of a node, or an error for an unknown one.
	Agent func(node string) (Agent, error)
	// State is the head node's view of the cluster.
	State func() headnodeapi.State
	// Record appends to the journal.
	Record func(journal.Event) (journal.Event, error)
	Log    *slog.Logger
}

// listTimeout bounds the wait for one node's fork list.
const listTimeout = 3 * time.Second

// Service creates, lists and destroys forks across the cluster's nodes.
type Service struct {
	o Options
	// mu keeps one change at a time: two creations of one name on two
	// nodes must not both succeed.
	mu sync.Mutex
}

// New returns a fork service.
func New(o Options) *Service {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{o: o}
}

// CreateRequest is the body of POST /api/v1/forks.
type CreateRequest struct {
	// From is the node to fork; empty picks a streaming replica.
	From string `json:"from,omitempty"`
	Name string `json:"name"`
	Port int    `json:"port,omitempty"`
	// Listen is where the fork's server listens (agentapi.ParseListen);
	// empty: where the node's does.
	Listen string `json:"listen,omitempty"`
}

// DecodeCreateRequest parses a create request strictly.
func DecodeCreateRequest(r io.Reader) (CreateRequest, error) {
	var req CreateRequest
	if err := jsonapi.DecodeStrict(r, 64<<10, &req); err != nil {
		if errors.Is(err, io.EOF) {
			return req, fmt.Errorf("%w: empty body: want {\"name\": ..., \"from\": ...}", ErrBadRequest)
		}
		return req, fmt.Errorf("%w: fork request: %v", ErrBadRequest, err)
	}
	if req.Name == "" {
		return req, fmt.Errorf("%w: fork request: name: required", ErrBadRequest)
	}
	if req.Port < 0 || req.Port > 65535 {
		return req, fmt.Errorf("%w: fork request: port %d: want 1..65535, or none", ErrBadRequest, req.Port)
	}
	l, err := agentapi.ParseListen(req.Listen)
	if err != nil {
		return req, fmt.Errorf("%w: fork request: %v", ErrBadRequest, err)
	}
	req.Listen = l
	return req, nil
}

// PickSource chooses the node to fork: the named one, which must exist and
// run PostgreSQL, or a streaming replica: an asynchronous one before a
// synchronous standby, then the least lagging. A fork's I/O slows its
// node's WAL flush, which a synchronous standby's primary waits for on
// every commit: in `bench fork --sync` the primary's p99 during a fork was
// 57-66 ms against 17-22 ms with an asynchronous replica.
func PickSource(st headnodeapi.State, from string) (string, error) {
	if from != "" {
		for _, n := range st.Nodes {
			if n.Name != from {
				continue
			}
			if n.Power == "off" || (n.Role != cluster.RolePrimary && n.Role != cluster.RoleReplica) {
				return "", fmt.Errorf("%w: %s is %s (power %s): fork a running primary or replica", ErrNoSource, from, n.Role, n.Power)
			}
			return from, nil
		}
		return "", fmt.Errorf("%w: %q", ErrUnknownNode, from)
	}
	best, bestLag, bestSync := "", int64(-1), false
	for _, n := range st.Nodes {
		// Patroni 3.0 says "running" for a replica that replicates; later
		// versions say "streaming".
		if n.Role != cluster.RoleReplica || n.Power == "off" || (n.State != "running" && n.State != "streaming") {
			continue
		}
		lag := int64(0)
		if n.LagBytes != nil {
			lag = *n.LagBytes
		}
		if best == "" || (bestSync && !n.Sync) || (n.Sync == bestSync && lag < bestLag) {
			best, bestLag, bestSync = n.Name, lag, n.Sync
		}
	}
	if best == "" {
		return "", fmt.Errorf("%w: no streaming replica; name one with \"from\"", ErrNoSource)
	}
	return best, nil
}

// Create forks a node's database.
func (s *Service) Create(ctx context.Context, req CreateRequest) (agentapi.ForkInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	node, err := PickSource(s.o.State(), req.From)
	if err != nil {
		return agentapi.ForkInfo{}, err
	}
	existing, _ := s.list(ctx)
	for _, f := range existing {
		if f.Name == req.Name {
			return agentapi.ForkInfo{}, fmt.Errorf("%w: %q is a fork of %s", ErrNameTaken, req.Name, f.Node)
		}
	}
	a, err := s.o.Agent(node)
	if err != nil {
		return agentapi.ForkInfo{}, err
	}
	f, err := a.CreateFork(ctx, agentapi.ForkRequest{Name: req.Name, Port: req.Port, Listen: req.Listen})
	if err != nil {
		return agentapi.ForkInfo{}, fmt.Errorf("fork %s of %s: %w", req.Name, node, err)
	}
	s.record(journal.Event{Kind: journal.KindNode, Node: node, Source: "api", ID: f.Name, Timeline: f.Timeline,
		Detail: fmt.Sprintf("forked as %s (%s, writable in %.1f s%s, timeline %d)", f.Name, f.Method, f.ToWritableS, replayed(f), f.Timeline)})
	s.o.Log.Info("fork created", "node", node, "fork", f.Name, "method", f.Method, "to_writable_s", f.ToWritableS, "replay_bytes", f.ReplayBytes)
	return f, nil
}

// List asks every node that answers for its forks; a node that is down
// has its forks down with it, so it is skipped, not an error.
func (s *Service) List(ctx context.Context) ([]agentapi.ForkInfo, error) {
	return s.list(ctx)
}

func (s *Service) list(ctx context.Context) ([]agentapi.ForkInfo, error) {
	out := []agentapi.ForkInfo{}
	var errs []error
	answered := 0
	nodes := s.o.State().Nodes
	for _, n := range nodes {
		if n.Power == "off" {
			continue
		}
		a, err := s.o.Agent(n.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// A node that lost power does not answer at all: do not wait long.
		lctx, cancel := context.WithTimeout(ctx, listTimeout)
		fl, err := a.Forks(lctx)
		cancel()
		if err != nil {
			s.o.Log.Debug("no fork list from a node", "node", n.Name, "err", err)
			errs = append(errs, err)
			continue
		}
		answered++
		out = append(out, fl...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if answered == 0 && len(errs) > 0 {
		return out, fmt.Errorf("no agent answered: %w", errors.Join(errs...))
	}
	return out, nil
}

// Destroy stops a fork and deletes its data, on whichever node holds it.
func (s *Service) Destroy(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fl, err := s.list(ctx)
	if err != nil {
		return err
	}
	for _, f := range fl {
		if f.Name != name {
			continue
		}
		a, err := s.o.Agent(f.Node)
		if err != nil {
			return err
		}
		if err := a.DestroyFork(ctx, name); err != nil {
			return fmt.Errorf("destroy fork %s on %s: %w", name, f.Node, err)
		}
		s.record(journal.Event{Kind: journal.KindNode, Node: f.Node, Source: "api", ID: name,
			Detail: "fork " + name + " destroyed"})
		return nil
	}
	return fmt.Errorf("%w: %q", ErrUnknownFork, name)
}

func (s *Service) record(e journal.Event) {
	if s.o.Record == nil {
		return
	}
	if _, err := s.o.Record(e); err != nil {
		s.o.Log.Error("journal: fork event not recorded", "err", err)
	}
}

// statusOf maps an error to its HTTP status: the one place that decides.
func statusOf(err error) int {
	var se *agentapi.StatusError
	switch {
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnknownNode), errors.Is(err, ErrUnknownFork):
		return http.StatusNotFound
	case errors.Is(err, ErrNoSource), errors.Is(err, ErrNameTaken):
		return http.StatusConflict
	case errors.As(err, &se) && se.Code >= 400 && se.Code < 500:
		// The node refused (bad name, port taken, no PostgreSQL running).
		if se.Code == http.StatusBadRequest {
			return http.StatusBadRequest
		}
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, status int, v any) { jsonapi.Write(w, status, v) }

func writeError(w http.ResponseWriter, err error) { jsonapi.Error(w, statusOf(err), err) }

// Mount adds the forks API to mux, every route behind guard (the head
// node's operator check: a fork's DSN carries a password):
//
//	POST   /api/v1/forks         {"name", "from"?, "port"?} → 201 and the fork
//	GET    /api/v1/forks         every fork on the nodes that answer
//	DELETE /api/v1/forks/{name}  stops and deletes it → 200
func (s *Service) Mount(mux *http.ServeMux, guard func(http.Handler) http.Handler) {
	mux.Handle("POST /api/v1/forks", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := DecodeCreateRequest(r.Body)
		if err != nil {
			writeError(w, err)
			return
		}
		f, err := s.Create(r.Context(), req)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, f)
	})))
	mux.Handle("GET /api/v1/forks", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fl, err := s.List(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, fl)
	})))
	mux.Handle("DELETE /api/v1/forks/{name}", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimSpace(r.PathValue("name"))
		if err := s.Destroy(r.Context(), name); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"destroyed": name})
	})))
}

// replayed words the WAL a fork replayed, when known.
func replayed(f agentapi.ForkInfo) string {
	if mb := f.ReplayedMB(); mb != "" {
		return " after replaying " + mb + " of WAL"
	}
	return ""
}
