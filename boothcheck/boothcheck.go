// Package boothcheck is the pre-show checklist of a booth: from a laptop on
// the booth's LAN it plays a visitor who wants in, trying each port of the
// head node and the database nodes without credentials (or with the
// well-known default ones), and says what answered. Only the public,
// read-only dashboard and API may answer; everything else must refuse.
//
// The list of attempts is derived from the booth configuration by a pure
// function (Plan); the attempts themselves are behind Prober, and the
// verdict and table are pure again. Every attempt is harmless when it
// succeeds: it asks for something that fails after the access check (an
// unknown node, an invalid schedule) or only reads.
package boothcheck

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/booth"
	"github.com/redswitch/redswitch/cluster"
)

// Kind is what an attempt tries.
type Kind string

// The attempts an outsider makes.
const (
	// KindAPIRead reads GET /api/v1/state: public by design.
	KindAPIRead Kind = "api-read"
	// KindAPIWrite posts a power change for a node that does not exist,
	// without a token: 401 is right, 404 means the token is not checked.
	KindAPIWrite Kind = "api-write"
	// KindEtcd reads keys through etcd's JSON gateway without
	// credentials.
	KindEtcd Kind = "etcd"
	// KindPatroni posts a restart with an invalid schedule to Patroni's
	// REST API without credentials: 401 is right, 400 means the unsafe
	// endpoints are open (the invalid schedule stops it from acting).
	KindPatroni Kind = "patroni"
	// KindPostgres logs in with the superuser and the default password.
	KindPostgres Kind = "postgres"
	// KindAgent asks an agent for its status without the cluster token.
	KindAgent Kind = "agent"
	// KindStats opens HAProxy's stats page, meant for the head node only.
	KindStats Kind = "haproxy-stats"
)

// DefaultUser and DefaultPassword are the credentials every outsider
// tries first.
const (
	DefaultUser     = "postgres"
	DefaultPassword = "postgres"
)

// Attempt is one thing an outsider tries.
type Attempt struct {
	Kind Kind
	// Target names the thing tried, for the table ("head node API", "n1").
	Target string
	// Addr is host:port.
	Addr string
	// Public: answering is right (the read-only dashboard and API).
	Public bool
}

// Outcome is what an attempt met.
type Outcome string

// The outcomes.
const (
	// Open: the outsider got what it asked for.
	Open Outcome = "open"
	// Refused: the service answered and refused (401, bad password,
	// TLS or authentication required).
	Refused Outcome = "refused"
	// Unreachable: nothing answered on the port.
	Unreachable Outcome = "unreachable"
	// Unknown: an answer the check cannot classify; treated as open,
	// since the check cannot show it is closed.
	Unknown Outcome = "unknown"
)

// Result is an attempt with what it met.
type Result struct {
	Attempt
	Outcome Outcome
	// Detail is the evidence: the status code, the error.
	Detail string
}

// OK says whether the result is what a safe booth shows: public things
// answer, nothing else does.
func (r Result) OK() bool {
	if r.Public {
		return r.Outcome == Open
	}
	return r.Outcome == Refused || r.Outcome == Unreachable
}

