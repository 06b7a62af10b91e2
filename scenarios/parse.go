package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/faults"
)

// MaxFileSize bounds a scenario file; a script is a page of YAML, so
// anything bigger is a mistake (or an attack on the YAML parser).
const MaxFileSize = 1 << 20

// maxErrors caps the errors reported for one file: after a few dozen the
// rest are noise from the same mistake.
const maxErrors = 50

// MaxDuration bounds every duration in a script; chaos steps that take
// longer than this are typos (10m for 10s), not experiments.
const MaxDuration = time.Hour

// Load reads and parses one scenario file; errors name the path as given.
func Load(path string) (*Scenario, error) {
	data, err := readLimited(os.Open(path))
	if err != nil {
		return nil, fmt.Errorf("load scenario %s: %w", path, err)
	}
	return Parse(path, data)
}

// LoadFS reads and parses one scenario file from fsys, e.g. Library().
func LoadFS(fsys fs.FS, path string) (*Scenario, error) {
	data, err := readLimited(fsys.Open(path))
	if err != nil {
		return nil, fmt.Errorf("load scenario %s: %w", path, err)
	}
	return Parse(path, data)
}

// readLimited reads at most one byte past MaxFileSize, so Parse can say
// the file is too big without reading all of it.
func readLimited(f io.ReadCloser, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxFileSize+1))
}

// Parse parses and validates a scenario. filename is used in error
// messages and Scenario.File. The error, if any, joins one *Error per
// problem found (errors.Join), each naming file:line:column and the field.
func Parse(filename string, data []byte) (*Scenario, error) {
	if len(data) > MaxFileSize {
		return nil, &Error{File: filename, Line: 1, Msg: fmt.Sprintf("file is larger than %d bytes; a scenario is a page of YAML", MaxFileSize)}
	}
	root, perr := decodeYAML(filename, data)
	if perr != nil {
		return nil, perr
	}
	p := &parser{file: filename, forks: map[string]int{}}
	if !p.noAliases(root) {
		return nil, p.err()
	}
	sc := p.scenario(root)
	if err := p.err(); err != nil {
		return nil, err
	}
	return sc, nil
}

// decodeYAML decodes exactly one YAML document into a node tree. yaml.v3
// has panicked on hostile input in the past; a panic here becomes an
// error, since bad input must never take the process down.
func decodeYAML(file string, data []byte) (root *yaml.Node, err *Error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, &Error{File: file, Line: 1, Msg: fmt.Sprintf("invalid YAML: parser failed: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if e := dec.Decode(&doc); e != nil {
		if errors.Is(e, io.EOF) {
			return nil, &Error{File: file, Line: 1, Msg: "empty file: want a mapping with name, description, cluster and steps"}
		}
		return nil, syntaxError(file, e)
	}
	var extra yaml.Node
	switch e := dec.Decode(&extra); {
	case e == nil:
		return nil, &Error{File: file, Line: max(extra.Line, 1), Column: extra.Column, Msg: "a scenario file holds exactly one YAML document"}
	case !errors.Is(e, io.EOF):
		return nil, syntaxError(file, e)
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, &Error{File: file, Line: 1, Msg: "empty document"}
		}
		return doc.Content[0], nil
	}
	return &doc, nil
}

// parser collects every error of one file while it builds the scenario,
// and carries what later steps need to know about earlier ones.
type parser struct {
	file  string
	errs  []error
	nodes int
	spec  ClusterSpec

	// last is what the latest power, switch or fault step acted on, so
	// "@last" can be checked.
	last lastTarget
	// disrupted is set once a step that can cause a failover has run.
	disrupted bool
	// open lists injected faults not yet recovered, oldest first.
	open []openFault
	// forks maps fork names to the line that made them.
	forks map[string]int
}

type lastTarget int

const (
	lastNone lastTarget = iota
	lastNodes
	lastEtcd
)

type openFault struct {
	kind   FaultKind
	target string
	line   int
}

// err joins the errors in file order, so the report reads top to bottom
// whatever order the checks ran in.
func (p *parser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	errs := p.errs
	var sentinel error
	if len(errs) > maxErrors {
		errs, sentinel = errs[:maxErrors], errs[maxErrors]
	}
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i].(*Error), errs[j].(*Error)
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	if sentinel != nil {
		errs = append(errs, sentinel)
	}
	return errors.Join(errs...)
}

