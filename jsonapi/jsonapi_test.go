package jsonapi

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
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

func TestDecodeStrict(t *testing.T) {
	type req struct {
		On *bool `json:"on"`
	}
	tests := []struct {
		name, body string
		err        string
	}{
		{"ok", `{"on": true}`, ""},
		{"ok with space", " {\"on\": false} \n", ""},
		{"stray brace", `{"on": true}}`, "trailing data"},
		{"stray bracket", `{"on": true}]`, "trailing data"},
		{"second object", `{"on": true}{"on": false}`, "trailing data"},
		{"garbage after", `{"on": true} x`, "trailing data"},
		{"unknown field", `{"on": true, "off": 1}`, "unknown field"},
		{"not json", `on`, "invalid character"},
		{"empty", ``, "EOF"},
		{"too big", `{"on": true}` + strings.Repeat(" ", 100), "larger than 64 bytes"},
		{"too big inside", `{"on": true, "x": "` + strings.Repeat("a", 100) + `"}`, "larger than 64 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r req
			err := DecodeStrict(strings.NewReader(tt.body), 64, &r)
			if tt.err == "" {
				if err != nil || r.On == nil {
					t.Fatalf("DecodeStrict(%q) = %v, %+v", tt.body, err, r)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("DecodeStrict(%q) = %v, want error with %q", tt.body, err, tt.err)
			}
		})
	}
}

func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{`{"on": true}`, `{"on": true}}`, `[]`, `{"on": null}`, ` `} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var v struct {
			On *bool `json:"on"`
		}
		if err := DecodeStrict(strings.NewReader(body), 4096, &v); err == nil {
			// Accepted: exactly one JSON value, nothing after it.
			if !json.Valid([]byte(body)) {
				t.Fatalf("accepted %q, which is not one JSON value", body)
			}
		}
	})
}
