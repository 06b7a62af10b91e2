package booth

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/redswitch/redswitch/cluster"
)

var (
	nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?$`)
	envRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func isEnvName(s string) bool { return envRE.MatchString(s) }

func parseTimings(s string) (cluster.Timings, error) { return cluster.ParseTimings(s) }

// name checks a node name: Patroni member names end up in etcd keys,
// host names and SQL identifiers.
func (p *parser) name(n *yaml.Node, field string) string {
	s := p.str(n, field)
	if s != "" && !nameRE.MatchString(s) {
		p.errorf(n, field, "%q: use lower-case letters, digits, - and _ (starting with a letter or digit)", s)
		return ""
	}
	return s
}

func (p *parser) address(n *yaml.Node, field string) string {
	s := p.str(n, field)
	if s == "" {
		return ""
	}
	if net.ParseIP(s) == nil && !hostRE.MatchString(s) {
		p.errorf(n, field, "%q is not a host name or IP address", s)
		return ""
	}
	return s
}

func (p *parser) url(n *yaml.Node, field string) string {
	s := p.str(n, field)
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.errorf(n, field, "%q: want an http:// or https:// URL with a host", s)
		return ""
	}
	return s
}

func (p *parser) hostPort(n *yaml.Node, field string) string {
	s := p.str(n, field)
	if s == "" {
		return ""
	}
	_, port, err := net.SplitHostPort(s)
	if err == nil {
		var pn int
		pn, err = strconv.Atoi(port)
		if err == nil && (pn < 1 || pn > 65535) {
			err = fmt.Errorf("port %d out of range", pn)
		}
	}
	if err != nil {
		p.errorf(n, field, "%q: want host:port or :port", s)
		return ""
	}
	return s
}

// pin reads a GPIO line number; the backend limits it further.
func (p *parser) pin(n *yaml.Node, field string) int {
	v, ok := p.integer(n, field)
	if !ok {
		return -1
	}
	if v < 0 || v > 511 {
		p.errorf(n, field, "GPIO line %d out of range 0..511", v)
		return -1
	}
	return v
}

// maxRPIOPin is the highest BCM GPIO on the Raspberry Pi header.
const maxRPIOPin = 27

// validate checks what spans fields: names, ids and pins unique, switches
// and relays pointing at known nodes, relays matching the power mode.
func (p *parser) validate(c *Config) {
	at := func(line int, field, format string, args ...any) {
		if line == 0 {
			line = p.lines[field]
		}
		p.errorf(&yaml.Node{Line: line}, field, format, args...)
	}
	if len(c.Nodes) == 0 {
		at(0, "nodes", "at least one node is required")
	}
	if len(c.Switches) == 0 {
		at(0, "switches", "at least one switch is required")
	}
	nodes := map[string]int{}
	addrs := map[string]string{}
	for i, n := range c.Nodes {
		f := fmt.Sprintf("nodes[%d]", i)
		if first, dup := nodes[n.Name]; dup {
			at(n.Line, f+".name", "node %q defined twice (first on line %d)", n.Name, first)
		}
		nodes[n.Name] = n.Line
		if other, dup := addrs[n.Address]; dup {
			at(n.Line, f+".address", "address %s is also node %q's", n.Address, other)
		}
		addrs[n.Address] = n.Name
	}
	pins := map[int]string{}
	usePin := func(pin, line int, field, what string) {
		if pin < 0 {
			return
		}
		if c.GPIO.Backend == "rpio" && pin > maxRPIOPin {
			at(line, field, "pin %d: the rpio backend has BCM GPIO 0..%d", pin, maxRPIOPin)
		}
		if other, dup := pins[pin]; dup {
			at(line, field, "pin %d is already used by %s", pin, other)
			return
		}
		pins[pin] = what
	}
	ids := map[int]int{}
	for i, s := range c.Switches {
		f := fmt.Sprintf("switches[%d]", i)
		if first, dup := ids[s.ID]; dup {
			at(s.Line, f+".id", "switch id %d defined twice (first on line %d)", s.ID, first)
		}
		ids[s.ID] = s.Line
		if _, ok := nodes[s.Node]; !ok {
			at(s.Line, f+".node", "unknown node %q", s.Node)
		}
		usePin(s.Pin, s.Line, f+".pin", fmt.Sprintf("switch %d (line %d)", s.ID, s.Line))
	}
	relayed := map[string]int{}
	for i, r := range c.Relays {
		f := fmt.Sprintf("relays[%d]", i)
		if c.Power != PowerRelay {
			at(r.Line, f, "relays are only driven with power: relay (power is %s)", c.Power)
			continue
		}
		if _, ok := nodes[r.Node]; !ok {
			at(r.Line, f+".node", "unknown node %q", r.Node)
		}
		if first, dup := relayed[r.Node]; dup {
			at(r.Line, f+".node", "node %q has a relay already (line %d)", r.Node, first)
		}
		relayed[r.Node] = r.Line
		usePin(r.Pin, r.Line, f+".pin", fmt.Sprintf("the relay of node %s (line %d)", r.Node, r.Line))
	}
	if c.Power == PowerRelay {
		for _, n := range c.Nodes {
			if _, ok := relayed[n.Name]; !ok {
				at(n.Line, "relays", "power: relay, but node %q has no relay", n.Name)
			}
		}
	}
	for i, n := range c.Nodes {
		switch {
		case c.Power == PowerContainer && n.Container == "":
			at(n.Line, fmt.Sprintf("nodes[%d].container", i), "power: container, but node %q names no container", n.Name)
		case c.Power == PowerAgent && n.Agent == "":
			at(n.Line, fmt.Sprintf("nodes[%d].agent", i), "power: agent, but node %q has no agent URL", n.Name)
		}
	}
	ports := map[string]string{}
	for _, l := range []struct{ field, addr string }{
		{"listen.api", c.Listen.API}, {"listen.primary", c.Listen.Primary}, {"listen.replicas", c.Listen.Replicas},
		{"listen.stats", c.Listen.Stats}, {"listen.etcd_client", c.Listen.EtcdClient}, {"listen.etcd_peer", c.Listen.EtcdPeer},
	} {
		_, port, err := net.SplitHostPort(l.addr)
		if err != nil {
			continue
		}
		if other, dup := ports[port]; dup {
			at(0, l.field, "port %s is already used by %s", port, other)
		}
		ports[port] = l.field
	}
}
