// Package jsonapi writes the answers of the head node's HTTP APIs (state,
// faults, forks, scenario runs): indented JSON, and errors as
// {"error": "..."}, so every route answers alike; and it reads their
// request bodies the one strict way.
package jsonapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Write answers with v as indented JSON. HTML characters stay as they are:
// the texts hold "<=" and are read by people and by JSON parsers, never
// pasted into HTML.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// Error answers with {"error": err.Error()} and status.
func Error(w http.ResponseWriter, status int, err error) {
	Write(w, status, map[string]string{"error": err.Error()})
}

// DecodeStrict reads exactly one JSON value from r (at most limit bytes)
// into v: unknown fields, trailing data (a second value, or a stray "}"
// or "]", which Decoder.More does not see) and an oversized body are
// errors. The error says what was wrong, for a 400 answer.
func DecodeStrict(r io.Reader, limit int64, v any) error {
	lr := &io.LimitedReader{R: r, N: limit + 1}
	dec := json.NewDecoder(lr)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if lr.N <= 0 {
			return fmt.Errorf("body larger than %d bytes", limit)
		}
		return err
	}
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case lr.N <= 0:
		// The limit ends the body like an EOF would: checked first.
		return fmt.Errorf("body larger than %d bytes", limit)
	case errors.Is(err, io.EOF):
	default:
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
