// Package credentials generates and keeps a booth's secrets: the
// PostgreSQL passwords (superuser, replication, rewind, the commit probe's
// own role), Patroni's REST API login and the etcd users. The head node
// keeps them all in one file of its data directory; each database node
// gets a bundle with only what it needs, to copy onto the machine.
package credentials

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/redswitch/redswitch/jsonapi"
	"github.com/redswitch/redswitch/pki"
)

// Users the secrets log in as. The superuser stays "postgres": Patroni,
// pg_rewind and the fork tooling expect the cluster's owner.
const (
	SuperuserName   = "postgres"
	ReplicationUser = "replicator"
	RewindUser      = "rewinder"
	// ProbeRole is the commit probe's login: it may read and insert into
	// its table and nothing else.
	ProbeRole = "redswitch_probe"
	// RESTUser guards Patroni's unsafe REST endpoints (POST /failover,
	// /restart, /reinitialize ...). GET and HEAD, HAProxy's checks among
	// them, need no login.
	RESTUser = "redswitch"
	// EtcdPatroniUser is the etcd user Patroni logs in as: read and write
	// under its scope only.
	EtcdPatroniUser = "patroni"
	// EtcdRootUser is the head node's etcd login.
	EtcdRootUser = "root"
)

// EtcdAgentUser is node's agent's etcd user: it may write its own key only.
func EtcdAgentUser(node string) string { return "agent-" + node }

// Booth is every secret of one booth.
type Booth struct {
	Superuser   string `json:"superuser"`
	Replication string `json:"replication"`
	Rewind      string `json:"rewind"`
	REST        string `json:"patroni_rest"`
	Probe       string `json:"probe"`
	EtcdRoot    string `json:"etcd_root"`
	EtcdPatroni string `json:"etcd_patroni"`
	// EtcdAgents maps a node's name to its agent's etcd password.
	EtcdAgents map[string]string `json:"etcd_agents"`
}

// Node is what one database node needs, written as one JSON file.
type Node struct {
	Name string `json:"name"`
	// EtcdCA is the PEM of the CA that signed etcd's certificate; empty
	// when etcd speaks plain HTTP (the container demo).
	EtcdCA              string `json:"etcd_ca,omitempty"`
	EtcdUser            string `json:"etcd_user,omitempty"`
	EtcdPassword        string `json:"etcd_password,omitempty"`
	PatroniEtcdUser     string `json:"patroni_etcd_user,omitempty"`
	PatroniEtcdPassword string `json:"patroni_etcd_password,omitempty"`
	SuperuserPassword   string `json:"superuser_password"`
	ReplicationPassword string `json:"replication_password"`
	RewindPassword      string `json:"rewind_password"`
	RESTUser            string `json:"rest_user"`
	RESTPassword        string `json:"rest_password"`
}

// File is where a booth's secrets live inside dir (the head node's
// secrets directory).
const File = "booth.json"

// Password returns a new random password: 24 random bytes, hex, so it
// needs no quoting in a DSN, a YAML file or SQL.
func Password() string {
	b := make([]byte, 24)
	rand.Read(b) // never fails (Go 1.24: it crashes the program rather than return weak bytes)
	return hex.EncodeToString(b)
}

// weak are passwords anyone would try first.
var weak = []string{"postgres", "replicator", "password", "secret", "admin", "root", "patroni", "redswitch"}

// Check refuses a password a visitor would guess: empty, a well-known
// default or shorter than 12 characters. field names it in the error.
func Check(field, pw string) error {
	switch {
	case pw == "":
		return fmt.Errorf("%s: empty password", field)
	case slices.Contains(weak, strings.ToLower(pw)):
		return fmt.Errorf("%s: refusing the well-known password %q", field, pw)
	case len(pw) < 12:
		return fmt.Errorf("%s: password shorter than 12 characters", field)
	}
	return nil
}

// Ensure reads dir/booth.json, generating every missing secret (and one
// per node in nodes) and writing the file back (0600, dir 0700) when
// anything was added. A secret already there is never changed: the nodes
// already use it.
func Ensure(dir string, nodes []string) (Booth, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Booth{}, fmt.Errorf("secrets dir: %w", err)
	}
	path := filepath.Join(dir, File)
	var b Booth
	src, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(src, &b); err != nil {
			return Booth{}, fmt.Errorf("%s: %w", path, err)
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return Booth{}, fmt.Errorf("secrets: %w", err)
	}
	changed := b.fill(nodes)
	if err := b.Validate(); err != nil {
		return Booth{}, fmt.Errorf("%s: %w", path, err)
	}
	if changed {
		out, _ := json.MarshalIndent(b, "", "  ")
		if err := writeFile(path, append(out, '\n')); err != nil {
			return Booth{}, err
		}
	}
	return b, nil
}

// New generates every secret of a booth with nodes, kept nowhere: the
// container demo's, which lives as long as its containers.
func New(nodes []string) Booth {
	var b Booth
	b.fill(nodes)
	return b
}