// fail records an error at node n (line 1 when n is unknown).
func (p *parser) fail(n *yaml.Node, field, format string, args ...any) {
	if len(p.errs) > maxErrors {
		return
	}
	e := &Error{File: p.file, Line: 1, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil && n.Line > 0 {
		e.Line, e.Column = n.Line, n.Column
	}
	if len(p.errs) == maxErrors {
		e.Field, e.Msg = "", fmt.Sprintf("more than %d errors; stopping here", maxErrors)
	}
	p.errs = append(p.errs, e)
}

// noAliases refuses anchors' aliases and merge keys: a script is short
// enough to spell out, and following aliases invites cycles and blow-ups.
func (p *parser) noAliases(root *yaml.Node) bool {
	ok := true
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.AliasNode {
			p.fail(n, "", "aliases (*%s) are not supported in scenarios; write the value out", n.Value)
			ok = false
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(root)
	return ok
}

// fields is a validated mapping: its values by key, and its key nodes
// for errors about a key itself.
type fields struct {
	node *yaml.Node
	vals map[string]*yaml.Node
	keys map[string]*yaml.Node
}

func (f *fields) has(k string) bool { return f.vals[k] != nil }

// mapping checks that n is a mapping whose keys are all in allowed and
// appear once.
func (p *parser) mapping(n *yaml.Node, field string, allowed ...string) (*fields, bool) {
	if n.Kind != yaml.MappingNode {
		p.fail(n, field, "want a mapping with keys %s, got %s", strings.Join(allowed, ", "), describe(n))
		return nil, false
	}
	f := &fields{node: n, vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.fail(k, field, "a key must be a plain word, got %s", describe(k))
			ok = false
			continue
		}
		if !contains(allowed, k.Value) {
			p.fail(k, field, "unknown key %q (want %s)", k.Value, strings.Join(allowed, ", "))
			ok = false
			continue
		}
		if first, dup := f.keys[k.Value]; dup {
			p.fail(k, join(field, k.Value), "appears twice (first at line %d)", first.Line)
			ok = false
			continue
		}
		f.keys[k.Value], f.vals[k.Value] = k, v
	}
	return f, ok
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// join builds a field path: join("steps[1]", "power") = "steps[1].power".
func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// describe names a node's kind for "got ..." in messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing"
		case "!!bool":
			return "the boolean " + n.Value
		case "!!int", "!!float":
			return "the number " + n.Value
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unexpected node"
}

// str reads a non-empty scalar as text.
func (p *parser) str(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" || n.Value == "" {
		p.fail(n, field, "want a word, got %s", describe(n))
		return "", false
	}
	return n.Value, true
}

// boolean reads true or false; "yes", "on" and friends are refused since
// YAML versions disagree about them.
func (p *parser) boolean(n *yaml.Node, field string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	p.fail(n, field, "want true or false, got %s", describe(n))
	return false, false
}

// integer reads a whole number within [lo, hi].
func (p *parser) integer(n *yaml.Node, field string, lo, hi int64) (int64, bool) {
	var i int64
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		p.fail(n, field, "want a whole number, got %s", describe(n))
		return 0, false
	}
	if i < lo || i > hi {
		p.fail(n, field, "%d is out of range %d..%d", i, lo, hi)
		return 0, false
	}
	return i, true
}

// decimal reads a number, whole or not, within [lo, hi].
func (p *parser) decimal(n *yaml.Node, field string, lo, hi float64) (float64, bool) {
	var f float64
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || n.Decode(&f) != nil {
		p.fail(n, field, "want a number, got %s", describe(n))
		return 0, false
	}
	// NaN fails both comparisons, so it is out of range too.
	if !(f >= lo && f <= hi) {
		p.fail(n, field, "%g is out of range %g..%g", f, lo, hi)
		return 0, false
	}
	return f, true
}

// duration reads a Go duration such as 500ms, 10s or 2m, positive and at
// most MaxDuration.
func (p *parser) duration(n *yaml.Node, field string) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		p.fail(n, field, "want a duration such as 10s or 500ms, got %s", describe(n))
		return 0, false
	}
	if t := n.ShortTag(); t == "!!int" || t == "!!float" {
		p.fail(n, field, "%s has no unit (want a duration such as 10s or 500ms)", n.Value)
		return 0, false
	}
	d, err := time.ParseDuration(n.Value)
	switch {
	case err != nil:
		p.fail(n, field, "%q is not a duration (want e.g. 10s or 500ms)", n.Value)
		return 0, false
	case d <= 0:
		p.fail(n, field, "duration must be positive, got %s", n.Value)
		return 0, false
	case d > MaxDuration:
		p.fail(n, field, "%s is longer than %s", n.Value, MaxDuration)
		return 0, false
	}
	return d, true
}

// byteSize reads a size in bytes: a whole number, or a number with a
// PostgreSQL-style unit (kB, MB, GB: powers of 1024).
func (p *parser) byteSize(n *yaml.Node, field string) (int64, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		return p.integer(n, field, 0, 1<<40)
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		if b, ok := parseBytes(n.Value); ok {
			return b, true
		}
	}
	p.fail(n, field, "want a size in bytes such as 1048576 or 16MB, got %s", describe(n))
	return 0, false
}

