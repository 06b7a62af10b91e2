package faults

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/jsonapi"
)

// statusOf maps an error to its HTTP status: the one place that decides.
func statusOf(err error) int {
	var se *agentapi.StatusError
	switch {
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnknownFault), errors.Is(err, ErrUnknownTarget):
		return http.StatusNotFound
	case errors.Is(err, ErrAlreadyActive), errors.Is(err, ErrNotActive), errors.Is(err, ErrNotRecoverable),
		errors.Is(err, ErrNoCandidate), errors.Is(err, ErrClosed):
		return http.StatusConflict
	case errors.As(err, &se) && se.Code >= 400 && se.Code < 500:
		// The node refused (PostgreSQL not running, disk too big): the
		// request does not fit the node's state now.
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, status int, v any) { jsonapi.Write(w, status, v) }

func writeError(w http.ResponseWriter, err error) { jsonapi.Error(w, statusOf(err), err) }

// Mount adds the faults API to mux, every route behind guard (the head
// node's operator check):
//
//	POST   /api/v1/faults       {"kind", "target", ...} → 201 and the fault
//	DELETE /api/v1/faults/{id}  recovers it → 200 and the fault
//	GET    /api/v1/faults       the active faults
//	GET    /api/v1/faults/{id}  one fault in any state, with the nodes
//	                            still to heal on power-on (pending)
func (m *Manager) Mount(mux *http.ServeMux, guard func(http.Handler) http.Handler) {
	mux.Handle("POST /api/v1/faults", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := DecodeRequest(r.Body, m.o.Kinds)
		if err != nil {
			writeError(w, err)
			return
		}
		f, err := m.Inject(r.Context(), req)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, f)
	})))
	mux.Handle("DELETE /api/v1/faults/{id}", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := m.Recover(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, f)
	})))
	mux.Handle("GET /api/v1/faults/{id}", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := m.Get(r.PathValue("id"))
		if !ok {
			writeError(w, fmt.Errorf("%w: %q", ErrUnknownFault, r.PathValue("id")))
			return
		}
		writeJSON(w, http.StatusOK, f)
	})))
	mux.Handle("GET /api/v1/faults", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, m.Active())
	})))
}
