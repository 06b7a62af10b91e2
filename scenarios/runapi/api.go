package runapi

import (
	"errors"
	"net"
	"net/http"

	"github.com/redswitch/redswitch/jsonapi"
)

// statusOf maps an error to its HTTP status: the one place that decides.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnknownScenario), errors.Is(err, ErrUnknownRun):
		return http.StatusNotFound
	case errors.Is(err, ErrBusy), errors.Is(err, ErrFinished):
		return http.StatusConflict
	case errors.Is(err, ErrShape):
		return http.StatusUnprocessableEntity
	case errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, status int, v any) { jsonapi.Write(w, status, v) }

// errorBody is {"error": "..."} plus, where there is one, the run in the
// way (409 busy) or what the cluster lacks (422).
type errorBody struct {
	Error string   `json:"error"`
	Run   *Run     `json:"run,omitempty"`
	Unmet []string `json:"unmet,omitempty"`
}

func writeError(w http.ResponseWriter, err error) {
	body := errorBody{Error: err.Error()}
	var be *busyError
	if errors.As(err, &be) {
		body.Run = &be.run
	}
	var se *shapeError
	if errors.As(err, &se) {
		body.Unmet = se.unmet
	}
	writeJSON(w, statusOf(err), body)
}

// selfURL is the head node's base URL as r reached it: the local address
// of r's connection, which the head node can always call itself, even
// when it listens on every interface or behind a name only the browser
// knows.
func selfURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok && a.Network() == "tcp" {
		return scheme + "://" + a.String()
	}
	return scheme + "://" + r.Host
}

// Mount adds the scenario-run API to mux; starting and cancelling a run
// go through guard (the head node's operator check), reading does not:
//
//	GET    /api/v1/scenarios            the scenarios, with whether this cluster can run each
//	POST   /api/v1/scenarios/run        {"name": "..."} → 202 and the run
//	GET    /api/v1/scenarios/runs       the kept runs, newest first
//	GET    /api/v1/scenarios/runs/{id}  one run
//	DELETE /api/v1/scenarios/runs/{id}  cancel it → 202 and the run
func (s *Service) Mount(mux *http.ServeMux, guard func(http.Handler) http.Handler) {
	mux.HandleFunc("GET /api/v1/scenarios", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Scenarios())
	})
	mux.Handle("POST /api/v1/scenarios/run", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := DecodeRunRequest(r.Body)
		if err != nil {
			writeError(w, err)
			return
		}
		run, err := s.Start(req.Name, selfURL(r))
		if err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("Location", "/api/v1/scenarios/runs/"+run.ID)
		writeJSON(w, http.StatusAccepted, run)
	})))
	mux.HandleFunc("GET /api/v1/scenarios/runs", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Runs())
	})
	mux.HandleFunc("GET /api/v1/scenarios/runs/{id}", func(w http.ResponseWriter, r *http.Request) {
		run, err := s.Get(r.PathValue("id"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, run)
	})
	mux.Handle("DELETE /api/v1/scenarios/runs/{id}", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		run, err := s.Cancel(r.PathValue("id"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusAccepted, run)
	})))
}
