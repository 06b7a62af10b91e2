package jsonapi

import (
	"errors"
	"net/http/httptest"
	"testing"
)

func TestWriteAndError(t *testing.T) {
	tests := []struct {
		name   string
		write  func(*httptest.ResponseRecorder)
		status int
		body   string
	}{
		{"value", func(r *httptest.ResponseRecorder) { Write(r, 201, map[string]int{"a": 1}) }, 201, "{\n  \"a\": 1\n}\n"},
		{"html kept", func(r *httptest.ResponseRecorder) { Write(r, 200, []string{"lost <= 0"}) }, 200, "[\n  \"lost <= 0\"\n]\n"},
		{"error", func(r *httptest.ResponseRecorder) { Error(r, 409, errors.New("busy")) }, 409, "{\n  \"error\": \"busy\"\n}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.write(rec)
			if rec.Code != tc.status || rec.Body.String() != tc.body || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %q %q", rec.Code, rec.Body.String(), rec.Header().Get("Content-Type"))
			}
		})
	}
}
