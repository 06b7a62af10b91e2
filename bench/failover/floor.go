package failover

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redswitch/redswitch/probe/analysis"
)

// The kinds of cut a trial makes.
const (
	// CutSilent is a real power cut: the node's container is SIGKILLed
	// and its address answers nothing afterwards, so Patroni's leader race
	// waits out its 2 s timeout on the dead primary's REST API.
	CutSilent = "silent"
	// CutSoft is the agent's soft cut: every Patroni and PostgreSQL
	// process stopped at once while the machine's kernel still refuses
	// connections at once, so the race does not wait.
	CutSoft = "soft"
)

// The model's constants for Patroni 3.0.2 with etcd 3, in seconds.
const (
	// etcdExpiryTickS: etcd revokes expired leases on a 500 ms tick, so
	// the leader key outlives its lease by U(0, 0.5 s).
	etcdExpiryTickS = 0.5
	// raceWaitS is the hard-coded timeout of Patroni's leader race asking
	// every member of its last view, the dead primary included, for its
	// status (ha.py fetch_node_status, timeout=2): only a silent primary
	// makes it wait.
	raceWaitS = 2.0
	// raceS is the race itself when every member answers (0.1 s measured
	// after soft cuts, 2.1 s with the wait).
	raceS = 0.1
	// promotionS is the new leader to PostgreSQL writable: pg_ctl
	// promote, the new timeline (0.2 s measured on a quiet machine).
	promotionS = 0.2
	// RigShareTargetS is what the rig may add once the new primary takes
	// writes: HAProxy's routing, the probe's reconnect and retry.
	RigShareTargetS = 0.030
)

// Floor is the modelled failover time of a timing profile and a kind of
// cut, term by term (means, in seconds).
type Floor struct {
	// LeaseS is the cut to the leader key's expiry: ttl − U(0, loop_wait)
	// (the last renewal came up to one loop before the cut) + U(0, 0.5 s).
	LeaseS float64 `json:"lease_s"`
	// RaceS is the expiry to the new leader: the leader race, plus its 2 s
	// wait for a silent old primary.
	RaceS float64 `json:"race_s"`
	// PromotionS is the new leader to writable.
	PromotionS float64 `json:"promotion_s"`
	// RoutingS is the new leader to HAProxy routing to it: the first
	// passing check U(0, downinter) after the key is taken, then rise−1
	// more, downinter apart. It overlaps the promotion: the failover
	// waits for the later of the two.
	RoutingS float64 `json:"routing_s"`
	// P50S is the sum of the means; every term is constant or symmetric,
	// so it is also about the median. MinS and MaxS bound the model.
	P50S float64 `json:"p50_s"`
	MinS float64 `json:"min_s"`
	MaxS float64 `json:"max_s"`
}

// FloorModel models the failover floor of Patroni 3.0.2 for ttl and
// loop_wait (seconds), HAProxy's downinter and rise, and a cut (CutSilent
// or CutSoft). For the aggressive profile (5/1/2, downinter 100 ms, rise
// 1) a silent cut gives 4.75 + 2.1 + 0.2 ≈ 7.05 s, a soft one 5.05 s.
func FloorModel(ttl, loopWait int, down time.Duration, rise int, cut string) Floor {
	f := Floor{
		LeaseS:     float64(ttl) - float64(loopWait)/2 + etcdExpiryTickS/2,
		RaceS:      raceS,
		PromotionS: promotionS,
	}
	if cut != CutSoft {
		f.RaceS += raceWaitS
	}
	d := down.Seconds()
	var routeLo, routeHi float64 // the routing's range
	if d > 0 && rise > 0 {
		routeLo, routeHi = float64(rise-1)*d, float64(rise)*d
		f.RoutingS = (routeLo + routeHi) / 2
	}
	after := meanMax(promotionS, routeLo, routeHi)
	f.P50S = f.LeaseS + f.RaceS + after
	f.MinS = float64(ttl-loopWait) + f.RaceS + max(promotionS, routeLo)
	f.MaxS = float64(ttl) + etcdExpiryTickS + f.RaceS + max(promotionS, routeHi)
	return f
}