// parseBytes parses "16MB", "512kB", "1GB" or "100B" (1024-based, as in
// postgresql.conf), up to 1 TB.
func parseBytes(s string) (int64, bool) {
	units := []struct {
		suffix string
		mult   int64
	}{{"kB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"TB", 1 << 40}, {"B", 1}}
	s = strings.TrimSpace(s)
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		num = strings.TrimSpace(num)
		if num == "" || len(num) > 13 {
			return 0, false
		}
		var v int64
		for _, c := range num {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int64(c-'0')
		}
		if v > (1<<40)/u.mult {
			return 0, false
		}
		return v * u.mult, true
	}
	return 0, false
}

// formatBytes renders a size the way parseBytes reads it.
func formatBytes(b int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"kB", 1 << 10}} {
		if b >= u.mult && b%u.mult == 0 {
			return fmt.Sprintf("%d%s", b/u.mult, u.suffix)
		}
	}
	return fmt.Sprintf("%dB", b)
}

// selector reads one selector from set, checking "@last" against the
// steps before. etcdOK allows "@last" to mean the consensus store.
func (p *parser) selector(n *yaml.Node, field string, set selectorSet, etcdOK bool) (Selector, bool) {
	s, ok := p.str(n, field)
	if !ok {
		return Selector{}, false
	}
	sel, err := parseSelector(s, set, p.nodes)
	if err != nil {
		p.fail(n, field, "%v", err)
		return Selector{}, false
	}
	if sel.Kind == SelectLast {
		switch {
		case p.last == lastNone:
			p.fail(n, field, "\"@last\" has nothing to refer to: no power, switch or fault step before this one targets a node")
			return Selector{}, false
		case p.last == lastEtcd && !etcdOK:
			p.fail(n, field, "\"@last\" refers to etcd here, not to a node")
			return Selector{}, false
		}
	}
	return sel, true
}

// scenario parses the top-level mapping.
func (p *parser) scenario(root *yaml.Node) *Scenario {
	f, _ := p.mapping(root, "", "name", "description", "cluster", "steps")
	if f == nil {
		return nil
	}
	sc := &Scenario{File: p.file}
	if n := f.vals["name"]; n == nil {
		p.fail(root, "name", "missing: every scenario needs a name such as primary-power-cut")
	} else if s, ok := p.str(n, "name"); ok {
		if err := validName(s); err != nil {
			p.fail(n, "name", "%v", err)
		}
		sc.Name = s
	}
	if n := f.vals["description"]; n == nil {
		p.fail(root, "description", "missing: say what a Patroni user learns from this scenario")
	} else if s, ok := p.str(n, "description"); ok {
		sc.Description = strings.TrimSpace(s)
	}
	sc.Cluster = p.clusterSpec(f.vals["cluster"])
	p.spec = sc.Cluster
	if n := f.vals["steps"]; n == nil {
		p.fail(root, "steps", "missing: a scenario needs at least one step")
	} else {
		sc.Steps = p.steps(n)
	}
	return sc
}

// validName keeps scenario and fork names usable as file, JUnit and
// container names.
func validName(s string) error {
	if len(s) > 63 {
		return fmt.Errorf("%q is longer than 63 characters", s)
	}
	for i, r := range s {
		lower := r >= 'a' && r <= 'z'
		if !(lower || (i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '_'))) {
			return fmt.Errorf("%q: use lower-case letters, digits, '-' and '_', starting with a letter", s)
		}
	}
	return nil
}

// clusterSpec parses the cluster section; a missing section means the
// defaults.
func (p *parser) clusterSpec(n *yaml.Node) ClusterSpec {
	spec := ClusterSpec{Nodes: DefaultNodes, ProbeInterval: DefaultProbeInterval, MaximumLagOnFailover: DefaultMaximumLagOnFailover}
	spec.Timings, _ = cluster.ParseTimings(DefaultTimings)
	p.nodes = spec.Nodes
	if n == nil {
		return spec
	}
	const field = "cluster"
	f, _ := p.mapping(n, field, "nodes", "timings", "synchronous_mode", "synchronous_mode_strict",
		"failsafe_mode", "maximum_lag_on_failover", "tags", "probe_interval", "external_etcd", "postmortem_forks")
	if f == nil {
		return spec
	}
	if v := f.vals["nodes"]; v != nil {
		if nodes, ok := p.integer(v, field+".nodes", 1, MaxNodes); ok {
			spec.Nodes = int(nodes)
		} else {
			// Check later node names against the widest cluster, so one
			// mistake does not cascade into an error per step.
			spec.Nodes = MaxNodes
		}
		p.nodes = spec.Nodes
	}
	if v := f.vals["timings"]; v != nil {
		if s, ok := p.str(v, field+".timings"); ok {
			t, err := cluster.ParseTimings(s)
			if err != nil {
				p.fail(v, field+".timings", "%v", err)
			} else {
				spec.Timings = t
			}
		}
	}
	flags := []struct {
		key string
		dst *bool
	}{
		{"synchronous_mode", &spec.SynchronousMode},
		{"synchronous_mode_strict", &spec.SynchronousModeStrict},
		{"failsafe_mode", &spec.FailsafeMode},
		{"external_etcd", &spec.ExternalEtcd},
		{"postmortem_forks", &spec.PostmortemForks},
	}
	for _, fl := range flags {
		if v := f.vals[fl.key]; v != nil {
			*fl.dst, _ = p.boolean(v, join(field, fl.key))
		}
	}
	if spec.SynchronousModeStrict && !spec.SynchronousMode {
		p.fail(f.vals["synchronous_mode_strict"], field+".synchronous_mode_strict", "needs synchronous_mode: true")
	}
	if v := f.vals["maximum_lag_on_failover"]; v != nil {
		if b, ok := p.byteSize(v, field+".maximum_lag_on_failover"); ok {
			spec.MaximumLagOnFailover = b
		}
	}
	if v := f.vals["probe_interval"]; v != nil {
		if d, ok := p.duration(v, field+".probe_interval"); ok {
			if d < time.Millisecond {
				p.fail(v, field+".probe_interval", "%s is below 1ms", d)
			} else {
				spec.ProbeInterval = d
			}
		}
	}
	if v := f.vals["tags"]; v != nil {
		spec.Tags = p.tags(v, field+".tags")
	}
	return spec
}

