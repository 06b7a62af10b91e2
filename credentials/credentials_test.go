package credentials

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct{ pw, want string }{
		{"", "empty password"},
		{"postgres", `well-known password "postgres"`},
		{"Postgres", "well-known"},
		{"replicator", "well-known"},
		{"short-pw", "shorter than 12"},
		{"0123456789abcdef", ""},
	}
	for _, tt := range tests {
		t.Run(tt.pw, func(t *testing.T) {
			err := Check("superuser", tt.pw)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "superuser: ") {
				t.Fatalf("Check = %v, want superuser: ...%s", err, tt.want)
			}
		})
	}
}

func TestEnsureKeepsWhatExists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	a, err := Ensure(dir, []string{"n1", "n2"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Superuser == a.Replication || len(a.Superuser) != 48 {
		t.Fatalf("passwords not random: %+v", a)
	}
	fi, err := os.Stat(filepath.Join(dir, File))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file mode: %v %v", fi, err)
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Fatalf("secrets dir mode %v", di.Mode().Perm())
	}
	b, err := Ensure(dir, []string{"n1", "n2", "n3"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Superuser != a.Superuser || b.EtcdAgents["n1"] != a.EtcdAgents["n1"] {
		t.Fatal("a second Ensure changed a secret the nodes already use")
	}
	if b.EtcdAgents["n3"] == "" {
		t.Fatal("a new node got no etcd password")
	}
}

func TestEnsureRefusesWeakFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, File), []byte(`{"superuser": "postgres"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Ensure(dir, nil)
	if err == nil || !strings.Contains(err.Error(), "booth.json: superuser: refusing the well-known password") {
		t.Fatalf("Ensure = %v", err)
	}
}

func TestNodeBundleRoundTrip(t *testing.T) {
	b := New([]string{"n1", "n2"})
	dir := t.TempDir()
	if err := WriteNodes(dir, b, []string{"n1", "n2"}, "-----BEGIN CERTIFICATE-----\n"); err != nil {
		t.Fatal(err)
	}
	n, err := ReadNode(filepath.Join(dir, NodesDir, "n2.json"))
	if err != nil {
		t.Fatal(err)
	}
	if n.Name != "n2" || n.EtcdUser != "agent-n2" || n.EtcdPassword != b.EtcdAgents["n2"] || n.PatroniEtcdUser != EtcdPatroniUser {
		t.Fatalf("bundle %+v", n)
	}
	if n.EtcdPassword == b.EtcdAgents["n1"] {
		t.Fatal("n2's bundle holds n1's etcd password")
	}
	plain := b.Node("n1", "")
	if plain.EtcdUser != "" || plain.EtcdPassword != "" {
		t.Fatal("a plain-etcd bundle carries an etcd login, which would cross the LAN in clear")
	}
}

func TestParseNodeRejects(t *testing.T) {
	good := `{"name":"n1","superuser_password":"0123456789abcdef","replication_password":"0123456789abcdef","rewind_password":"0123456789abcdef","rest_user":"redswitch","rest_password":"0123456789abcdef"`
	tests := []struct{ name, src, want string }{
		{"trailing brace", good + "}}", "trailing data"},
		{"unknown field", good + `,"extra":1}`, "unknown field"},
		{"default superuser", strings.Replace(good, `"superuser_password":"0123456789abcdef"`, `"superuser_password":"postgres"`, 1) + "}", "superuser_password: refusing"},
		{"ca without etcd user", good + `,"etcd_ca":"x"}`, "etcd_user: empty while etcd_ca is set"},
		{"no rest user", strings.Replace(good, `"rest_user":"redswitch"`, `"rest_user":""`, 1) + "}", "rest_user: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseNode([]byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseNode = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := ParseNode([]byte(good + "}")); err != nil {
		t.Fatalf("good bundle: %v", err)
	}
}

func FuzzParseNode(f *testing.F) {
	f.Add([]byte(`{"name":"n1","superuser_password":"0123456789abcdef"}`))
	f.Add([]byte(`{"etcd_ca":"x","etcd_user":"a"}]`))
	f.Fuzz(func(t *testing.T, src []byte) {
		n, err := ParseNode(src)
		if err != nil {
			return
		}
		if Check("superuser", n.SuperuserPassword) != nil {
			t.Fatalf("accepted a weak superuser password %q", n.SuperuserPassword)
		}
	})
}

// TestEnsureSetKeepsTheCA: a later call naming a new host (the demo's
// gateway, the head node's addresses) keeps the CA the nodes trust.
func TestEnsureSetKeepsTheCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	a, err := EnsureSet(dir, []string{"n1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := EnsureSet(dir, []string{"n1"}, []string{"172.30.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if a.CA == "" || a.CA != b.CA || a.Superuser != b.Superuser {
		t.Fatal("a second EnsureSet changed the CA or a secret")
	}
	if b.PKI.ServerCert != filepath.Join(dir, "pki", "etcd-server.crt") {
		t.Fatalf("server certificate at %s", b.PKI.ServerCert)
	}
}