// meanMax is the mean of max(c, U(lo, hi)).
func meanMax(c, lo, hi float64) float64 {
	switch {
	case hi <= lo:
		return max(c, lo)
	case c <= lo:
		return (lo + hi) / 2
	case c >= hi:
		return c
	}
	return (c*(c-lo) + (hi*hi-c*c)/2) / (hi - lo)
}

// checksOf reads HAProxy's downinter and rise from a profile's recorded
// default-server line; zero when unknown.
func checksOf(s Settings) (time.Duration, int) {
	var down time.Duration
	rise := 0
	f := strings.Fields(s.HAProxyServer)
	for i := 0; i+1 < len(f); i++ {
		switch f[i] {
		case "downinter":
			if n, err := strconv.Atoi(strings.TrimSuffix(f[i+1], "ms")); err == nil && strings.HasSuffix(f[i+1], "ms") {
				down = time.Duration(n) * time.Millisecond
			}
		case "rise":
			if n, err := strconv.Atoi(f[i+1]); err == nil {
				rise = n
			}
		}
	}
	return down, rise
}

// cutOf is a trial's cut; results from before paired runs only cut
// silently.
func cutOf(t Trial) string {
	if t.Cut == "" {
		return CutSilent
	}
	return t.Cut
}

// group is the trials of one profile and one kind of cut.
type group struct{ profile, cut string }

// groupsOf lists the profile × cut groups of trials, silent before soft.
func groupsOf(trials []Trial, profiles []string) []group {
	var out []group
	for _, p := range profiles {
		for _, c := range []string{CutSilent, CutSoft} {
			for _, t := range trials {
				if t.Profile == p && cutOf(t) == c {
					out = append(out, group{p, c})
					break
				}
			}
		}
	}
	return out
}

// mixed reports whether a profile's trials cut in more than one way.
func mixed(trials []Trial, profile string) bool {
	seen := ""
	for _, t := range trials {
		if t.Profile != profile {
			continue
		}
		if seen != "" && cutOf(t) != seen {
			return true
		}
		seen = cutOf(t)
	}
	return false
}

func (g group) has(t Trial) bool { return t.Profile == g.profile && cutOf(t) == g.cut && t.Error == "" }

func settingsOf(ss []Settings, profile string) (Settings, bool) {
	for _, s := range ss {
		if s.Profile == profile {
			return s, true
		}
	}
	return Settings{}, false
}

// phaseGap is a trial's b − a, when it observed both.
func phaseGap(a, b string) func(Trial) (float64, bool) {
	return func(t Trial) (float64, bool) {
		x, okA := t.Phases[a]
		y, okB := t.Phases[b]
		return y - x, okA && okB
	}
}

func rigShareOf(t Trial) (float64, bool) {
	if t.RigShareS == nil {
		return 0, false
	}
	return *t.RigShareS, true
}

// median50 is the nearest-rank median of get over the group's measured
// trials, and how many had a value.
func median50(trials []Trial, g group, get func(Trial) (float64, bool)) (float64, int) {
	var vs []float64
	for _, t := range trials {
		if !g.has(t) {
			continue
		}
		if v, ok := get(t); ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0, 0
	}
	return Summarize(vs).P50, len(vs)
}

// FloorRow sets one profile's model next to its measurement for one kind
// of cut.
type FloorRow struct {
	Profile, Cut string
	// Model is set when the profile's settings were recorded.
	Model    Floor
	HasModel bool
	// N counts the measured trials, P50S is their median failover time.
	N    int
	P50S float64
	// Measured medians of the model's terms, NaN when not observed:
	// leader_expired, new_leader − leader_expired, writable − new_leader,
	// haproxy_up − new_leader, and the rig's share with its count.
	LeaseS, RaceS, PromotionS, RoutingS float64
	RigShareS                           float64
	RigShareN                           int
}