// fill generates the missing secrets and reports whether there were any.
func (b *Booth) fill(nodes []string) bool {
	changed := false
	for _, p := range []*string{&b.Superuser, &b.Replication, &b.Rewind, &b.REST, &b.Probe, &b.EtcdRoot, &b.EtcdPatroni} {
		if *p == "" {
			*p, changed = Password(), true
		}
	}
	if b.EtcdAgents == nil {
		b.EtcdAgents = map[string]string{}
	}
	for _, n := range nodes {
		if b.EtcdAgents[n] == "" {
			b.EtcdAgents[n], changed = Password(), true
		}
	}
	return changed
}

// Validate refuses a weak secret, naming its field.
func (b Booth) Validate() error {
	for _, f := range []struct{ name, pw string }{
		{"superuser", b.Superuser}, {"replication", b.Replication}, {"rewind", b.Rewind},
		{"patroni_rest", b.REST}, {"probe", b.Probe}, {"etcd_root", b.EtcdRoot}, {"etcd_patroni", b.EtcdPatroni},
	} {
		if err := Check(f.name, f.pw); err != nil {
			return err
		}
	}
	for n, pw := range b.EtcdAgents {
		if err := Check("etcd_agents."+n, pw); err != nil {
			return err
		}
	}
	return nil
}

// Node is the bundle for node: caPEM is etcd's CA (empty for plain HTTP).
func (b Booth) Node(name, caPEM string) Node {
	n := Node{Name: name, SuperuserPassword: b.Superuser, ReplicationPassword: b.Replication,
		RewindPassword: b.Rewind, RESTUser: RESTUser, RESTPassword: b.REST, EtcdCA: caPEM}
	if caPEM != "" {
		n.EtcdUser, n.EtcdPassword = EtcdAgentUser(name), b.EtcdAgents[name]
		n.PatroniEtcdUser, n.PatroniEtcdPassword = EtcdPatroniUser, b.EtcdPatroni
	}
	return n
}

// WriteNode writes n as JSON to path, readable by its owner only.
func WriteNode(path string, n Node) error {
	out, _ := json.MarshalIndent(n, "", "  ")
	return writeFile(path, append(out, '\n'))
}

// ReadNode reads a node's bundle and refuses one with a weak password or
// half an etcd login, naming the file and field.
func ReadNode(path string) (Node, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Node{}, fmt.Errorf("credentials: %w", err)
	}
	n, err := ParseNode(src)
	if err != nil {
		return Node{}, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

// ParseNode decodes and checks a node's bundle.
func ParseNode(src []byte) (Node, error) {
	var n Node
	if err := jsonapi.DecodeStrict(bytes.NewReader(src), 1<<20, &n); err != nil {
		return Node{}, err
	}
	for _, f := range []struct{ name, pw string }{
		{"superuser_password", n.SuperuserPassword}, {"replication_password", n.ReplicationPassword},
		{"rewind_password", n.RewindPassword}, {"rest_password", n.RESTPassword},
	} {
		if err := Check(f.name, f.pw); err != nil {
			return Node{}, err
		}
	}
	if n.RESTUser == "" {
		return Node{}, errors.New("rest_user: empty")
	}
	if n.EtcdCA != "" {
		for _, f := range []struct{ name, v string }{
			{"etcd_user", n.EtcdUser}, {"patroni_etcd_user", n.PatroniEtcdUser},
		} {
			if f.v == "" {
				return Node{}, fmt.Errorf("%s: empty while etcd_ca is set", f.name)
			}
		}
		if err := Check("etcd_password", n.EtcdPassword); err != nil {
			return Node{}, err
		}
		if err := Check("patroni_etcd_password", n.PatroniEtcdPassword); err != nil {
			return Node{}, err
		}
	}
	return n, nil
}

// writeFile replaces path atomically with mode 0600.
func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// NodesDir is where, inside the secrets dir, each node's bundle is
// written for the crew to copy onto the node
// (/etc/redswitch/credentials.json there).
const NodesDir = "nodes"

// WriteNodes writes every node's bundle into dir/nodes/NAME.json.
func WriteNodes(dir string, b Booth, nodes []string, caPEM string) error {
	nd := filepath.Join(dir, NodesDir)
	if err := os.MkdirAll(nd, 0o700); err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	for _, n := range nodes {
		if err := WriteNode(filepath.Join(nd, n+".json"), b.Node(n, caPEM)); err != nil {
			return err
		}
	}
	return nil
}

// Set is a booth's secrets with etcd's certificates: what the head node,
// `booth up` and the demo all make on first start.
type Set struct {
	Booth
	// PKI are the booth CA's and etcd's certificate files (dir/pki).
	PKI pki.Files
	// CA is the CA certificate's PEM, which every node's bundle carries.
	CA string
}

// EnsureSet is Ensure on dir, and the booth CA with an etcd certificate
// naming hosts in dir/pki (pki.Ensure: made once, the certificate
// re-issued from the same CA for a new host).
func EnsureSet(dir string, nodes, hosts []string) (Set, error) {
	b, err := Ensure(dir, nodes)
	if err != nil {
		return Set{}, err
	}
	files, err := pki.Ensure(filepath.Join(dir, "pki"), hosts)
	if err != nil {
		return Set{}, fmt.Errorf("etcd certificates: %w", err)
	}
	ca, err := os.ReadFile(files.CACert)
	if err != nil {
		return Set{}, fmt.Errorf("etcd CA: %w", err)
	}
	return Set{Booth: b, PKI: files, CA: string(ca)}, nil
}