// tags parses {n3: {nofailover: true}, ...}.
func (p *parser) tags(n *yaml.Node, field string) map[string]NodeTags {
	if n.Kind != yaml.MappingNode {
		p.fail(n, field, "want a mapping from node name to tags, such as {n3: {nofailover: true}}, got %s", describe(n))
		return nil
	}
	out := map[string]NodeTags{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		sel, ok := p.selector(k, field, selectorSet{nodes: true}, false)
		if !ok {
			continue
		}
		nf := join(field, sel.Node)
		if _, dup := out[sel.Node]; dup {
			p.fail(k, nf, "appears twice")
			continue
		}
		f, _ := p.mapping(v, nf, "nofailover", "noloadbalance")
		if f == nil {
			continue
		}
		var t NodeTags
		if x := f.vals["nofailover"]; x != nil {
			t.NoFailover, _ = p.boolean(x, nf+".nofailover")
		}
		if x := f.vals["noloadbalance"]; x != nil {
			t.NoLoadBalance, _ = p.boolean(x, nf+".noloadbalance")
		}
		out[sel.Node] = t
	}
	return out
}

// steps parses the step list in order, since "@last", recover and
// failover checks depend on the steps before.
func (p *parser) steps(n *yaml.Node) []Step {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, "steps", "want a list of steps, got %s", describe(n))
		return nil
	}
	if len(n.Content) == 0 {
		p.fail(n, "steps", "empty: a scenario needs at least one step")
		return nil
	}
	var out []Step
	for i, item := range n.Content {
		field := fmt.Sprintf("steps[%d]", i)
		if item.Kind != yaml.MappingNode || len(item.Content) != 2 {
			got := describe(item)
			if item.Kind == yaml.MappingNode {
				var keys []string
				for j := 0; j < len(item.Content); j += 2 {
					keys = append(keys, item.Content[j].Value)
				}
				got = fmt.Sprintf("%d keys (%s)", len(keys), strings.Join(keys, ", "))
			}
			p.fail(item, field, "a step is a mapping with one key such as `power: {off: primary}`, got %s", got)
			continue
		}
		k, v := item.Content[0], item.Content[1]
		kind := StepKind(k.Value)
		field = join(field, k.Value)
		st := Step{Kind: kind, Line: item.Line, Column: item.Column}
		ok := true
		switch kind {
		case StepWait:
			st.Wait, ok = p.wait(v, field)
		case StepPower:
			st.Power, ok = p.power(v, field)
		case StepSwitch:
			st.Switch, ok = p.switchStep(v, field)
		case StepFault:
			st.Fault, ok = p.fault(v, field, item.Line)
		case StepFork:
			st.Fork, ok = p.fork(v, field, item.Line)
		case StepSleep:
			var d time.Duration
			if d, ok = p.duration(v, field); ok {
				st.Sleep = &SleepStep{Duration: d}
			}
		case StepExpect:
			st.Expect, ok = p.expect(v, field)
		default:
			var names []string
			for _, k := range stepKinds() {
				names = append(names, string(k))
			}
			p.fail(k, fmt.Sprintf("steps[%d]", i), "unknown step %q (want %s)", k.Value, strings.Join(names, ", "))
			ok = false
		}
		if ok {
			out = append(out, st)
		}
	}
	return out
}

