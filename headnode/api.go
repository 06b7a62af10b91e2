package headnode

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/jsonapi"
)

// apiError is an error with the HTTP status it maps to.
type apiError struct {
	status int
	msg    string
}

func (e apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// statusOf maps an error to its HTTP status: the one place that decides.
func statusOf(err error) int {
	var ae apiError
	switch {
	case errors.As(err, &ae):
		return ae.status
	case errors.Is(err, ErrUnknownNode):
		return http.StatusNotFound
	case errors.Is(err, ErrPowerUnchanged), errors.Is(err, ErrPowerBusy):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, status int, v any) { jsonapi.Write(w, status, v) }

func writeError(w http.ResponseWriter, err error) { jsonapi.Error(w, statusOf(err), err) }

// Handler returns the head node's HTTP API. Extra routes (dashboard,
// metrics, probe) are mounted by the caller on the returned mux.
func (h *HeadNode) Handler() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/state", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, h.State())
	})
	mux.Handle("POST /api/v1/nodes/{name}/power", h.RequireOperator(http.HandlerFunc(h.handlePower)))
	return mux
}

// RequireOperator lets a request through only with the operator token.
func (h *HeadNode) RequireOperator(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !TokenOK(r, h.o.OperatorToken) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="redswitch"`)
			writeError(w, apiError{http.StatusUnauthorized, "operator token required: Authorization: Bearer <token>"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TokenOK reports whether the request carries the token, compared in
// constant time. An empty configured token lets nothing through.
func TokenOK(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// DecodePowerRequest parses and checks a power request body.
func DecodePowerRequest(r io.Reader) (headnodeapi.PowerRequest, error) {
	on, err := decodeOn(r)
	return headnodeapi.PowerRequest{On: on}, err
}

// decodeOn parses the {"on": true|false} body that power and switch
// requests share.
func decodeOn(r io.Reader) (*bool, error) {
	var req struct {
		On *bool `json:"on"`
	}
	if err := jsonapi.DecodeStrict(r, 4096, &req); err != nil {
		return nil, badRequest("body: want {\"on\": true} or {\"on\": false}: %v", err)
	}
	if req.On == nil {
		return nil, badRequest("body: field \"on\" is required (true or false)")
	}
	return req.On, nil
}

func (h *HeadNode) handlePower(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !h.hasMember(name) {
		writeError(w, fmt.Errorf("%w: %q", ErrUnknownNode, name))
		return
	}
	req, err := DecodePowerRequest(r.Body)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := h.ChangePower(r.Context(), name, *req.On, "api"); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"node": name, "on": *req.On})
}
