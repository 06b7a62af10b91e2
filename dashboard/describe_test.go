package dashboard

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/redswitch/redswitch/journal"
)

var t0 = time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)

// ev builds an event of kind k, then lets set adjust it.
func ev(k journal.Kind, set func(*journal.Event)) journal.Event {
	e := journal.Event{Seq: 1, At: t0, Kind: k}
	if set != nil {
		set(&e)
	}
	return e
}

func TestDescribe(t *testing.T) {
	on, off := journal.Bool(true), journal.Bool(false)
	tests := []struct {
		name string
		e    journal.Event
		text string // "" means no line
		kind string
	}{
		{"power cut by switch", ev(journal.KindPower, func(e *journal.Event) { e.Node, e.On, e.Source = "n2", off, "switch 2" }),
			"power cut on n2 (switch 2)", LineFault},
		{"power cut by switch:N", ev(journal.KindPower, func(e *journal.Event) { e.Node, e.On, e.Source = "n2", off, "switch:2" }),
			"power cut on n2 (switch 2)", LineFault},
		{"power restored by operator", ev(journal.KindPower, func(e *journal.Event) { e.Node, e.On, e.Source = "n2", on, "api" }),
			"power restored on n2 (operator)", LineRecover},
		{"power noticed", ev(journal.KindPower, func(e *journal.Event) { e.Node, e.On, e.Source = "n3", off, "observed" }),
			"power cut on n3 (noticed)", LineFault},
		{"power without source", ev(journal.KindPower, func(e *journal.Event) { e.Node, e.On = "n1", off }),
			"power cut on n1", LineFault},
		{"power without on", ev(journal.KindPower, func(e *journal.Event) { e.Node = "n1" }), "", ""},
		{"leader expired", ev(journal.KindLeader, func(e *journal.Event) { e.Detail = "expired" }),
			"leader key expired", LineFault},
		{"leader deleted", ev(journal.KindLeader, func(e *journal.Event) { e.Detail = "deleted" }),
			"leader key gone (deleted)", LineFault},
		{"leader taken", ev(journal.KindLeader, func(e *journal.Event) { e.Node = "n1" }),
			"n1 took the leader key", LineInfo},
		{"promoted (Patroni words)", ev(journal.KindRole, func(e *journal.Event) { e.Node, e.Role, e.State, e.Timeline = "n1", "primary", "running", 3 }),
			"n1 promoted on timeline 3", LineRecover},
		{"promoted (leader)", ev(journal.KindRole, func(e *journal.Event) { e.Node, e.Role, e.State = "n1", "leader", "running" }),
			"n1 promoted", LineRecover},
		{"replica", ev(journal.KindRole, func(e *journal.Event) { e.Node, e.Role, e.State, e.Timeline = "n3", "replica", "streaming", 2 }),
			"n3 is a replica on timeline 2", LineInfo},
		{"stopped", ev(journal.KindRole, func(e *journal.Event) { e.Node, e.Role, e.State = "n2", "replica", "stopped" }),
			"n2 is down (stopped)", LineFault},
		{"rewinding", ev(journal.KindRole, func(e *journal.Event) { e.Node, e.Role, e.State = "n2", "replica", "running pg_rewind" }),
			"n2 is rewinding with pg_rewind", LineInfo},
		{"reinitialising", ev(journal.KindRole, func(e *journal.Event) { e.Node, e.Role, e.State = "n2", "replica", "creating replica" }),
			"n2 is copying itself afresh from the primary", LineInfo},
		{"member gone", ev(journal.KindRole, func(e *journal.Event) { e.Node, e.State = "n2", "gone" }),
			"n2 left the cluster", LineFault},
		{"odd role", ev(journal.KindRole, func(e *journal.Event) { e.Node, e.Role, e.State = "n2", "witness", "thinking" }),
			`n2 reports role "witness", state "thinking"`, LineInfo},
		{"empty role", ev(journal.KindRole, func(e *journal.Event) { e.Node = "n2" }), "", ""},
		{"rewound", ev(journal.KindNode, func(e *journal.Event) { e.Node, e.Detail = "n2", "rewound" }),
			"n2 rejoined after pg_rewind", LineRecover},
		{"reinitialised", ev(journal.KindNode, func(e *journal.Event) { e.Node, e.Detail = "n2", "reinitialised" }),
			"n2 rejoined after a full copy from the primary", LineRecover},
		{"node other", ev(journal.KindNode, func(e *journal.Event) { e.Node, e.Detail = "n2", "healed" }),
			"n2: healed", LineInfo},
		{"haproxy up", ev(journal.KindHAProxy, func(e *journal.Event) { e.Node, e.Detail, e.On = "n1", "primary", on }),
			"HAProxy routes primary traffic to n1", LineRecover},
		{"haproxy down", ev(journal.KindHAProxy, func(e *journal.Event) { e.Node, e.Detail, e.On = "n2", "replica", off }),
			"HAProxy stopped routing replica traffic to n2", LineInfo},
		{"agent gone", ev(journal.KindAgent, func(e *journal.Event) { e.Node, e.On = "n2", off }),
			"agent on n2 went silent", LineFault},
		{"agent back", ev(journal.KindAgent, func(e *journal.Event) { e.Node, e.On = "n2", on }),
			"agent on n2 is up", LineRecover},
		{"writable after recovery", ev(journal.KindWritable, func(e *journal.Event) { e.Node, e.Detail = "n2", "was in recovery" }),
			"n2's PostgreSQL accepts writes (was in recovery)", LineRecover},
		{"writable without detail", ev(journal.KindWritable, func(e *journal.Event) { e.Node = "n3" }),
			"n3's PostgreSQL accepts writes", LineRecover},
		{"switch", ev(journal.KindSwitch, func(e *journal.Event) { e.ID, e.On, e.Node = "2", off, "n2" }),
			"switch 2 flipped off (n2)", LineInfo},
		{"switch without node", ev(journal.KindSwitch, func(e *journal.Event) { e.ID, e.On = "4", on }),
			"switch 4 flipped on", LineInfo},
		{"fault injected", ev(journal.KindFaultInject, func(e *journal.Event) { e.Node, e.Detail, e.ID = "n1", "freeze", "f1" }),
			"freeze injected on n1", LineFault},
		{"fault recovered", ev(journal.KindFaultRecover, func(e *journal.Event) { e.Node, e.Detail = "n1", "partition" }),
			"partition removed on n1", LineRecover},
		{"fault recovered with nodes off", ev(journal.KindFaultRecover, func(e *journal.Event) {
			e.Node, e.Detail, e.Pending = "etcd", "etcd_outage", []string{"n2", "n3"}
		}), "etcd_outage removed on etcd (n2, n3 once powered on)", LineRecover},
		{"fault healed after power-on", ev(journal.KindFaultRecover, func(e *journal.Event) {
			e.Node, e.Detail, e.Source = "n3", "etcd_outage", journal.SourcePowerOn
		}), "etcd_outage removed on n3, its power back", LineRecover},
		{"mark", ev(journal.KindMark, func(e *journal.Event) { e.Detail = "head node started" }),
			"head node started", LineInfo},
		{"empty mark", ev(journal.KindMark, nil), "", ""},
		{"readback fine", ev(journal.KindProbeReadback, func(e *journal.Event) { e.Last = 1234 }),
			"read back: every acknowledged commit up to #1234 is there", LineRecover},
		{"readback one lost", ev(journal.KindProbeReadback, func(e *journal.Event) { e.Last, e.Missing = 99, []uint64{97} }),
			"read back: 1 acknowledged commit is missing (#97)", LineAlarm},
		{"readback many lost", ev(journal.KindProbeReadback, func(e *journal.Event) { e.Missing = []uint64{1, 2, 3} }),
			"read back: 3 acknowledged commits are missing", LineAlarm},
		{"probe ack is noise", ev(journal.KindProbeAck, func(e *journal.Event) { e.First, e.Last = 1, 100 }), "", ""},
		{"probe error is noise", ev(journal.KindProbeError, func(e *journal.Event) { e.SQLState = "25006" }), "", ""},
		{"unknown kind", ev("weather", nil), "", ""},
		{"control characters cleaned", ev(journal.KindPower, func(e *journal.Event) { e.Node, e.On = "n\x1b[31m2\n", off }),
			"power cut on n [31m2", LineFault},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, ok := Describe(tt.e)
			if tt.text == "" {
				if ok {
					t.Fatalf("Describe = %+v, want no line", l)
				}
				return
			}
			if !ok {
				t.Fatalf("Describe gave no line, want %q", tt.text)
			}
			if l.Text != tt.text || l.Kind != tt.kind || !l.At.Equal(tt.e.At) {
				t.Fatalf("Describe = {%q %q %v}, want {%q %q %v}", l.Text, l.Kind, l.At, tt.text, tt.kind, tt.e.At)
			}
		})
	}
}