func (p *parser) wait(n *yaml.Node, field string) (*WaitStep, bool) {
	if n.Kind == yaml.ScalarNode {
		switch WaitFor(n.Value) {
		case WaitHealthy, WaitStreaming:
			return &WaitStep{For: WaitFor(n.Value)}, true
		}
		if _, err := time.ParseDuration(n.Value); err == nil {
			d, ok := p.duration(n, field)
			return &WaitStep{For: WaitDuration, Duration: d}, ok
		}
		p.fail(n, field, "unknown wait %s (want healthy, streaming, a duration such as 5s, or {role: primary, node: n1, within: 30s})", describe(n))
		return nil, false
	}
	f, ok := p.mapping(n, field, "role", "node", "within")
	if f == nil {
		return nil, false
	}
	w := &WaitStep{For: WaitRole, Node: Selector{Kind: SelectAny}}
	if v := f.vals["role"]; v == nil {
		p.fail(n, join(field, "role"), "missing: wait for role primary or replica")
		ok = false
	} else if s, good := p.str(v, join(field, "role")); !good {
		ok = false
	} else if r := cluster.Role(s); r != cluster.RolePrimary && r != cluster.RoleReplica {
		p.fail(v, join(field, "role"), "unknown role %q (want primary or replica)", s)
		ok = false
	} else {
		w.Role = r
	}
	if v := f.vals["node"]; v != nil {
		sel, good := p.selector(v, join(field, "node"), waitSelectors(), false)
		ok = ok && good
		w.Node = sel
	}
	if v := f.vals["within"]; v != nil {
		d, good := p.duration(v, join(field, "within"))
		ok = ok && good
		w.Within = d
	}
	return w, ok
}

func (p *parser) power(n *yaml.Node, field string) (*PowerStep, bool) {
	f, ok := p.mapping(n, field, "off", "on")
	if f == nil {
		return nil, false
	}
	if f.has("on") == f.has("off") {
		p.fail(n, field, "want exactly one of off or on, such as {off: primary}")
		return nil, false
	}
	ps := &PowerStep{On: f.has("on")}
	key, set := "off", powerSelectors()
	if ps.On {
		// A node that is off has no role, so "on" takes names only.
		key, set = "on", selectorSet{kinds: []SelectKind{SelectLast, SelectAll}, nodes: true}
	}
	ps.Targets, ok = p.selectorList(f.vals[key], join(field, key), set)
	// Even a step with a mistake meant to hit a node: record that, so
	// later steps do not report follow-on errors about @last.
	p.last, p.disrupted = lastNodes, true
	return ps, ok
}

// selectorList reads one selector or a list of them, without repeats;
// "all" stands alone.
func (p *parser) selectorList(n *yaml.Node, field string, set selectorSet) ([]Selector, bool) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
		if len(items) == 0 {
			p.fail(n, field, "empty list: name at least one target")
			return nil, false
		}
	}
	var out []Selector
	ok := true
	seen := map[Selector]bool{}
	for i, item := range items {
		f := field
		if n.Kind == yaml.SequenceNode {
			f = fmt.Sprintf("%s[%d]", field, i)
		}
		sel, good := p.selector(item, f, set, false)
		if !good {
			ok = false
			continue
		}
		switch {
		case sel.Kind == SelectAll && len(items) > 1:
			p.fail(item, f, "\"all\" already means every node; list nothing else with it")
			ok = false
		case seen[sel] && sel.Kind != SelectReplica && sel.Kind != SelectAny:
			p.fail(item, f, "%q is listed twice", sel)
			ok = false
		}
		seen[sel] = true
		out = append(out, sel)
	}
	return out, ok
}

func (p *parser) switchStep(n *yaml.Node, field string) (*SwitchStep, bool) {
	f, ok := p.mapping(n, field, "id", "on", "bounce", "window")
	if f == nil {
		return nil, false
	}
	s := &SwitchStep{}
	if v := f.vals["id"]; v == nil {
		p.fail(n, join(field, "id"), "missing: which switch (1..%d; switch N powers node nN)", p.nodes)
		ok = false
	} else if id, good := p.integer(v, join(field, "id"), 1, int64(p.nodes)); good {
		s.ID = int(id)
	} else {
		ok = false
	}
	if v := f.vals["on"]; v == nil {
		p.fail(n, join(field, "on"), "missing: the switch's final position, true (power on) or false (power off)")
		ok = false
	} else if b, good := p.boolean(v, join(field, "on")); good {
		s.On = b
	} else {
		ok = false
	}
	if v := f.vals["bounce"]; v != nil {
		b, good := p.integer(v, join(field, "bounce"), 0, 100)
		ok = ok && good
		s.Bounce = int(b)
	}
	if v := f.vals["window"]; v != nil {
		d, good := p.duration(v, join(field, "window"))
		ok = ok && good
		s.Window = d
		if s.Bounce == 0 && good {
			p.fail(v, join(field, "window"), "a window only makes sense with bounce: N")
			ok = false
		}
	}
	if s.Bounce > 0 && s.Window == 0 {
		s.Window = DefaultBounceWindow
	}
	p.last, p.disrupted = lastNodes, true
	return s, ok
}