// FloorRows lists the model and the measurement of every profile × cut
// group of r's trials, in profile order, silent before soft.
func FloorRows(r Results) []FloorRow {
	var out []FloorRow
	nan := func(v float64, n int) float64 {
		if n == 0 {
			return math.NaN()
		}
		return v
	}
	for _, g := range groupsOf(r.Trials, profilesOf(r.Trials, r.Settings)) {
		row := FloorRow{Profile: g.profile, Cut: g.cut}
		row.P50S, row.N = median50(r.Trials, g, func(t Trial) (float64, bool) { return t.FailoverS, true })
		if s, ok := settingsOf(r.Settings, g.profile); ok && s.TTL > 0 {
			down, rise := checksOf(s)
			row.Model, row.HasModel = FloorModel(s.TTL, s.LoopWait, down, rise, g.cut), true
		}
		row.LeaseS = nan(median50(r.Trials, g, phaseOf(analysis.PhaseLeaderExpired)))
		row.RaceS = nan(median50(r.Trials, g, phaseGap(analysis.PhaseLeaderExpired, analysis.PhaseNewLeader)))
		row.PromotionS = nan(median50(r.Trials, g, phaseGap(analysis.PhaseNewLeader, analysis.PhaseWritable)))
		row.RoutingS = nan(median50(r.Trials, g, phaseGap(analysis.PhaseNewLeader, analysis.PhaseHAProxyUp)))
		row.RigShareS, row.RigShareN = median50(r.Trials, g, rigShareOf)
		out = append(out, row)
	}
	return out
}

// writeFloor renders the model of each profile's floor next to what its
// trials measured, term by term, and the rig's share against its target.
func writeFloor(b *strings.Builder, r Results) {
	b.WriteString("## The floor: model against measurement\n\n")
	b.WriteString("Model (Patroni 3.0.2): lease expiry ttl − U(0, loop_wait) + U(0, 0.5 s) (the last renewal came up to one loop before the cut; etcd revokes on a 500 ms tick), then the leader race, which waits its hard-coded 2 s (`ha.py` `fetch_node_status`) for a silent old primary's REST API but not for a soft cut's (its port refuses at once), 0.1 s otherwise, then the later of the promotion (≈ 0.2 s) and HAProxy's routing (U(0, downinter) + (rise − 1) × downinter). Each cell is model / measured median; promotion is measured new_leader → writable, routing new_leader → haproxy_up, the rig's share writable → first_commit (target ≤ 0.030 s).\n\n")
	b.WriteString("| profile | cut | trials | model p50 (s) | model range (s) | measured p50 (s) | measured − model (s) | lease expiry (s) | leader race (s) | promotion (s) | routing (s) | rig share p50 (s) |\n")
	b.WriteString("|---|---|---:|---:|---|---:|---:|---|---|---|---|---|\n")
	for _, row := range FloorRows(r) {
		model := [6]string{"?", "?", "?", "?", "?", "?"} // p50, range, lease, race, promotion, routing
		diff := "–"
		if m := row.Model; row.HasModel {
			model = [6]string{fmt.Sprintf("%.2f", m.P50S), fmt.Sprintf("%.2f–%.2f", m.MinS, m.MaxS), fmt.Sprintf("%.2f", m.LeaseS),
				fmt.Sprintf("%.2f", m.RaceS), fmt.Sprintf("%.2f", m.PromotionS), fmt.Sprintf("%.2f", m.RoutingS)}
			if row.N > 0 {
				diff = fmt.Sprintf("%+.2f", row.P50S-m.P50S)
			}
		}
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %s | %s | %s / %s | %s / %s | %s / %s | %s / %s | %s |\n",
			row.Profile, row.Cut, row.N, model[0], model[1], cell(row.P50S, row.N), diff,
			model[2], num(row.LeaseS), model[3], num(row.RaceS), model[4], num(row.PromotionS), model[5], num(row.RoutingS),
			shareCell(row.RigShareS, row.RigShareN))
	}
	b.WriteString("\n")
}

// num shows a measured median, "–" when not observed.
func num(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

func phaseOf(name string) func(Trial) (float64, bool) {
	return func(t Trial) (float64, bool) { v, ok := t.Phases[name]; return v, ok }
}

func cell(v float64, n int) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

// shareCell shows the rig's share to the millisecond against its target.
func shareCell(v float64, n int) string {
	switch {
	case n == 0:
		return "– (no writable phase)"
	case v <= RigShareTargetS:
		return fmt.Sprintf("%.3f (n %d, within %.3f)", v, n, RigShareTargetS)
	}
	return fmt.Sprintf("%.3f (n %d, over %.3f)", v, n, RigShareTargetS)
}
