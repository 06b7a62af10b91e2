package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.etcd.io/etcd/api/v3/authpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/credentials"
	"github.com/redswitch/redswitch/etcdaccess"
	"github.com/redswitch/redswitch/pki"
)

// RootUser is etcd's administrator; authentication cannot be enabled
// without it.
const RootUser = "root"

// Security is how the embedded server guards its keys.
type Security struct {
	// CAFile, CertFile and KeyFile (PEM) make the server speak TLS with
	// CertFile, whose CA is CAFile (pki.Files); all three or none.
	CAFile, CertFile, KeyFile string
	// RootPassword, when set, turns authentication on: user root with this
	// password, then Users. Changing it after authentication is on is not
	// possible from here (logging in needs the old one): start from a
	// fresh data directory instead.
	RootPassword string
	// Users are created (or their passwords and grants brought up to date)
	// on every start. Users in etcd but not listed here are left alone.
	Users []User
}

// User is one etcd user and what it may touch. Its role has the same name.
type User struct {
	Name, Password string
	// ReadWrite and Read are key prefixes. A prefix matches every key
	// that starts with it: "/redswitch/s/agents/n1" would also match
	// n10's key, so use ReadWriteKeys for one key.
	ReadWrite []string
	Read      []string
	// ReadWriteKeys and ReadKeys are single keys.
	ReadWriteKeys []string
	ReadKeys      []string
}

// TLS reports whether the server speaks TLS.
func (s Security) TLS() bool { return s.CertFile != "" }

// Auth reports whether clients must log in.
func (s Security) Auth() bool { return s.RootPassword != "" }

func (s Security) validate() error {
	if n := countSet(s.CAFile, s.CertFile, s.KeyFile); n != 0 && n != 3 {
		return errors.New("etcd: TLS needs the CA file, the certificate and the key")
	}
	if len(s.Users) > 0 && s.RootPassword == "" {
		return errors.New("etcd: users need authentication on (a root password)")
	}
	seen := map[string]bool{}
	for _, u := range s.Users {
		switch {
		case u.Name == "":
			return errors.New("etcd: a user without a name")
		case u.Name == RootUser:
			return errors.New("etcd: user root is the head node's; set Security.RootPassword instead")
		case u.Password == "":
			return fmt.Errorf("etcd: user %s: empty password", u.Name)
		case seen[u.Name]:
			return fmt.Errorf("etcd: user %s listed twice", u.Name)
		}
		seen[u.Name] = true
	}
	return nil
}

func countSet(ss ...string) int {
	n := 0
	for _, s := range ss {
		if s != "" {
			n++
		}
	}
	return n
}

// perm is one permission of a role: a key, a range end ("" for the key
// alone) and whether it may write.
type perm struct {
	key, end string
	write    bool
}

// perms are the permissions u's role must hold. etcd keeps one grant per
// key and range end, so a prefix listed both to read and to write is
// granted once, to write; two grants would overwrite each other on every
// start.
func (u User) perms() []perm {
	var out []perm
	add := func(p perm) {
		for i, q := range out {
			if q.key == p.key && q.end == p.end {
				out[i].write = q.write || p.write
				return
			}
		}
		out = append(out, p)
	}
	for _, p := range u.Read {
		add(perm{key: p, end: clientv3.GetPrefixRangeEnd(p)})
	}
	for _, k := range u.ReadKeys {
		add(perm{key: k})
	}
	for _, p := range u.ReadWrite {
		add(perm{key: p, end: clientv3.GetPrefixRangeEnd(p), write: true})
	}
	for _, k := range u.ReadWriteKeys {
		add(perm{key: k, write: true})
	}
	return out
}