func (p *parser) fault(n *yaml.Node, field string, line int) (*FaultStep, bool) {
	f, ok := p.mapping(n, field, append([]string{"inject", "recover", "target"}, faultParams()...)...)
	if f == nil {
		return nil, false
	}
	if f.has("inject") == f.has("recover") {
		p.fail(n, field, "want exactly one of inject or recover, such as {inject: freeze, target: primary}")
		return nil, false
	}
	if f.has("recover") {
		return p.recoverFault(f, field)
	}
	kf := join(field, "inject")
	kindName, good := p.str(f.vals["inject"], kf)
	if !good {
		return nil, false
	}
	info, known := faultKindInfo(FaultKind(kindName))
	if !known {
		p.fail(f.vals["inject"], kf, "unknown fault kind %q (want %s)", kindName, faultKindNames())
		return nil, false
	}
	step := &FaultStep{Inject: true, Kind: info.Kind}
	for _, param := range faultParams() {
		if v := f.vals[param]; v != nil && !info.takes(param) {
			takes := "no parameters"
			if len(info.Params) > 0 {
				takes = strings.Join(info.Params, ", ")
			}
			p.fail(f.keys[param], join(field, param), "%s takes no %q (it takes %s)", info.Kind, param, takes)
			ok = false
		}
	}
	// Target.
	tf := join(field, "target")
	switch v := f.vals["target"]; {
	case v == nil && info.EtcdTarget && !info.NodeTarget:
		step.Target = Selector{Kind: SelectEtcd}
	case v == nil:
		p.fail(n, tf, "missing: where %s goes (want %s)", info.Kind, p.faultTargets(info).want(p.nodes))
		ok = false
	default:
		sel, good := p.selector(v, tf, p.faultTargets(info), info.EtcdTarget)
		switch {
		case !good:
			ok = false
		case sel.Kind == SelectPrimary && info.ReplicaOnly:
			p.fail(v, tf, "%s needs a replica, not the primary", info.Kind)
			ok = false
		case sel.Kind == SelectEtcd && info.NodeTarget && !p.spec.ExternalEtcd:
			p.fail(v, tf, "%s of etcd needs cluster.external_etcd: true (the head node's embedded etcd cannot be cut alone; use etcd_outage)", info.Kind)
			ok = false
		}
		step.Target = sel
	}
	if v := f.vals["from"]; v != nil && info.takes("from") {
		s, good := p.str(v, join(field, "from"))
		switch from := PartitionFrom(s); {
		case !good:
			ok = false
		case from == FromEtcd || from == FromNodes || from == FromAll:
			step.From = from
		default:
			p.fail(v, join(field, "from"), "unknown %q (want etcd, nodes or all)", s)
			ok = false
		}
	} else if info.Kind == FaultPartition {
		step.From = FromAll
	}
	if info.Kind == FaultReplicaLag {
		if v := f.vals["lag"]; v == nil {
			p.fail(n, join(field, "lag"), "missing: how far behind the replica must fall, such as 16MB (maximum_lag_on_failover is %s)", formatBytes(p.spec.MaximumLagOnFailover))
			ok = false
		} else if b, good := p.byteSize(v, join(field, "lag")); !good {
			ok = false
		} else if b == 0 {
			p.fail(v, join(field, "lag"), "must be more than 0 bytes")
			ok = false
		} else {
			step.Lag = b
		}
		if v := f.vals["pause"]; v != nil {
			b, good := p.boolean(v, join(field, "pause"))
			ok = ok && good
			step.Pause = b
		}
	}
	if info.Kind == FaultCPUStarve {
		step.CPUPercent = faults.DefaultCPUPercent
		if v := f.vals["cpu_percent"]; v != nil {
			pct, good := p.decimal(v, join(field, "cpu_percent"), faults.MinCPUPercent, 100)
			ok = ok && good
			step.CPUPercent = pct
		}
	}
	if v := f.vals["for"]; v != nil && info.takes("for") {
		d, good := p.duration(v, join(field, "for"))
		ok = ok && good
		step.For = d
	}
	// Record the fault even when a parameter is wrong, so its recover
	// step does not report a follow-on error.
	if info.Recoverable && step.For == 0 {
		p.open = append(p.open, openFault{kind: info.Kind, target: step.Target.String(), line: line})
	}
	p.last, p.disrupted = lastNodes, true
	if step.Target.Kind == SelectEtcd {
		p.last = lastEtcd
	}
	return step, ok
}

// faultParams are the keys of a fault step besides inject, recover and
// target: each kind takes some of them (FaultKindInfo.Params).
func faultParams() []string { return []string{"from", "lag", "pause", "cpu_percent", "for"} }

// faultTargets is the selector set a fault kind accepts.
func (p *parser) faultTargets(info FaultKindInfo) selectorSet {
	if !info.NodeTarget {
		return selectorSet{kinds: []SelectKind{SelectEtcd}}
	}
	set := targetSelectors()
	if info.EtcdTarget {
		set = faultSelectors()
	}
	return set
}