func TestDescribeBoundsLongFields(t *testing.T) {
	l, ok := Describe(ev(journal.KindMark, func(e *journal.Event) { e.Detail = strings.Repeat("x", 10000) }))
	if !ok {
		t.Fatal("no line")
	}
	if n := utf8.RuneCountInString(l.Text); n > maxField+1 {
		t.Fatalf("line has %d runes, want at most %d", n, maxField+1)
	}
}

// FuzzDescribe feeds arbitrary event fields: Describe must not panic, and a
// line it gives must be short, valid UTF-8, free of control characters and
// of a known kind.
func FuzzDescribe(f *testing.F) {
	f.Add("power", "n2", "switch 2", "", "", "", true, true, 0)
	f.Add("role", "n1", "", "primary", "running", "", false, false, 3)
	f.Add("node", "n2", "", "", "", "rewound", false, false, 0)
	f.Add("leader", "", "", "", "", "expired", false, false, 0)
	f.Add("mark", "\xff\x00", "", "", "", "\u2028<script>", false, false, -1)
	f.Fuzz(func(t *testing.T, kind, node, source, role, st, detail string, hasOn, on bool, tl int) {
		e := journal.Event{At: t0, Kind: journal.Kind(kind), Node: node, Source: source, Role: role, State: st,
			Detail: detail, ID: detail, Timeline: tl}
		if hasOn {
			e.On = journal.Bool(on)
		}
		if kind == string(journal.KindProbeReadback) && tl > 0 {
			e.Missing = make([]uint64, tl%5)
		}
		l, ok := Describe(e)
		if !ok {
			return
		}
		if l.Text == "" || !utf8.ValidString(l.Text) {
			t.Fatalf("bad text %q", l.Text)
		}
		for _, r := range l.Text {
			if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' {
				t.Fatalf("control character %U in %q", r, l.Text)
			}
		}
		if n := utf8.RuneCountInString(l.Text); n > 8*maxField {
			t.Fatalf("line of %d runes", n)
		}
		switch l.Kind {
		case LineInfo, LineFault, LineRecover, LineAlarm:
		default:
			t.Fatalf("unknown line kind %q", l.Kind)
		}
	})
}
