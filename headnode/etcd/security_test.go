package etcd

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/redswitch/redswitch/etcdaccess"
	"github.com/redswitch/redswitch/pki"
)

// freeAddr is a loopback address nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// booth is one data directory with its certificates and addresses, which
// several servers in a row may start on.
type booth struct {
	dir, client, peer string
	files             pki.Files
}

func newBooth(t *testing.T) booth {
	t.Helper()
	files, err := pki.Ensure(filepath.Join(t.TempDir(), "pki"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return booth{dir: filepath.Join(t.TempDir(), "etcd"), client: freeAddr(t), peer: freeAddr(t), files: files}
}

func (b booth) security(users ...User) Security {
	return Security{CAFile: b.files.CACert, CertFile: b.files.ServerCert, KeyFile: b.files.ServerKey,
		RootPassword: "root-secret", Users: users}
}

func (b booth) start(t *testing.T, sec Security) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Dir: b.dir, ClientAddrs: []string{b.client}, PeerAddr: b.peer, Security: sec})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return s
}

func client(t *testing.T, a etcdaccess.Access) *clientv3.Client {
	t.Helper()
	cli, err := a.New(2 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func put(cli *clientv3.Client, key string, opts ...clientv3.OpOption) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := cli.Put(ctx, key, "v", opts...)
	return err
}

func get(cli *clientv3.Client, key string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	res, err := cli.Get(ctx, key)
	if err != nil || len(res.Kvs) == 0 {
		return "", err
	}
	return string(res.Kvs[0].Value), nil
}

// patroniUser and agentUser are the grants the booth gives: Patroni its
// scope, an agent its own key and its own node events.
var (
	patroniUser = PatroniUser("patroni", "p-secret", "redswitch")
	agentUser   = AgentUser("agent-n1", "a-secret", "redswitch", "n1")
)

// TestBoothUsers pins the grants the helpers give to the keys the tests
// below try.
func TestBoothUsers(t *testing.T) {
	want := []perm{{key: "/redswitch/redswitch/node-events/n1/", end: "/redswitch/redswitch/node-events/n10"},
		{key: "/service/redswitch/leader"}, {key: "/redswitch/redswitch/agents/n1"}}
	want[0].write, want[2].write = true, true
	got := agentUser.perms()
	if len(got) != 3 {
		t.Fatalf("agent perms = %+v", got)
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("agent perms %+v lack %+v", got, w)
		}
	}
	if p := patroniUser.perms(); len(p) != 1 || p[0] != (perm{key: "/service/redswitch/", end: "/service/redswitch0", write: true}) {
		t.Errorf("patroni perms = %+v", p)
	}
}

func TestPlainServerServesAnyone(t *testing.T) {
	b := newBooth(t)
	s := b.start(t, Security{})
	defer s.Close()
	if got := s.Endpoints(); len(got) != 1 || got[0] != "http://"+b.client {
		t.Fatalf("endpoints = %v, want http://%s", got, b.client)
	}
	if r := s.Root(); r.TLS() || r.User != "" {
		t.Fatalf("root access of a plain server = %+v, want anonymous plain", r)
	}
	if err := put(client(t, s.Root()), "/anything"); err != nil {
		t.Fatalf("anonymous put on a plain server: %v", err)
	}
}

