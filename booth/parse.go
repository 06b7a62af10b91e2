package booth

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a booth file, at a line and field.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

// Error formats as file:line: field: message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// parser walks the YAML node tree, collecting every error so that one run
// shows them all.
type parser struct {
	file  string
	errs  []error
	lines map[string]int // field path → line of its key
}

func (p *parser) errorf(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// fields walks a mapping: each key must be one of handlers, at most once;
// required keys must be present. It returns false if n is not a mapping.
func (p *parser) fields(n *yaml.Node, field string, required []string, handlers map[string]func(v *yaml.Node, field string)) bool {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, field, "want a mapping, got %s", kindName(n))
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		key := k.Value
		sub := key
		if field != "" {
			sub = field + "." + key
		}
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, field, "keys must be plain names")
			continue
		}
		h, ok := handlers[key]
		if !ok {
			known := make([]string, 0, len(handlers))
			for name := range handlers {
				known = append(known, name)
			}
			sort.Strings(known)
			p.errorf(k, sub, "unknown field (known: %s)", strings.Join(known, ", "))
			continue
		}
		if first, dup := seen[key]; dup {
			p.errorf(k, sub, "set twice (first on line %d)", first)
			continue
		}
		seen[key] = k.Line
		p.lines[sub] = k.Line
		h(v, sub)
	}
	for _, r := range required {
		if _, ok := seen[r]; !ok {
			sub := r
			if field != "" {
				sub = field + "." + r
			}
			p.errorf(n, sub, "required")
		}
	}
	return true
}

// list calls item for every element of a sequence.
func (p *parser) list(n *yaml.Node, field string, item func(v *yaml.Node, field string)) {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, field, "want a list, got %s", kindName(n))
		return
	}
	for i, v := range n.Content {
		item(resolve(v), fmt.Sprintf("%s[%d]", field, i))
	}
}

func (p *parser) str(n *yaml.Node, field string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, field, "want a string, got %s", kindName(n))
		return ""
	}
	if strings.TrimSpace(n.Value) == "" {
		p.errorf(n, field, "must not be empty")
		return ""
	}
	return n.Value
}

func (p *parser) integer(n *yaml.Node, field string) (int, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		p.errorf(n, field, "want a whole number, got %s", kindName(n))
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 0, 32)
	if err != nil {
		p.errorf(n, field, "want a whole number, got %q", n.Value)
		return 0, false
	}
	return int(v), true
}

func (p *parser) duration(n *yaml.Node, field string) time.Duration {
	s := p.str(n, field)
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		p.errorf(n, field, "want a duration such as 30ms, got %q", s)
		return 0
	}
	return d
}

