package booth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProbeDSN(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	const head = `nodes:
  - {name: n1, address: 10.0.0.1, agent: "http://10.0.0.1:8010"}
switches:
  - {id: 1, node: n1, pin: 17}
power: agent
operator_token_env: OP
cluster_token_env: CL
gpio: {backend: rpio}
`
	tests := []struct {
		name, extra string
		want        string
		wantErr     string
	}{
		{"wildcard listen means loopback", "listen: {primary: \":5432\"}\n",
			"postgres://redswitch_probe:generated-0123@127.0.0.1:5432/postgres", ""},
		{"ipv4 wildcard", "listen: {primary: \"0.0.0.0:6000\"}\n",
			"postgres://redswitch_probe:generated-0123@127.0.0.1:6000/postgres", ""},
		{"listen host kept", "listen: {primary: \"192.168.50.2:5432\"}\n",
			"postgres://redswitch_probe:generated-0123@192.168.50.2:5432/postgres", ""},
		{"probe fields", "probe: {host: 10.0.0.9, port: 5000, user: probe, database: booth, password_file: " + pw + "}\n",
			"postgres://probe:s3cret-from-file@10.0.0.9:5000/booth", ""},
		{"dsn as given", "probe: {dsn: \"postgres://u:long-enough-pw@db:1/x\"}\n", "postgres://u:long-enough-pw@db:1/x", ""},
		{"superuser refused", "probe: {user: postgres}\n", "", "f.yaml:9: probe.user: the probe writes as its own role"},
		{"dsn with the default password refused", "probe: {dsn: \"postgres://postgres:postgres@db:1/x\"}\n", "", `probe.dsn: password: refusing the well-known password "postgres"`},
		{"missing password file", "probe:\n  password_file: " + filepath.Join(dir, "nope") + "\n",
			"", "f.yaml:10: probe.password_file:"},
		{"empty password file", "probe:\n  password_file: " + empty + "\n", "", "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("f.yaml", []byte(head+tt.extra))
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := c.ProbeDSN("generated-0123")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ProbeDSN = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
