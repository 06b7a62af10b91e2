package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/credentials"
	"github.com/redswitch/redswitch/etcdaccess"
)

// etcdCAName is the file, next to patroni.yml, that the agent writes
// etcd's CA to: Patroni (user postgres) and the agent's own clients read it.
const etcdCAName = "etcd-ca.pem"

// applyCredentials puts a node's credentials bundle into o: PostgreSQL's
// passwords, the rewind role, Patroni's REST login and, when etcd speaks
// TLS, the CA (written to caDir) and Patroni's etcd login. It returns the
// agent's own way into etcd at o's endpoints (plain, no login, for a
// bundle without a CA).
func applyCredentials(n credentials.Node, o *cluster.PatroniOptions, caDir string) (etcdaccess.Access, error) {
	acc := etcdaccess.Access{Endpoints: o.Etcd}
	if n.Name != "" && n.Name != o.Name {
		return acc, fmt.Errorf("credentials are node %s's, this is %s", n.Name, o.Name)
	}
	o.SuperuserPassword, o.ReplicationPassword = n.SuperuserPassword, n.ReplicationPassword
	o.RewindUser, o.RewindPassword = credentials.RewindUser, n.RewindPassword
	o.RESTUser, o.RESTPassword = n.RESTUser, n.RESTPassword
	if n.EtcdCA == "" {
		return acc, nil
	}
	if err := os.MkdirAll(caDir, 0o755); err != nil {
		return acc, fmt.Errorf("etcd CA: %w", err)
	}
	caFile := filepath.Join(caDir, etcdCAName)
	// A certificate is public; Patroni runs as postgres and must read it.
	if err := os.WriteFile(caFile, []byte(n.EtcdCA), 0o644); err != nil {
		return acc, fmt.Errorf("etcd CA: %w", err)
	}
	o.EtcdCAFile, o.EtcdUser, o.EtcdPassword = caFile, n.PatroniEtcdUser, n.PatroniEtcdPassword
	acc.CAFile, acc.User, acc.Password = caFile, n.EtcdUser, n.EtcdPassword
	return acc, nil
}

// checkPasswords refuses to run a node on a password a visitor would try.
func checkPasswords(o cluster.PatroniOptions) error {
	for _, f := range []struct{ name, pw string }{
		{"--superuser-password", o.SuperuserPassword}, {"--replication-password", o.ReplicationPassword},
	} {
		if err := credentials.Check(f.name, f.pw); err != nil {
			return usagef("%v (give the node its credentials with --credentials, see redswitch booth up)", err)
		}
	}
	return nil
}