func TestSecureServer(t *testing.T) {
	b := newBooth(t)
	s := b.start(t, b.security(patroniUser, agentUser))
	defer s.Close()
	if got := s.Endpoints(); got[0] != "https://"+b.client {
		t.Fatalf("endpoints = %v, want https", got)
	}

	t.Run("anonymous plain HTTP", func(t *testing.T) {
		c := &http.Client{Timeout: 3 * time.Second}
		res, err := c.Post("http://"+b.client+"/v3/kv/range", "application/json", strings.NewReader(`{"key":"Lw=="}`))
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				t.Fatal("plain HTTP range answered 200")
			}
		}
		plain := client(t, etcdaccess.Access{Endpoints: []string{b.client}})
		if err := put(plain, "/service/redswitch/x"); err == nil {
			t.Fatal("plain gRPC put accepted")
		}
	})
	t.Run("anonymous TLS", func(t *testing.T) {
		anon := client(t, s.Access("", ""))
		if err := put(anon, "/service/redswitch/x"); err == nil {
			t.Fatal("put without a user accepted")
		}
		if _, err := get(anon, "/service/redswitch/x"); err == nil {
			t.Fatal("get without a user accepted")
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		cli, err := s.Access("patroni", "guess").New(2 * time.Second)
		if err == nil {
			defer cli.Close()
			err = put(cli, "/service/redswitch/x")
		}
		if err == nil {
			t.Fatal("wrong password accepted")
		}
	})
	t.Run("patroni", func(t *testing.T) {
		cli := client(t, s.Access(patroniUser.Name, patroniUser.Password))
		if err := put(cli, "/service/redswitch/leader"); err != nil {
			t.Fatalf("put in scope: %v", err)
		}
		if v, err := get(cli, "/service/redswitch/leader"); err != nil || v != "v" {
			t.Fatalf("get in scope = %q, %v", v, err)
		}
		for _, k := range []string{"/service/other/x", "/redswitch/x", "/service/redswitch"} {
			if err := put(cli, k); !errors.Is(err, rpctypes.ErrPermissionDenied) {
				t.Errorf("put %s: err = %v, want permission denied", k, err)
			}
			if _, err := get(cli, k); !errors.Is(err, rpctypes.ErrPermissionDenied) {
				t.Errorf("get %s: err = %v, want permission denied", k, err)
			}
		}
	})
	t.Run("agent", func(t *testing.T) {
		cli := client(t, s.Access(agentUser.Name, agentUser.Password))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		lease, err := cli.Grant(ctx, 5)
		if err != nil {
			t.Fatalf("lease grant: %v", err)
		}
		if err := put(cli, "/redswitch/redswitch/agents/n1", clientv3.WithLease(lease.ID)); err != nil {
			t.Fatalf("put own key under a lease: %v", err)
		}
		if _, err := cli.KeepAliveOnce(ctx, lease.ID); err != nil {
			t.Fatalf("keepalive: %v", err)
		}
		if err := put(cli, "/redswitch/redswitch/node-events/n1/1"); err != nil {
			t.Fatalf("put own node event: %v", err)
		}
		if _, err := get(cli, "/service/redswitch/leader"); err != nil {
			t.Fatalf("read the leader key: %v", err)
		}
		for _, k := range []string{"/redswitch/redswitch/agents/n2", "/redswitch/redswitch/agents/n10",
			"/redswitch/redswitch/node-events/n2/1", "/service/redswitch/leader"} {
			if err := put(cli, k, clientv3.WithLease(lease.ID)); !errors.Is(err, rpctypes.ErrPermissionDenied) {
				t.Errorf("put %s: err = %v, want permission denied", k, err)
			}
		}
	})
	t.Run("root", func(t *testing.T) {
		cli := client(t, s.Root())
		for _, k := range []string{"/service/other/x", "/redswitch/x", "/service/redswitch/y"} {
			if err := put(cli, k); err != nil {
				t.Errorf("root put %s: %v", k, err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if _, err := cli.UserList(ctx); err != nil {
			t.Errorf("root user list: %v", err)
		}
	})
}

func TestSecureRestart(t *testing.T) {
	b := newBooth(t)
	s := b.start(t, b.security(patroniUser, agentUser))
	s.Close()

	// The same users again: nothing to change, everything still works.
	s = b.start(t, b.security(patroniUser, agentUser))
	if err := put(client(t, s.Access(patroniUser.Name, patroniUser.Password)), "/service/redswitch/a"); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	s.Close()

	// A new password, a prefix moved, and a user more.
	changed := patroniUser
	changed.Password = "new-secret"
	changed.ReadWrite = []string{"/service/other/"}
	extra := User{Name: "reader", Password: "r-secret", Read: []string{"/service/"}}
	s = b.start(t, b.security(changed, agentUser, extra))
	defer s.Close()
	cli := client(t, s.Access(changed.Name, changed.Password))
	if err := put(cli, "/service/other/a"); err != nil {
		t.Fatalf("new password, new prefix: %v", err)
	}
	if err := put(cli, "/service/redswitch/a"); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("revoked prefix: err = %v, want permission denied", err)
	}
	old, err := s.Access(patroniUser.Name, patroniUser.Password).New(2 * time.Second)
	if err == nil {
		defer old.Close()
		err = put(old, "/service/other/b")
	}
	if err == nil {
		t.Fatal("old password still accepted")
	}
	reader := client(t, s.Access(extra.Name, extra.Password))
	if _, err := get(reader, "/service/other/a"); err != nil {
		t.Fatalf("added user reads: %v", err)
	}
	if err := put(reader, "/service/other/a"); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("read-only user put: err = %v, want permission denied", err)
	}
}

func TestSecureRestartRefusals(t *testing.T) {
	b := newBooth(t)
	s := b.start(t, b.security(patroniUser))
	s.Close()
	tests := []struct {
		name string
		sec  Security
		want string
	}{
		{"auth dropped", Security{CAFile: b.files.CACert, CertFile: b.files.ServerCert, KeyFile: b.files.ServerKey},
			"no root password"},
		{"root password changed", Security{CAFile: b.files.CACert, CertFile: b.files.ServerCert, KeyFile: b.files.ServerKey,
			RootPassword: "other"}, "log in as root"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s, err := Start(ctx, Options{Dir: b.dir, ClientAddrs: []string{b.client}, PeerAddr: b.peer,
				Security: tc.sec, StartTimeout: 20 * time.Second})
			if err == nil {
				s.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestSecurityValidate(t *testing.T) {
	tests := []struct {
		name string
		sec  Security
		want string
	}{
		{"plain", Security{}, ""},
		{"auth without TLS", Security{RootPassword: "x"}, ""},
		{"TLS half set", Security{CertFile: "c"}, "TLS needs"},
		{"users without root", Security{Users: []User{{Name: "a", Password: "b"}}}, "root password"},
		{"user root", Security{RootPassword: "x", Users: []User{{Name: "root", Password: "b"}}}, "user root"},
		{"no password", Security{RootPassword: "x", Users: []User{{Name: "a"}}}, "empty password"},
		{"twice", Security{RootPassword: "x", Users: []User{{Name: "a", Password: "b"}, {Name: "a", Password: "c"}}}, "twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.sec.validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestUserPerms(t *testing.T) {
	u := User{Read: []string{"/a/", "/b/"}, ReadWrite: []string{"/a/"}, ReadWriteKeys: []string{"/k"}}
	got := u.perms()
	want := []perm{{key: "/a/", end: "/a0", write: true}, {key: "/b/", end: "/b0"}, {key: "/k", write: true}}
	if len(got) != len(want) {
		t.Fatalf("perms = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("perms = %+v, want %+v", got, want)
		}
	}
}

// TestEnsureUsersOnAnotherEtcd treats a server started with root alone as
// an external cluster: EnsureUsers makes Patroni's user there with its
// grants; on a cluster with authentication off it makes the user and says
// nothing guards it.
func TestEnsureUsersOnAnotherEtcd(t *testing.T) {
	ctx := context.Background()
	b := newBooth(t)
	s := b.start(t, b.security())
	defer s.Close()
	if err := EnsureUsers(ctx, s.Root(), []User{patroniUser}, nil); err != nil {
		t.Fatalf("EnsureUsers: %v", err)
	}
	p := client(t, s.Access(patroniUser.Name, patroniUser.Password))
	if err := put(p, "/service/redswitch/leader"); err != nil {
		t.Errorf("patroni put in its scope: %v", err)
	}
	if err := put(p, "/service/other/leader"); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Errorf("patroni put outside its scope: %v, want permission denied", err)
	}
	if err := EnsureUsers(ctx, s.Root(), []User{patroniUser}, nil); err != nil {
		t.Errorf("EnsureUsers again: %v", err)
	}

	open := newBooth(t)
	so := open.start(t, Security{})
	defer so.Close()
	if err := EnsureUsers(ctx, so.Root(), []User{patroniUser}, nil); !errors.Is(err, ErrAuthOff) {
		t.Errorf("EnsureUsers on an etcd without auth: %v, want ErrAuthOff", err)
	}
}
