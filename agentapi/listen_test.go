package agentapi

import (
	"strings"
	"testing"
)

func TestParseListen(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"", "", ""},
		{"localhost", "localhost", ""},
		{"*", "*", ""},
		{" 10.0.0.5 , 127.0.0.1", "10.0.0.5,127.0.0.1", ""},
		{"::1", "::1", ""},
		{"10.0.0.5; rm -rf /", "", "is not an IP address"},
		{"0.0.0.0,1,2,3,4,5,6,7,8", "", "at most 8"},
		{"host.example", "", "is not an IP address"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseListen(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseListen(%q) = %q, %v; want error %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseListen(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// FuzzParseListen: whatever it accepts is safe as a setting's value in
// postgresql.auto.conf (no quote, newline or space) and parses again to
// itself.
func FuzzParseListen(f *testing.F) {
	for _, s := range []string{"", "*", "localhost", "10.0.0.1,::1", "1.2.3.4'\n", "a,b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseListen(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(got, "' \n\r\t\\") {
			t.Fatalf("ParseListen(%q) = %q: unsafe in a setting", s, got)
		}
		again, err := ParseListen(got)
		if err != nil || again != got {
			t.Fatalf("ParseListen(%q) = %q, then %q, %v", s, got, again, err)
		}
	})
}