// recoverFault resolves a recover step to the inject step it ends.
func (p *parser) recoverFault(f *fields, field string) (*FaultStep, bool) {
	rf := join(field, "recover")
	v := f.vals["recover"]
	what, ok := p.str(v, rf)
	if !ok {
		return nil, false
	}
	for _, param := range faultParams() {
		if f.has(param) {
			p.fail(f.keys[param], join(field, param), "recover takes only target; %q belongs on the inject step", param)
			ok = false
		}
	}
	var kind FaultKind
	if what != "@last" {
		info, known := faultKindInfo(FaultKind(what))
		switch {
		case !known:
			p.fail(v, rf, "unknown fault kind %q (want @last, %s)", what, faultKindNames())
			return nil, false
		case info.Kind == FaultCorrupt:
			p.fail(v, rf, "corrupt is healed by the cluster re-initialising the node; expect {reinitialised: NODE} instead")
			return nil, false
		case !info.Recoverable:
			p.fail(v, rf, "%s heals by itself; there is nothing to recover", info.Kind)
			return nil, false
		}
		kind = info.Kind
	}
	target := ""
	if t := f.vals["target"]; t != nil {
		sel, good := p.selector(t, join(field, "target"), faultSelectors(), true)
		if !good {
			return nil, false
		}
		target = sel.String()
	}
	for i := len(p.open) - 1; i >= 0; i-- {
		o := p.open[i]
		if (kind == "" || o.kind == kind) && (target == "" || o.target == target) {
			// @last keeps pointing at the injection's target: a recover
			// step restores, it does not pick a new victim.
			p.open = append(p.open[:i], p.open[i+1:]...)
			return &FaultStep{Kind: o.kind, Injected: o.line}, ok
		}
	}
	var active []string
	for _, o := range p.open {
		active = append(active, fmt.Sprintf("%s on %s (line %d)", o.kind, o.target, o.line))
	}
	desc := "none"
	if len(active) > 0 {
		desc = strings.Join(active, ", ")
	}
	subject := "a fault"
	if kind != "" {
		subject = "a " + string(kind) + " fault"
	}
	if target != "" {
		subject += " on " + target
	}
	p.fail(v, rf, "no %s is active to recover (active: %s; faults with \"for\" recover by themselves)", strings.TrimPrefix(subject, "a "), desc)
	return nil, false
}

func (p *parser) fork(n *yaml.Node, field string, line int) (*ForkStep, bool) {
	f, ok := p.mapping(n, field, "from", "name")
	if f == nil {
		return nil, false
	}
	fk := &ForkStep{}
	if v := f.vals["from"]; v == nil {
		p.fail(n, join(field, "from"), "missing: which node to fork (want %s)", targetSelectors().want(p.nodes))
		ok = false
	} else {
		sel, good := p.selector(v, join(field, "from"), targetSelectors(), false)
		ok = ok && good
		fk.From = sel
	}
	if v := f.vals["name"]; v == nil {
		p.fail(n, join(field, "name"), "missing: a name for the fork, such as demo")
		ok = false
	} else if s, good := p.str(v, join(field, "name")); !good {
		ok = false
	} else if err := validName(s); err != nil {
		p.fail(v, join(field, "name"), "%v", err)
		ok = false
	} else if first, dup := p.forks[s]; dup {
		p.fail(v, join(field, "name"), "fork %q already made at line %d", s, first)
		ok = false
	} else {
		p.forks[s] = line
		fk.Name = s
	}
	return fk, ok
}

// expectChecks lists the checks an expect step can hold, in the order of
// error messages.
func expectChecks() []string {
	return []string{"failover", "no_failover", "lost_commits", "split_brain", "writes",
		"primary", "timeline_advanced", "rejoined", "reinitialised", "postmortem", "power_cuts"}
}

