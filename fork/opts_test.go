package fork

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePostmasterOpts(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Setting
		wantErr string
	}{
		{
			name: "patroni",
			in:   `/usr/lib/postgresql/15/bin/postgres "-D" "/data/pg" "--config-file=/data/pg/postgresql.conf" "--listen_addresses=0.0.0.0" "--port=5432" "--cluster_name=demo" "--wal_level=replica" "--hot_standby=on" "--max_connections=100"` + "\n",
			want: []Setting{{"config_file", "/data/pg/postgresql.conf"}, {"listen_addresses", "0.0.0.0"}, {"port", "5432"},
				{"cluster_name", "demo"}, {"wal_level", "replica"}, {"hot_standby", "on"}, {"max_connections", "100"}},
		},
		{
			name: "pg_ctl default",
			in:   `/usr/lib/postgresql/15/bin/postgres "-D" "/tmp/x y"`,
			want: nil,
		},
		{
			name: "short options",
			in:   `/bin/postgres "-D" "/d" "-p" "5433" "-k/tmp" "-c" "work_mem=4MB" "-cshared_buffers=1GB" "-i" "-N" "50"`,
			want: []Setting{{"port", "5433"}, {"unix_socket_directories", "/tmp"}, {"work_mem", "4MB"}, {"shared_buffers", "1GB"},
				{"listen_addresses", "*"}, {"max_connections", "50"}},
		},
		{name: "empty", in: "  \n", wantErr: "empty"},
		{name: "unterminated", in: `/bin/postgres "-D`, wantErr: "unterminated"},
		{name: "unknown", in: `/bin/postgres "-X"`, wantErr: `argument 1 "-X": unsupported`},
		{name: "dangling -c", in: `/bin/postgres "-c"`, wantErr: "-c without a value"},
		{name: "long without value", in: `/bin/postgres "--port"`, wantErr: "want --name=value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePostmasterOpts(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzParsePostmasterOpts(f *testing.F) {
	f.Add(`/usr/bin/postgres "-D" "/d" "--port=5"`)
	f.Add(`p "-c" "a=b" "-p"`)
	f.Add(`"`)
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParsePostmasterOpts(in)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "postmaster.opts: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, s := range got {
			if s.Key == "" {
				t.Fatalf("empty key in %v", got)
			}
		}
	})
}
