package fork

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestWithPort(t *testing.T) {
	tests := []struct {
		dsn     string
		port    int
		want    string
		wantErr string
	}{
		{"host=127.0.0.1 port=5432 user=postgres", 6001, "host=127.0.0.1 user=postgres port=6001", ""},
		{"host=/var/run/postgresql user=postgres", 6001, "host=/var/run/postgresql user=postgres port=6001", ""},
		{"host = 'a b' password='it\\'s'", 7, `host='a b' password='it\'s' port=7`, ""},
		{"postgres://u:p@10.0.0.1:5432/db?sslmode=disable", 6001, "postgres://u:p@10.0.0.1:6001/db?sslmode=disable", ""},
		{"postgresql://u@[::1]/db", 6001, "postgresql://u@[::1]:6001/db", ""},
		{"postgres:///db?host=/tmp&port=5432", 6001, "postgres:///db?host=%2Ftmp&port=6001", ""},
		{"postgres://a,b/db", 6001, "", "multi-host"},
		{"host=a,b port=1,2", 6001, "", "multi-host"},
		{"host", 6001, "", "want keyword=value"},
		{"password='open", 6001, "", "unterminated"},
		{"host=a", 0, "", "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			got, err := WithPort(tt.dsn, tt.port)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// FuzzWithPort: whenever pgx accepts the input and WithPort succeeds, pgx
// must read the result with the new port and the same host and user.
func FuzzWithPort(f *testing.F) {
	f.Add("host=127.0.0.1 port=5432 user=postgres dbname=x")
	f.Add("postgres://u:p@h:1/db?sslmode=disable")
	f.Add("host='a b' password='x\\'y'")
	f.Fuzz(func(t *testing.T, dsn string) {
		in, err := pgx.ParseConfig(dsn)
		if err != nil || len(in.Fallbacks) > 0 {
			return
		}
		out, err := WithPort(dsn, 6543)
		if err != nil {
			return
		}
		got, err := pgx.ParseConfig(out)
		if err != nil {
			t.Fatalf("WithPort(%q) = %q, which pgx rejects: %v", dsn, out, err)
		}
		if got.Port != 6543 || got.Host != in.Host || got.User != in.User || got.Database != in.Database || got.Password != in.Password {
			t.Fatalf("WithPort(%q) = %q: got %s:%d %s/%s, want %s:6543 %s/%s", dsn, out, got.Host, got.Port, got.User, got.Database, in.Host, in.User, in.Database)
		}
	})
}