// Plan lists the attempts for a booth configuration. head is the head
// node's address as the LAN sees it: the configuration's listeners often
// bind every address (":8080"), which says nothing about where to knock.
func Plan(cfg *booth.Config, head string) ([]Attempt, error) {
	if head == "" {
		return nil, fmt.Errorf("the head node's address on the booth LAN is required")
	}
	var out []Attempt
	at := func(kind Kind, target, listen string, public bool) error {
		host, port, err := net.SplitHostPort(listen)
		if err != nil {
			return fmt.Errorf("%s: %q: %w", target, listen, err)
		}
		// A listener bound to one LAN address is knocked on there; a
		// wildcard or loopback one at the head node's address, where a
		// visitor would try (and a loopback one must not answer).
		if ip := net.ParseIP(host); host == "" || (ip != nil && (ip.IsUnspecified() || ip.IsLoopback())) {
			host = head
		}
		out = append(out, Attempt{Kind: kind, Target: target, Addr: net.JoinHostPort(host, port), Public: public})
		return nil
	}
	for _, a := range []struct {
		kind   Kind
		target string
		listen string
		public bool
	}{
		{KindAPIRead, "head node API (public)", cfg.Listen.API, true},
		{KindAPIWrite, "head node API without token", cfg.Listen.API, false},
		{KindEtcd, "etcd", cfg.Listen.EtcdClient, false},
		{KindPostgres, "HAProxy primary", cfg.Listen.Primary, false},
		{KindPostgres, "HAProxy replicas", cfg.Listen.Replicas, false},
		{KindStats, "HAProxy stats", cfg.Listen.Stats, false},
	} {
		if err := at(a.kind, a.target, a.listen, a.public); err != nil {
			return nil, err
		}
	}
	for _, n := range cfg.Nodes {
		host := n.Address
		out = append(out,
			Attempt{Kind: KindPatroni, Target: n.Name + " Patroni REST", Addr: net.JoinHostPort(host, strconv.Itoa(cluster.PatroniPort))},
			Attempt{Kind: KindPostgres, Target: n.Name + " PostgreSQL", Addr: net.JoinHostPort(host, strconv.Itoa(cluster.PostgresPort))})
		agent := net.JoinHostPort(host, strconv.Itoa(cluster.AgentPort))
		if n.Agent != "" {
			if h, p, err := hostPortOfURL(n.Agent); err == nil {
				agent = net.JoinHostPort(h, p)
			}
		}
		out = append(out, Attempt{Kind: KindAgent, Target: n.Name + " agent", Addr: agent})
	}
	return out, nil
}

// Prober makes one attempt and says what it met.
type Prober interface {
	Try(ctx context.Context, a Attempt) (Outcome, string)
}

// Run makes every attempt in order.
func Run(ctx context.Context, p Prober, attempts []Attempt) []Result {
	out := make([]Result, 0, len(attempts))
	for _, a := range attempts {
		o, detail := p.Try(ctx, a)
		out = append(out, Result{Attempt: a, Outcome: o, Detail: detail})
	}
	return out
}

// Failed lists the results a safe booth does not show.
func Failed(results []Result) []Result {
	var bad []Result
	for _, r := range results {
		if !r.OK() {
			bad = append(bad, r)
		}
	}
	return bad
}

// ResultJSON is one result as `booth check --json` prints it.
type ResultJSON struct {
	Target  string  `json:"target"`
	Addr    string  `json:"addr"`
	Kind    Kind    `json:"kind"`
	Public  bool    `json:"public"`
	Outcome Outcome `json:"outcome"`
	OK      bool    `json:"ok"`
	Detail  string  `json:"detail"`
}

// JSON is the results for machines.
func JSON(results []Result) []ResultJSON {
	out := make([]ResultJSON, 0, len(results))
	for _, r := range results {
		out = append(out, ResultJSON{Target: r.Target, Addr: r.Addr, Kind: r.Kind, Public: r.Public, Outcome: r.Outcome, OK: r.OK(), Detail: r.Detail})
	}
	return out
}

// Table renders the results for a person: one line each, then the
// verdict.
func Table(results []Result) string {
	rows := [][]string{{"TARGET", "ADDRESS", "TRIED", "RESULT", "OK", "DETAIL"}}
	for _, r := range results {
		ok := "yes"
		if !r.OK() {
			ok = "NO"
		}
		rows = append(rows, []string{r.Target, r.Addr, string(r.Kind), string(r.Outcome), ok, oneLine(r.Detail)})
	}
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		var line strings.Builder
		for i, c := range row {
			if i == len(row)-1 {
				line.WriteString(c)
				break
			}
			line.WriteString(c + strings.Repeat(" ", width[i]-len(c)+2))
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	bad := Failed(results)
	if len(bad) == 0 {
		fmt.Fprintf(&b, "booth check: %d attempts, nothing open that should not be\n", len(results))
		return b.String()
	}
	var names []string
	for _, r := range bad {
		names = append(names, r.Target)
	}
	sort.Strings(names)
	fmt.Fprintf(&b, "booth check: %d of %d attempts not as they should be: %s\n", len(bad), len(results), strings.Join(names, ", "))
	return b.String()
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 90 {
		s = s[:87] + "..."
	}
	return s
}

// agentStatusPath is what the agent attempt asks for.
const agentStatusPath = agentapi.PathStatus
