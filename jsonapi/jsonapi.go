// Package jsonapi writes the answers of the head node's HTTP APIs (state,
// faults, forks, scenario runs): indented JSON, and errors as
// {"error": "..."}, so every route answers alike.
package jsonapi

import (
	"encoding/json"
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
