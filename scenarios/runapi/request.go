package runapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// RunRequest is the body of POST /api/v1/scenarios/run.
type RunRequest struct {
	// Name is a library scenario's name, e.g. "primary-power-cut".
	Name string `json:"name"`
}

// Limits of a run request.
const (
	// MaxRequestBytes bounds the body read; a larger body is refused.
	MaxRequestBytes = 4096
	// MaxNameLen bounds a scenario name; library names are far shorter.
	MaxNameLen = 128
)

// DecodeRunRequest parses a run request strictly: one JSON object with a
// non-empty "name" and nothing else, no trailing data. Every error wraps
// ErrBadRequest and names the problem.
func DecodeRunRequest(r io.Reader) (RunRequest, error) {
	var req RunRequest
	body, err := io.ReadAll(io.LimitReader(r, MaxRequestBytes+1))
	if err != nil {
		return req, fmt.Errorf("%w: read body: %v", ErrBadRequest, err)
	}
	if len(body) > MaxRequestBytes {
		return req, fmt.Errorf("%w: body larger than %d bytes", ErrBadRequest, MaxRequestBytes)
	}
	if strings.TrimSpace(string(body)) == "" {
		return req, fmt.Errorf("%w: empty body: want {\"name\": \"<scenario>\"}", ErrBadRequest)
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return RunRequest{}, fmt.Errorf("%w: body: want {\"name\": \"<scenario>\"}: %v", ErrBadRequest, err)
	}
	if err := dec.Decode(new(json.RawMessage)); !errors.Is(err, io.EOF) {
		return RunRequest{}, fmt.Errorf("%w: body: trailing data after the JSON object", ErrBadRequest)
	}
	switch {
	case req.Name == "":
		return RunRequest{}, fmt.Errorf("%w: body: field \"name\" is required (GET /api/v1/scenarios lists them)", ErrBadRequest)
	case len(req.Name) > MaxNameLen:
		return RunRequest{}, fmt.Errorf("%w: body: name longer than %d bytes", ErrBadRequest, MaxNameLen)
	case !utf8.ValidString(req.Name) || strings.ContainsFunc(req.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return RunRequest{}, fmt.Errorf("%w: body: name %q has control characters", ErrBadRequest, req.Name)
	}
	return req, nil
}
