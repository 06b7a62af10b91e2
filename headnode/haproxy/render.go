// Package haproxy renders the head node's HAProxy configuration from the
// cluster's members, runs HAProxy, reloads it when membership changes, and
// reports backend servers going up and down.
package haproxy

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redswitch/redswitch/cluster"
)

// Member is one database node as HAProxy sees it.
type Member struct {
	Name    string
	Address string
	// PGPort and APIPort default to PostgreSQL's and Patroni's ports.
	PGPort  int
	APIPort int
}

// Config is what the rendered configuration depends on.
type Config struct {
	Members []Member
	// Bind is the address the listeners bind to (e.g. 127.0.0.1).
	Bind string
	// StatsBind is the stats page's address when it differs from Bind:
	// a booth keeps it on loopback while clients reach the primary on
	// the LAN.
	StatsBind   string
	PrimaryPort int
	ReplicaPort int
	StatsPort   int
	// StatsSocket is the admin socket the head node reads backend state from.
	StatsSocket string
	Timings     cluster.Timings
}

// ms renders a duration as HAProxy milliseconds.
func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }

// Render returns haproxy.cfg. It is pure so it can be checked against
// golden files.
func Render(c Config) (string, error) {
	if err := c.validate(); err != nil {
		return "", fmt.Errorf("haproxy config: %w", err)
	}
	members := append([]Member(nil), c.Members...)
	sort.Slice(members, func(i, j int) bool { return members[i].Name < members[j].Name })
	t := c.Timings
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Rendered by the redswitch head node; profile %s. Do not edit: it is rewritten when members change.\n", t.Name)
	w("global\n")
	w("    maxconn 2000\n")
	w("    stats socket %s mode 600 level admin\n", c.StatsSocket)
	w("    hard-stop-after 5s\n\n")
	w("defaults\n")
	w("    mode tcp\n")
	w("    log global\n")
	w("    retries 1\n")
	// Connect and check timeouts follow the check interval: a dead server
	// must be noticed within one interval.
	w("    timeout connect %s\n", ms(t.CheckInterval))
	w("    timeout check %s\n", ms(t.CheckInterval))
	w("    timeout client 30m\n")
	w("    timeout server 30m\n\n")
	w("listen stats\n")
	w("    mode http\n")
	statsBind := c.Bind
	if c.StatsBind != "" {
		statsBind = c.StatsBind
	}
	w("    bind %s\n", net.JoinHostPort(statsBind, strconv.Itoa(c.StatsPort)))
	w("    stats enable\n")
	w("    stats uri /\n")
	w("    stats refresh 1s\n\n")
	for _, l := range []struct {
		name, path string
		port       int
		balance    bool
	}{
		{"primary", "/primary", c.PrimaryPort, false},
		{"replicas", "/replica", c.ReplicaPort, true},
	} {
		w("listen %s\n", l.name)
		w("    bind %s\n", net.JoinHostPort(c.Bind, strconv.Itoa(l.port)))
		if l.balance {
			w("    balance roundrobin\n")
		}
		// HEAD, not GET: GET makes Patroni log connection-reset tracebacks
		// when HAProxy closes the check early.
		w("    option httpchk HEAD %s\n", l.path)
		w("    http-check expect status 200\n")
		// on-marked-down closes client sessions to a server that died, so
		// clients reconnect at once instead of hanging on a dead peer.
		w("    default-server inter %s fastinter %s downinter %s fall %d rise %d on-marked-down shutdown-sessions\n",
			ms(t.CheckInterval), ms(t.DownInterval), ms(t.DownInterval), t.CheckFall, t.CheckRise)
		for _, m := range members {
			w("    server %s %s maxconn 200 check port %d\n", m.Name, net.JoinHostPort(m.Address, strconv.Itoa(m.PGPort)), m.APIPort)
		}
		w("\n")
	}
	return b.String(), nil
}

func (c *Config) validate() error {
	if net.ParseIP(c.Bind) == nil {
		return fmt.Errorf("bind %q is not an IP address", c.Bind)
	}
	if c.StatsBind != "" && net.ParseIP(c.StatsBind) == nil {
		return fmt.Errorf("stats bind %q is not an IP address", c.StatsBind)
	}
	ports := map[int]string{}
	for name, p := range map[string]int{"primary port": c.PrimaryPort, "replica port": c.ReplicaPort, "stats port": c.StatsPort} {
		if p < 1 || p > 65535 {
			return fmt.Errorf("%s %d out of range", name, p)
		}
		if other, dup := ports[p]; dup {
			return fmt.Errorf("%s and %s are both %d", name, other, p)
		}
		ports[p] = name
	}
	if c.StatsSocket == "" {
		return fmt.Errorf("stats socket path is required")
	}
	if len(c.StatsSocket) > MaxSocketPath {
		// HAProxy's own check says only "too long" under -q; say it here.
		return fmt.Errorf("stats socket path %s is %d bytes, over HAProxy's limit of %d for a unix socket (see SocketPlace)",
			c.StatsSocket, len(c.StatsSocket), MaxSocketPath)
	}
	if err := c.Timings.Validate(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i := range c.Members {
		m := &c.Members[i]
		if m.Name == "" || strings.ContainsAny(m.Name, " \t\n#") {
			return fmt.Errorf("member %d: bad name %q", i, m.Name)
		}
		if seen[m.Name] {
			return fmt.Errorf("member %q listed twice", m.Name)
		}
		seen[m.Name] = true
		if net.ParseIP(m.Address) == nil {
			return fmt.Errorf("member %q: address %q is not an IP address", m.Name, m.Address)
		}
		if m.PGPort == 0 {
			m.PGPort = cluster.PostgresPort
		}
		if m.APIPort == 0 {
			m.APIPort = cluster.PatroniPort
		}
	}
	return nil
}