// secure brings etcd's users, roles and grants in line with sec, then
// turns authentication on. Every step tolerates being done already, so a
// start that died half-way, or a restart on an existing data directory,
// converges to the same state.
func (s *Server) secure(ctx context.Context, sec Security, timeout time.Duration, log *slog.Logger) error {
	enabled := s.e.Server.AuthStore().IsAuthEnabled()
	if !sec.Auth() {
		if enabled {
			return errors.New("authentication is on in this data directory but no root password was given")
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	acc := s.Access("", "")
	if enabled {
		acc = s.Root()
	}
	// clientv3.New logs in at once, so a wrong root password fails here.
	cli, err := acc.New(5 * time.Second)
	if err != nil && enabled {
		return fmt.Errorf("log in as root: %w (was the root password changed? it cannot be once authentication is on)", err)
	}
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	defer cli.Close()
	for _, u := range sec.Users {
		if err := ensureUser(ctx, cli, u.Name, u.Password, enabled, log); err != nil {
			return err
		}
		if err := ensureRole(ctx, cli, u.Name, u.perms(), log); err != nil {
			return err
		}
		if _, err := cli.UserGrantRole(ctx, u.Name, u.Name); err != nil {
			return fmt.Errorf("grant role %s to user %s: %w", u.Name, u.Name, err)
		}
	}
	if !enabled {
		if err := ensureUser(ctx, cli, RootUser, sec.RootPassword, false, log); err != nil {
			return err
		}
		if _, err := cli.RoleAdd(ctx, RootUser); err != nil && !errors.Is(err, rpctypes.ErrRoleAlreadyExist) {
			return fmt.Errorf("add role root: %w", err)
		}
		if _, err := cli.UserGrantRole(ctx, RootUser, RootUser); err != nil {
			return fmt.Errorf("grant role root to user root: %w", err)
		}
		if _, err := cli.AuthEnable(ctx); err != nil {
			return fmt.Errorf("enable authentication: %w", err)
		}
		log.Info("etcd authentication enabled", "users", len(sec.Users))
	}
	return nil
}

// ensureUser adds a user or sets its password. With authentication on, a
// password that still logs in is left as it is: changing it would cost a
// bcrypt hash and a raft write on every start.
func ensureUser(ctx context.Context, cli *clientv3.Client, name, password string, enabled bool, log *slog.Logger) error {
	_, err := cli.UserAdd(ctx, name, password)
	if err == nil {
		log.Info("etcd user added", "user", name)
		return nil
	}
	if !errors.Is(err, rpctypes.ErrUserAlreadyExist) {
		return fmt.Errorf("add user %s: %w", name, err)
	}
	if enabled {
		_, err := cli.Authenticate(ctx, name, password)
		if err == nil {
			return nil
		}
		if !errors.Is(err, rpctypes.ErrAuthFailed) {
			return fmt.Errorf("check the password of user %s: %w", name, err)
		}
	}
	if _, err := cli.UserChangePassword(ctx, name, password); err != nil {
		return fmt.Errorf("set the password of user %s: %w", name, err)
	}
	if enabled {
		log.Info("etcd user's password changed", "user", name)
	}
	return nil
}

// ensureRole makes role hold exactly want: missing grants are added,
// grants no longer wanted are revoked, so a node that lost a prefix in the
// configuration loses it in etcd too.
func ensureRole(ctx context.Context, cli *clientv3.Client, role string, want []perm, log *slog.Logger) error {
	if _, err := cli.RoleAdd(ctx, role); err != nil && !errors.Is(err, rpctypes.ErrRoleAlreadyExist) {
		return fmt.Errorf("add role %s: %w", role, err)
	}
	got, err := cli.RoleGet(ctx, role)
	if err != nil {
		return fmt.Errorf("read role %s: %w", role, err)
	}
	have := map[perm]bool{}
	for _, p := range got.Perm {
		pp := perm{key: string(p.Key), end: string(p.RangeEnd), write: p.PermType == authpb.READWRITE}
		if !slices.Contains(want, pp) {
			if _, err := cli.RoleRevokePermission(ctx, role, pp.key, pp.end); err != nil {
				return fmt.Errorf("role %s: revoke %q: %w", role, pp.key, err)
			}
			log.Info("etcd grant revoked", "role", role, "key", pp.key)
			continue
		}
		have[pp] = true
	}
	for _, p := range want {
		if have[p] {
			continue
		}
		typ := clientv3.PermissionType(clientv3.PermRead)
		if p.write {
			typ = clientv3.PermissionType(clientv3.PermReadWrite)
		}
		if _, err := cli.RoleGrantPermission(ctx, role, p.key, p.end, typ); err != nil {
			return fmt.Errorf("role %s: grant %q: %w", role, p.key, err)
		}
		have[p] = true
	}
	return nil
}

// PatroniUser is what Patroni of scope needs: every key under its
// namespace (Patroni's default /service) and scope.
func PatroniUser(name, password, scope string) User {
	return User{Name: name, Password: password, ReadWrite: []string{"/service/" + scope + "/"}}
}

// AgentUser is what node's agent needs: its registration key alone (a
// prefix would also cover n10's key for n1), its own node events, and the
// leader key, which it reads before healing a corrupt node.
func AgentUser(name, password, scope, node string) User {
	return User{Name: name, Password: password,
		ReadWriteKeys: []string{cluster.AgentKey(scope, node)},
		ReadWrite:     []string{agentapi.NodeEventPrefix(scope) + node + "/"},
		ReadKeys:      []string{"/service/" + scope + "/leader"}}
}

// BoothSecurity is etcd as every booth and demo runs it: TLS with the
// booth CA's certificate (files), root logging in with the booth's
// password, Patroni with its scope, each node's agent with its own keys.
func BoothSecurity(files pki.Files, b credentials.Booth, scope string, nodes []string) Security {
	sec := Security{CAFile: files.CACert, CertFile: files.ServerCert, KeyFile: files.ServerKey,
		RootPassword: b.EtcdRoot,
		Users:        []User{PatroniUser(credentials.EtcdPatroniUser, b.EtcdPatroni, scope)}}
	for _, n := range nodes {
		sec.Users = append(sec.Users, AgentUser(credentials.EtcdAgentUser(n), b.EtcdAgents[n], scope, n))
	}
	return sec
}

// EnsureUsers makes users (and their roles, same names) on an etcd that
// is not ours, an external cluster the head node logs into as acc (its
// root): what secure does for the embedded server, without touching the
// cluster's own TLS or its authentication switch. With authentication off
// there the users exist but nothing asks for them: it says so in its
// error, and the caller decides.
func EnsureUsers(ctx context.Context, acc etcdaccess.Access, users []User, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cli, err := acc.New(5 * time.Second)
	if err != nil {
		return fmt.Errorf("etcd users: %w", err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := cli.AuthStatus(ctx)
	if err != nil {
		return fmt.Errorf("etcd users: auth status: %w", err)
	}
	for _, u := range users {
		if err := ensureUser(ctx, cli, u.Name, u.Password, st.Enabled, log); err != nil {
			return err
		}
		if err := ensureRole(ctx, cli, u.Name, u.perms(), log); err != nil {
			return err
		}
		if _, err := cli.UserGrantRole(ctx, u.Name, u.Name); err != nil {
			return fmt.Errorf("grant role %s to user %s: %w", u.Name, u.Name, err)
		}
	}
	if !st.Enabled {
		return ErrAuthOff
	}
	return nil
}

// ErrAuthOff is an external etcd without authentication: its users are
// made but anyone may still write every key.
var ErrAuthOff = errors.New("authentication is off on this etcd: anyone who reaches it may write every key")
