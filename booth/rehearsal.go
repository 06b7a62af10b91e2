package booth

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"

	"gopkg.in/yaml.v3"
)

// RehearsalNode is one node of a booth rehearsed on one machine: a
// container running only the agent.
type RehearsalNode struct {
	Address   string
	Agent     string
	Container string
}

// Rehearsal says how a booth configuration becomes one for a booth on one
// machine (`make booth`).
type Rehearsal struct {
	// Nodes replace the configuration's nodes in order; names, switches
	// and timings stay.
	Nodes []RehearsalNode
	// Power is agent (the agents' soft cut) or container (SIGKILL).
	Power PowerMode
	// Host is where the head node's listeners bind (127.0.0.1: a
	// rehearsal is not on a LAN); EtcdHost is where the nodes reach etcd
	// (the container network's gateway).
	Host, EtcdHost string
	// Ports override the listeners' ports by field (api, primary, ...);
	// the configuration's ports otherwise.
	Ports   map[string]int
	DataDir string
}

// Rehearse rewrites a booth configuration, comments kept, for a
// rehearsal: the nodes are the containers, the switches virtual, power
// the agents' soft cut or the container's SIGKILL, the relays gone, every
// listener on Host, the data in DataDir. The result parses, and the
// source must parse first: the rehearsal starts from the shipped file so
// that file cannot rot.
func Rehearse(name string, src []byte, r Rehearsal) ([]byte, error) {
	cfg, err := Parse(name, src)
	if err != nil {
		return nil, err
	}
	if len(r.Nodes) != len(cfg.Nodes) {
		return nil, fmt.Errorf("%s: %d nodes configured, %d to rehearse with", name, len(cfg.Nodes), len(r.Nodes))
	}
	if r.Power != PowerAgent && r.Power != PowerContainer {
		return nil, fmt.Errorf("rehearsal power %q: want agent or container", r.Power)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	root := resolve(doc.Content[0])
	var nodes []*yaml.Node
	for i, n := range cfg.Nodes {
		m := mapping("name", n.Name, "address", r.Nodes[i].Address, "agent", r.Nodes[i].Agent)
		if r.Power == PowerContainer {
			m.Content = append(m.Content, scalar("container"), scalar(r.Nodes[i].Container))
		}
		m.Style = yaml.FlowStyle
		nodes = append(nodes, m)
	}
	set(root, "nodes", &yaml.Node{Kind: yaml.SequenceNode, Content: nodes})
	del(root, "relays")
	set(root, "power", scalar(string(r.Power)))
	var listen []string
	for _, l := range []struct{ field, addr string }{
		{"api", cfg.Listen.API}, {"primary", cfg.Listen.Primary}, {"replicas", cfg.Listen.Replicas},
		{"stats", cfg.Listen.Stats}, {"etcd_client", cfg.Listen.EtcdClient}, {"etcd_peer", cfg.Listen.EtcdPeer},
	} {
		_, port, err := net.SplitHostPort(l.addr)
		if err != nil {
			return nil, fmt.Errorf("%s: listen.%s: %w", name, l.field, err)
		}
		if p, ok := r.Ports[l.field]; ok {
			port = strconv.Itoa(p)
		}
		h, _, _ := net.SplitHostPort(l.addr)
		host := r.Host
		switch {
		case l.field == "etcd_client":
			host = r.EtcdHost
		case isLoopback(h):
			// Local only on the booth (HAProxy's stats, etcd's peer
			// port): local only in the rehearsal too.
			host = h
		}
		listen = append(listen, l.field, net.JoinHostPort(host, port))
	}
	set(root, "listen", mapping(listen...))
	set(root, "data_dir", scalar(r.DataDir))
	gpio := lookup(root, "gpio")
	if gpio == nil {
		return nil, errors.New("no gpio section")
	}
	g := resolve(gpio)
	backend := scalar("virtual")
	set(g, "backend", backend)
	backend.LineComment = "# rehearsal: virtual switches, flipped through the API and dashboard"
	del(g, "chip")
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	if _, err := Parse(name+" (rehearsal)", out); err != nil {
		return nil, fmt.Errorf("rehearsal of %s does not parse: %w", name, err)
	}
	return out, nil
}

func isLoopback(h string) bool {
	ip := net.ParseIP(h)
	return h == "localhost" || (ip != nil && ip.IsLoopback())
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }

func mapping(kv ...string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Content = append(m.Content, scalar(kv[i]), scalar(kv[i+1]))
	}
	return m
}

func lookup(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// set replaces a key's value, keeping the key's comments, or appends it.
func set(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			old := m.Content[i+1]
			v.LineComment = old.LineComment
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, scalar(key), v)
}

func del(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}
