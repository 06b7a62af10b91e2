package runapi

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDecodeRunRequest(t *testing.T) {
	tests := []struct {
		name, body string
		want       string // the name, or "" for an error
		err        string // part of the error
	}{
		{"ok", `{"name": "primary-power-cut"}`, "primary-power-cut", ""},
		{"whitespace around", " \n{\"name\":\"x\"}\n\t", "x", ""},
		{"empty body", ``, "", "empty body"},
		{"blank body", "  \n", "", "empty body"},
		{"not json", `name=x`, "", "invalid character"},
		{"array", `["x"]`, "", "cannot unmarshal array"},
		{"wrong type", `{"name": 7}`, "", "cannot unmarshal number"},
		{"unknown field", `{"name": "x", "force": true}`, "", `unknown field "force"`},
		{"misspelt field", `{"nmae": "x"}`, "", `unknown field "nmae"`},
		{"missing name", `{}`, "", `"name" is required`},
		{"null", `null`, "", `"name" is required`},
		{"empty name", `{"name": ""}`, "", `"name" is required`},
		{"trailing object", `{"name": "x"}{"name": "y"}`, "", "trailing data"},
		{"trailing garbage", `{"name": "x"} ]`, "", "trailing data"},
		{"truncated", `{"name": "x"`, "", "unexpected EOF"},
		{"too long a name", `{"name": "` + strings.Repeat("a", MaxNameLen+1) + `"}`, "", "longer than"},
		{"control character", `{"name": "a\u0007b"}`, "", "control characters"},
		{"too big a body", `{"name": "x"}` + strings.Repeat(" ", MaxRequestBytes), "", "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := DecodeRunRequest(strings.NewReader(tt.body))
			if tt.err == "" {
				if err != nil || req.Name != tt.want {
					t.Fatalf("DecodeRunRequest = %+v, %v; want name %q", req, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("DecodeRunRequest(%q) = %+v, want an error containing %q", tt.body, req, tt.err)
			}
			if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error = %v, want ErrBadRequest containing %q", err, tt.err)
			}
		})
	}
}

// FuzzDecodeRunRequest: any body either decodes to a usable name that
// survives a round trip, or is refused as a bad request; never a panic.
func FuzzDecodeRunRequest(f *testing.F) {
	for _, s := range []string{`{"name":"primary-power-cut"}`, `{}`, `null`, `{"name":"x"}{}`, `{"name":"x","y":1}`,
		`{"name":"\u0000"}`, `{"name":"\ud800"}`, `[`, ``, ` {"name" : "a b"} `} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req, err := DecodeRunRequest(strings.NewReader(body))
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v does not wrap ErrBadRequest", err)
			}
			if req != (RunRequest{}) {
				t.Fatalf("refused request came back filled: %+v", req)
			}
			return
		}
		if req.Name == "" || len(req.Name) > MaxNameLen || strings.ContainsAny(req.Name, "\x00\n\r") {
			t.Fatalf("accepted name %q", req.Name)
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeRunRequest(strings.NewReader(string(again)))
		if err != nil || back != req {
			t.Fatalf("round trip of %s = %+v, %v", again, back, err)
		}
	})
}
