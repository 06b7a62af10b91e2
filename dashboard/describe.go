package dashboard

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/journal"
)

// maxField bounds any journal-supplied string shown on the public screen.
const maxField = 120

// Describe turns a journal event into an event-log line in plain words. It
// reports false for events that are not worth a line (probe acknowledgements
// and single write errors, which the rate strip already shows) and for kinds
// it does not know.
func Describe(e journal.Event) (Line, bool) {
	text, kind, ok := describe(e)
	if !ok {
		return Line{}, false
	}
	return Line{At: e.At, Text: text, Kind: kind}, true
}

func describe(e journal.Event) (text, kind string, ok bool) {
	node := clean(e.Node)
	if node == "" {
		node = "a node"
	}
	switch e.Kind {
	case journal.KindPower:
		if e.On == nil {
			return "", "", false
		}
		by := powerSource(clean(e.Source))
		if *e.On {
			return "power restored on " + node + by, LineRecover, true
		}
		return "power cut on " + node + by, LineFault, true

	case journal.KindSwitch:
		if e.On == nil {
			return "", "", false
		}
		name := "a switch"
		if id := clean(e.ID); id != "" {
			name = "switch " + id
		}
		text = name + " flipped " + onOff(*e.On)
		if e.Node != "" {
			text += " (" + node + ")"
		}
		return text, LineInfo, true

	case journal.KindFaultInject, journal.KindFaultRecover:
		fault := clean(e.Detail)
		if fault == "" {
			fault = "fault"
		}
		where := ""
		if e.Node != "" {
			where = " on " + node
		}
		if e.Kind == journal.KindFaultInject {
			return fault + " injected" + where, LineFault, true
		}
		if e.Source == journal.SourcePowerOn {
			return fault + " removed" + where + ", its power back", LineRecover, true
		}
		var pending []string
		for _, n := range e.Pending {
			pending = append(pending, clean(n))
		}
		if len(pending) > 0 {
			// Bounded like every other field: a list of names is not.
			rest := clean(strings.Join(pending, ", "))
			return fault + " removed" + where + " (" + rest + " once powered on)", LineRecover, true
		}
		return fault + " removed" + where, LineRecover, true

	case journal.KindLeader:
		if e.Node == "" {
			switch d := clean(e.Detail); d {
			case "", "expired":
				return "leader key expired", LineFault, true
			default:
				return "leader key gone (" + d + ")", LineFault, true
			}
		}
		return node + " took the leader key", LineInfo, true

	case journal.KindRole:
		return describeRole(node, e)

	case journal.KindHAProxy:
		if e.On == nil {
			return "", "", false
		}
		listener := clean(e.Detail)
		if listener == "" {
			listener = "primary"
		}
		if *e.On {
			return "HAProxy routes " + listener + " traffic to " + node, LineRecover, true
		}
		return "HAProxy stopped routing " + listener + " traffic to " + node, LineInfo, true

	case journal.KindAgent:
		if e.On == nil {
			return "", "", false
		}
		if *e.On {
			return "agent on " + node + " is up", LineRecover, true
		}
		return "agent on " + node + " went silent", LineFault, true

	case journal.KindNode:
		switch d := clean(e.Detail); d {
		case "rewound", "rewind":
			return node + " rejoined after pg_rewind", LineRecover, true
		case "reinitialised", "reinitialized", "reinit":
			return node + " rejoined after a full copy from the primary", LineRecover, true
		case "":
			return "", "", false
		default:
			return node + ": " + d, LineInfo, true
		}

	case journal.KindWritable:
		text = node + "'s PostgreSQL accepts writes"
		if d := clean(e.Detail); d != "" {
			text += " (" + d + ")"
		}
		return text, LineRecover, true

	case journal.KindMark:
		d := clean(e.Detail)
		if d == "" {
			return "", "", false
		}
		return d, LineInfo, true

	case journal.KindProbeReadback:
		switch n := len(e.Missing); n {
		case 0:
			return fmt.Sprintf("read back: every acknowledged commit up to #%d is there", e.Last), LineRecover, true
		case 1:
			return fmt.Sprintf("read back: 1 acknowledged commit is missing (#%d)", e.Missing[0]), LineAlarm, true
		default:
			return fmt.Sprintf("read back: %d acknowledged commits are missing", n), LineAlarm, true
		}
	}
	// Probe acks and errors arrive dozens a second: the rate strip shows them.
	return "", "", false
}

func describeRole(node string, e journal.Event) (string, string, bool) {
	state := clean(e.State)
	if state == "gone" {
		return node + " left the cluster", LineFault, true
	}
	role := cluster.Role(clean(e.Role))
	switch role {
	case cluster.RoleDown, cluster.RoleStarting, cluster.RoleRewinding, cluster.RoleReinitialising:
		// Already in redswitch's words; Patroni has no such roles.
	default:
		// Patroni's role and state together; "primary" and "replica" map
		// to themselves unless the state says the node is not running.
		role = cluster.RoleFromPatroni(string(role), state)
	}
	if strings.Contains(state, "rewind") {
		role = cluster.RoleRewinding
	}
	tl := ""
	if e.Timeline > 0 {
		tl = " on timeline " + strconv.Itoa(e.Timeline)
	}
	switch role {
	case cluster.RolePrimary:
		return node + " promoted" + tl, LineRecover, true
	case cluster.RoleReplica:
		return node + " is a replica" + tl, LineInfo, true
	case cluster.RoleDown:
		if state == "" {
			return node + " is down", LineFault, true
		}
		return node + " is down (" + state + ")", LineFault, true
	case cluster.RoleStarting:
		return node + " is starting", LineInfo, true
	case cluster.RoleRewinding:
		return node + " is rewinding with pg_rewind", LineInfo, true
	case cluster.RoleReinitialising:
		return node + " is copying itself afresh from the primary", LineInfo, true
	}
	if state == "" && e.Role == "" {
		return "", "", false
	}
	return node + " reports role " + quoteOr(clean(e.Role)) + ", state " + quoteOr(state), LineInfo, true
}

// powerSource says in words who switched the power.
func powerSource(src string) string {
	switch {
	case src == "":
		return ""
	case src == "api":
		return " (operator)"
	case src == "observed":
		return " (noticed)"
	case strings.HasPrefix(src, "switch"):
		id := strings.TrimLeft(strings.TrimPrefix(src, "switch"), " :-#")
		if id == "" {
			return " (a switch)"
		}
		return " (switch " + id + ")"
	}
	return " (" + src + ")"
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

func quoteOr(s string) string {
	if s == "" {
		return "none"
	}
	return strconv.Quote(s)
}

// clean makes a journal string safe and short for a public screen: no
// control characters, no invalid UTF-8, at most maxField runes.
func clean(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.TrimSpace(s) {
		if n == maxField {
			b.WriteString("…")
			break
		}
		switch {
		case r == unicode.ReplacementChar:
			b.WriteRune('?')
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			b.WriteRune(' ')
		default:
			b.WriteRune(r)
		}
		n++
	}
	return strings.TrimSpace(b.String())
}