func (p *parser) expect(n *yaml.Node, field string) (*ExpectStep, bool) {
	f, ok := p.mapping(n, field, append(expectChecks(), "rewound", "within")...)
	if f == nil {
		return nil, false
	}
	e := &ExpectStep{}
	checks := 0
	// Once a key is unknown, "checks nothing" would only repeat the typo.
	for _, k := range expectChecks() {
		if f.has(k) {
			checks++
		}
	}
	if checks == 0 {
		if ok {
			p.fail(n, field, "checks nothing (want at least one of %s)", strings.Join(expectChecks(), ", "))
		}
		return nil, false
	}
	sub := func(k string) string { return join(field, k) }
	if v := f.vals["failover"]; v != nil {
		if !p.disrupted {
			p.fail(f.keys["failover"], sub("failover"), "failover after what? no power, switch or fault step comes before this one")
			ok = false
		}
		fe := &FailoverExpect{}
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!bool" {
			if b, _ := p.boolean(v, sub("failover")); !b {
				p.fail(v, sub("failover"), "failover: false is spelled no_failover: true")
				ok, fe = false, nil
			}
		} else if ff, good := p.mapping(v, sub("failover"), "within"); ff == nil || !good {
			ok = false
		} else if w := ff.vals["within"]; w != nil {
			d, good := p.duration(w, sub("failover.within"))
			ok = ok && good
			fe.Within = d
		}
		e.Failover = fe
	}
	if v := f.vals["no_failover"]; v != nil {
		b, good := p.boolean(v, sub("no_failover"))
		switch {
		case !good:
			ok = false
		case !b:
			p.fail(v, sub("no_failover"), "no_failover: false checks nothing; expect failover instead")
			ok = false
		default:
			e.NoFailover = true
		}
		if e.NoFailover && e.Failover != nil {
			p.fail(f.keys["no_failover"], sub("no_failover"), "contradicts failover in the same step")
			ok = false
		}
	}
	if v := f.vals["lost_commits"]; v != nil {
		if c, good := p.integer(v, sub("lost_commits"), 0, 1<<31-1); good {
			lc := int(c)
			e.LostCommits = &lc
		} else {
			ok = false
		}
	}
	if v := f.vals["split_brain"]; v != nil {
		if b, good := p.boolean(v, sub("split_brain")); !good {
			ok = false
		} else if b {
			p.fail(v, sub("split_brain"), "only split_brain: false can be expected: two writable primaries is always a failure")
			ok = false
		} else {
			e.SplitBrain = &b
		}
	}
	if v := f.vals["writes"]; v != nil {
		w, good := p.writes(v, sub("writes"))
		ok = ok && good
		e.Writes = w
	}
	if v := f.vals["primary"]; v != nil {
		pe, good := p.primaryExpect(v, sub("primary"))
		ok = ok && good
		e.Primary = pe
	}
	if v := f.vals["timeline_advanced"]; v != nil {
		b, good := p.boolean(v, sub("timeline_advanced"))
		ok = ok && good
		e.TimelineAdvanced = &b
	}
	if v := f.vals["rejoined"]; v != nil {
		sel, good := p.selector(v, sub("rejoined"), rejoinSelectors(), false)
		ok = ok && good
		e.Rejoined = &sel
	}
	if v := f.vals["rewound"]; v != nil {
		b, good := p.boolean(v, sub("rewound"))
		ok = ok && good
		e.Rewound = &b
		if e.Rejoined == nil {
			p.fail(f.keys["rewound"], sub("rewound"), "needs rejoined: NODE in the same step")
			ok = false
		}
	}
	if v := f.vals["reinitialised"]; v != nil {
		sel, good := p.selector(v, sub("reinitialised"), namedSelectors(), false)
		ok = ok && good
		e.Reinitialised = &sel
	}
	if v := f.vals["postmortem"]; v != nil {
		sel, good := p.selector(v, sub("postmortem"), namedSelectors(), false)
		ok = ok && good
		e.Postmortem = &sel
	}
	if v := f.vals["power_cuts"]; v != nil {
		if c, good := p.integer(v, sub("power_cuts"), 0, 1000); good {
			pc := int(c)
			e.PowerCuts = &pc
		} else {
			ok = false
		}
	}
	if v := f.vals["within"]; v != nil {
		d, good := p.duration(v, sub("within"))
		ok = ok && good
		e.Within = d
		if e.Primary == nil && e.TimelineAdvanced == nil && e.Rejoined == nil && e.Reinitialised == nil && e.Postmortem == nil {
			p.fail(f.keys["within"], sub("within"), "bounds primary, timeline_advanced, rejoined, reinitialised or postmortem, and this step has none (failover takes its own {within: ...})")
			ok = false
		}
	}
	return e, ok
}

// writes reads `available`, `unavailable`, or a mapping such as
// {unavailable, during: 10s} (a flow-mapping key with no value) or
// {available: true, during: 30s}.
func (p *parser) writes(n *yaml.Node, field string) (*WritesExpect, bool) {
	if n.Kind == yaml.ScalarNode {
		switch n.Value {
		case "available":
			return &WritesExpect{Available: true}, true
		case "unavailable":
			return &WritesExpect{}, true
		}
		p.fail(n, field, "want available or unavailable, or {available, during: 10s}, got %s", describe(n))
		return nil, false
	}
	f, ok := p.mapping(n, field, "available", "unavailable", "during")
	if f == nil {
		return nil, false
	}
	if f.has("available") == f.has("unavailable") {
		p.fail(n, field, "want exactly one of available or unavailable")
		return nil, false
	}
	w := &WritesExpect{Available: f.has("available")}
	key := "unavailable"
	if w.Available {
		key = "available"
	}
	if v := f.vals[key]; v.ShortTag() != "!!null" {
		if b, good := p.boolean(v, join(field, key)); !good {
			ok = false
		} else if !b {
			p.fail(v, join(field, key), "%s: false is confusing; write the opposite word", key)
			ok = false
		}
	}
	if v := f.vals["during"]; v != nil {
		d, good := p.duration(v, join(field, "during"))
		ok = ok && good
		w.During = d
	}
	return w, ok
}

func (p *parser) primaryExpect(n *yaml.Node, field string) (*PrimaryExpect, bool) {
	f, ok := p.mapping(n, field, "is", "is_not")
	if f == nil {
		return nil, false
	}
	if f.has("is") == f.has("is_not") {
		p.fail(n, field, "want exactly one of is or is_not, such as {is_not: \"@last\"}")
		return nil, false
	}
	pe := &PrimaryExpect{}
	for _, k := range []string{"is", "is_not"} {
		v := f.vals[k]
		if v == nil {
			continue
		}
		sel, good := p.selector(v, join(field, k), namedSelectors(), false)
		ok = ok && good
		if k == "is" {
			pe.Is = &sel
		} else {
			pe.IsNot = &sel
		}
	}
	return pe, ok
}