func (p *parser) oneOf(n *yaml.Node, field string, allowed ...string) string {
	s := p.str(n, field)
	if s == "" {
		return ""
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	p.errorf(n, field, "%q is not one of %s", s, strings.Join(allowed, ", "))
	return ""
}

// Parse parses and validates a booth configuration; name is used in
// error messages. All problems found are returned together, each an
// *Error naming file:line and field.
func Parse(name string, data []byte) (cfg *Config, err error) {
	defer func() {
		// yaml.v3 has panicked on odd input before; a bad file must
		// produce an error, never take the head node down.
		if r := recover(); r != nil {
			cfg, err = nil, &Error{File: name, Msg: fmt.Sprintf("cannot parse YAML: %v", r)}
		}
	}()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{File: name, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &Error{File: name, Msg: "empty file"}
	}
	p := &parser{file: name, lines: map[string]int{}}
	c := p.config(doc.Content[0])
	c.lines = p.lines
	if len(p.errs) == 0 {
		p.validate(c)
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return c, nil
}

// config reads the top-level mapping, filling in defaults.
func (p *parser) config(root *yaml.Node) *Config {
	c := &Config{File: p.file, Scope: "redswitch", DataDir: "/var/lib/redswitch",
		Listen: Listen{API: ":8080", Primary: ":5432", Replicas: ":5433", Stats: "127.0.0.1:7000",
			EtcdClient: ":2379", EtcdPeer: ":2380"},
		GPIO: GPIO{Chip: "gpiochip0", Debounce: 30 * time.Millisecond, PollRate: 1000}}
	timings := "aggressive"
	var timingsNode *yaml.Node
	p.fields(root, "", []string{"nodes", "switches", "power", "gpio"}, map[string]func(*yaml.Node, string){
		"scope": func(v *yaml.Node, f string) { c.Scope = p.str(v, f) },
		"nodes": func(v *yaml.Node, f string) {
			p.list(v, f, func(v *yaml.Node, f string) { c.Nodes = append(c.Nodes, p.node(v, f)) })
		},
		"switches": func(v *yaml.Node, f string) {
			p.list(v, f, func(v *yaml.Node, f string) { c.Switches = append(c.Switches, p.sw(v, f)) })
		},
		"relays": func(v *yaml.Node, f string) {
			p.list(v, f, func(v *yaml.Node, f string) { c.Relays = append(c.Relays, p.relay(v, f)) })
		},
		"power": func(v *yaml.Node, f string) {
			c.Power = PowerMode(p.oneOf(v, f, string(PowerRelay), string(PowerContainer), string(PowerAgent), string(PowerObserve)))
		},
		"timings":            func(v *yaml.Node, f string) { timings, timingsNode = p.str(v, f), v },
		"operator_token":     func(v *yaml.Node, f string) { p.token(v, f, &c.OperatorToken, false) },
		"operator_token_env": func(v *yaml.Node, f string) { p.token(v, f, &c.OperatorToken, true) },
		"cluster_token":      func(v *yaml.Node, f string) { p.token(v, f, &c.ClusterToken, false) },
		"cluster_token_env":  func(v *yaml.Node, f string) { p.token(v, f, &c.ClusterToken, true) },
		"listen":             func(v *yaml.Node, f string) { p.listen(v, f, &c.Listen) },
		"data_dir": func(v *yaml.Node, f string) {
			c.DataDir = p.str(v, f)
			if c.DataDir != "" && !strings.HasPrefix(c.DataDir, "/") {
				p.errorf(v, f, "must be an absolute path, got %q", c.DataDir)
			}
		},
		"gpio":  func(v *yaml.Node, f string) { p.gpio(v, f, &c.GPIO) },
		"probe": func(v *yaml.Node, f string) { p.probe(v, f, &c.Probe) },
	})
	if timings != "" {
		t, err := parseTimings(timings)
		if err != nil {
			p.errorf(timingsNode, "timings", "%v", err)
		}
		c.Timings = t
	}
	for _, tok := range []struct {
		name string
		s    Secret
	}{{"operator_token", c.OperatorToken}, {"cluster_token", c.ClusterToken}} {
		_, lit := p.lines[tok.name]
		_, env := p.lines[tok.name+"_env"]
		if !lit && !env {
			p.errorf(root, tok.name, "required: set %s_env to the name of an environment variable (or %s itself)", tok.name, tok.name)
		}
	}
	return c
}

func (p *parser) node(n *yaml.Node, field string) Node {
	nd := Node{Line: n.Line}
	p.fields(n, field, []string{"name", "address", "agent"}, map[string]func(*yaml.Node, string){
		"name":      func(v *yaml.Node, f string) { nd.Name = p.name(v, f) },
		"address":   func(v *yaml.Node, f string) { nd.Address = p.address(v, f) },
		"agent":     func(v *yaml.Node, f string) { nd.Agent = p.url(v, f) },
		"container": func(v *yaml.Node, f string) { nd.Container = p.str(v, f) },
	})
	return nd
}

func (p *parser) sw(n *yaml.Node, field string) Switch {
	s := Switch{Line: n.Line, Active: Low, ID: -1, Pin: -1}
	p.fields(n, field, []string{"id", "node", "pin"}, map[string]func(*yaml.Node, string){
		"id": func(v *yaml.Node, f string) {
			if id, ok := p.integer(v, f); ok {
				if id < 1 {
					p.errorf(v, f, "must be 1 or more, got %d", id)
				}
				s.ID = id
			}
		},
		"node":   func(v *yaml.Node, f string) { s.Node = p.str(v, f) },
		"pin":    func(v *yaml.Node, f string) { s.Pin = p.pin(v, f) },
		"active": func(v *yaml.Node, f string) { s.Active = Level(p.oneOf(v, f, string(Low), string(High))) },
	})
	return s
}

func (p *parser) relay(n *yaml.Node, field string) Relay {
	r := Relay{Line: n.Line, Active: Low, Pin: -1}
	p.fields(n, field, []string{"node", "pin"}, map[string]func(*yaml.Node, string){
		"node":   func(v *yaml.Node, f string) { r.Node = p.str(v, f) },
		"pin":    func(v *yaml.Node, f string) { r.Pin = p.pin(v, f) },
		"active": func(v *yaml.Node, f string) { r.Active = Level(p.oneOf(v, f, string(Low), string(High))) },
	})
	return r
}

func (p *parser) listen(n *yaml.Node, field string, l *Listen) {
	addr := func(dst *string) func(*yaml.Node, string) {
		return func(v *yaml.Node, f string) { *dst = p.hostPort(v, f) }
	}
	p.fields(n, field, nil, map[string]func(*yaml.Node, string){
		"api":         addr(&l.API),
		"primary":     addr(&l.Primary),
		"replicas":    addr(&l.Replicas),
		"stats":       addr(&l.Stats),
		"etcd_client": addr(&l.EtcdClient),
		"etcd_peer":   addr(&l.EtcdPeer),
	})
}

func (p *parser) probe(n *yaml.Node, field string, pr *Probe) {
	pr.Line, pr.Lines = n.Line, map[string]int{}
	at := func(f string, v *yaml.Node) { pr.Lines[strings.TrimPrefix(f, field+".")] = v.Line }
	p.fields(n, field, nil, map[string]func(*yaml.Node, string){
		"enabled": func(v *yaml.Node, f string) {
			at(f, v)
			pr.Off = p.oneOf(v, f, "true", "false") == "false"
		},
		"dsn": func(v *yaml.Node, f string) {
			at(f, v)
			pr.DSN = p.str(v, f)
			if u, err := url.Parse(pr.DSN); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Hostname() == "" {
				p.errorf(v, f, "want a postgres:// URL with a host (without one pgx dials a unix socket, not HAProxy)")
			}
		},
		"host": func(v *yaml.Node, f string) { at(f, v); pr.Host = p.address(v, f) },
		"port": func(v *yaml.Node, f string) {
			at(f, v)
			if port, ok := p.integer(v, f); ok {
				if port < 1 || port > 65535 {
					p.errorf(v, f, "port %d out of range", port)
				}
				pr.Port = port
			}
		},
		"user":          func(v *yaml.Node, f string) { at(f, v); pr.User = p.str(v, f) },
		"password_file": func(v *yaml.Node, f string) { at(f, v); pr.PasswordFile = p.str(v, f) },
		"database":      func(v *yaml.Node, f string) { at(f, v); pr.Database = p.str(v, f) },
		"interval": func(v *yaml.Node, f string) {
			at(f, v)
			d := p.duration(v, f)
			if d != 0 && (d < time.Millisecond || d > 10*time.Second) {
				p.errorf(v, f, "%v is outside 1ms..10s", d)
			}
			pr.Interval = d
		},
	})
	if pr.DSN != "" {
		for _, k := range []string{"host", "port", "user", "password_file", "database"} {
			if l, ok := pr.Lines[k]; ok {
				p.errs = append(p.errs, &Error{File: p.file, Line: l, Field: field + "." + k, Msg: "set either dsn or the fields it is made of, not both"})
			}
		}
	}
}

func (p *parser) gpio(n *yaml.Node, field string, g *GPIO) {
	p.fields(n, field, []string{"backend"}, map[string]func(*yaml.Node, string){
		"backend": func(v *yaml.Node, f string) { g.Backend = p.oneOf(v, f, "rpio", "cdev", "virtual") },
		"chip":    func(v *yaml.Node, f string) { g.Chip = p.str(v, f) },
		"debounce": func(v *yaml.Node, f string) {
			d := p.duration(v, f)
			if d != 0 && (d < time.Millisecond || d > time.Second) {
				p.errorf(v, f, "%v is outside 1ms..1s (switches bounce for under 10 ms; 20-30 ms is sound)", d)
			}
			if d != 0 {
				g.Debounce = d
			}
		},
		"poll_rate": func(v *yaml.Node, f string) {
			if hz, ok := p.integer(v, f); ok {
				if hz < 500 || hz > 10000 {
					p.errorf(v, f, "%d Hz is outside 500..10000", hz)
					return
				}
				g.PollRate = hz
			}
		},
	})
}

func (p *parser) token(n *yaml.Node, field string, s *Secret, env bool) {
	v := p.str(n, field)
	if v == "" {
		return
	}
	base := strings.TrimSuffix(field, "_env")
	if s.Value != "" || s.Env != "" {
		p.errorf(n, field, "set only one of %s and %s_env", base, base)
		return
	}
	if env {
		if !isEnvName(v) {
			p.errorf(n, field, "%q is not an environment variable name", v)
			return
		}
		s.Env = v
		return
	}
	if len(v) < minTokenLen {
		p.errorf(n, field, "shorter than %d characters: at a public booth use a long random token", minTokenLen)
		return
	}
	s.Value = v
}

// minTokenLen keeps "changeme" out of a public booth.
const minTokenLen = 16
