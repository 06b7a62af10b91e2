package failover

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/redswitch/redswitch/probe/analysis"
)

// references are the published one-sentence claims per profile.
var references = map[string]string{
	"aggressive": "under 10 s (ttl 5, 1 s checks)",
	"default":    "about 40 s (30/10/10)",
}

func profilesOf(trials []Trial, settings []Settings) []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, s := range settings {
		add(s.Profile)
	}
	for _, t := range trials {
		add(t.Profile)
	}
	return out
}

func writeMachine(b *strings.Builder, m Machine, v Versions) {
	fmt.Fprintf(b, "Machine: %s, %d cores, %.1f GiB RAM, kernel %s, %s. Load average (1 min) %.2f at the start, %.2f at the end; %d other containers were running at the start (the cores are shared).\n\n",
		orUnknown(m.CPU), m.Cores, float64(m.MemBytes)/(1<<30), orUnknown(m.Kernel), orUnknown(m.GoVersion), m.LoadStart, m.LoadEnd, m.OtherContainers)
	fmt.Fprintf(b, "Versions: Patroni %s, %s, %s, %s.\n\n", orUnknown(v.Patroni), orUnknown(v.PostgreSQL), orUnknown(v.HAProxy), orUnknown(v.Etcd))
}

func writeSettings(b *strings.Builder, ss []Settings) {
	b.WriteString("## Settings\n\n")
	b.WriteString("| profile | nodes | ttl / loop_wait / retry_timeout (s) | leader lease granted (s) | synchronous_mode | HAProxy primary listener | probe |\n")
	b.WriteString("|---|---:|---|---:|---|---|---|\n")
	for _, s := range ss {
		lease := "?"
		if s.LeaseTTL > 0 {
			lease = fmt.Sprint(s.LeaseTTL)
		}
		mismatch := ""
		if s.TimingsMismatch != "" {
			mismatch = " (" + s.TimingsMismatch + ")"
		}
		fmt.Fprintf(b, "| %s | %d | %d / %d / %d%s | %s | %v | `%s` | a row every %g ms; connect timeout %g ms, statement timeout %g ms; outage = commit gap > %g ms |\n",
			s.Profile, s.Nodes, s.TTL, s.LoopWait, s.RetryTimeout, escape(mismatch), lease, s.SynchronousMode,
			orUnknown(s.HAProxyServer), s.ProbeIntervalMs, s.ProbeConnectMs, s.ProbeStatementMs, s.OutageThresholdMs)
	}
	b.WriteString("\n")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func escape(s string) string { return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s) }

// stackedPhases are the report's phase columns in time order up to the
// first commit; Patroni's role publication (promoted) is shown apart.
var stackedPhases = []string{analysis.PhaseHAProxyDown, analysis.PhaseLeaderExpired, analysis.PhaseNewLeader,
	analysis.PhaseHAProxyUp, analysis.PhaseWritable, analysis.PhaseFirstCommit}

// phaseGaps are the steps the phase table spells out: the race, the
// promotion, and the rig's own share.
var phaseGaps = [][2]string{{analysis.PhaseLeaderExpired, analysis.PhaseNewLeader},
	{analysis.PhaseNewLeader, analysis.PhaseWritable}, {analysis.PhaseWritable, analysis.PhaseFirstCommit}}

// RenderReport renders report.md of `bench failover`.
func RenderReport(r Results) string {
	var b strings.Builder
	b.WriteString("# Failover benchmark\n\n")
	b.WriteString("Each trial cuts the power of the primary of a containerized Patroni cluster and measures, from the cut, until the commit probe writing through HAProxy has its first acknowledged commit again. A silent cut is a SIGKILL of the node's container: all its processes at one instant, so the node answers nothing afterwards, as after a pulled plug. A soft cut (paired runs alternate them with silent ones on the same cluster) is the node agent's: every Patroni and PostgreSQL process stopped at once while the node's kernel still refuses connections. The victim is then powered on and must have rejoined (every member running, every replica streaming) before the next cut. The first cut of each cluster is a warm-up and is not counted.\n\n")
	writeMachine(&b, r.Machine, r.Versions)
	profiles := profilesOf(r.Trials, r.Settings)

	b.WriteString("## Failover time\n\n")
	b.WriteString("| profile | trials | p50 (s) | p95 (s) | max (s) | mean (s) | min (s) | lost commits | failed | published reference |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, p := range profiles {
		s := r.Summary[p]
		fmt.Fprintf(&b, "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %d | %d | %s |\n",
			p, s.N, s.P50, s.P95, s.Max, s.Mean, s.Min, s.LostCommits, s.Failed, orUnknown(references[p]))
		if !mixed(r.Trials, p) {
			continue
		}
		for _, g := range groupsOf(r.Trials, []string{p}) {
			var ts []Trial
			for _, t := range r.Trials {
				if t.Profile == p && cutOf(t) == g.cut {
					ts = append(ts, t)
				}
			}
			s := SummarizeTrials(ts)[p]
			fmt.Fprintf(&b, "| %s, %s cuts | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %d | %d | |\n",
				p, g.cut, s.N, s.P50, s.P95, s.Max, s.Mean, s.Min, s.LostCommits, s.Failed)
		}
	}
	b.WriteString("\n")

	writeFloor(&b, r)

	b.WriteString("## Phases, median over the counted trials (seconds from the cut)\n\n")
	b.WriteString("| profile | cut |")
	for _, ph := range stackedPhases {
		fmt.Fprintf(&b, " %s |", ph)
	}
	for _, g := range phaseGaps {
		fmt.Fprintf(&b, " %s → %s |", g[0], g[1])
	}
	fmt.Fprintf(&b, " %s (Patroni's role, apart) |\n|---|---|", analysis.PhasePromoted)
	b.WriteString(strings.Repeat("---:|", len(stackedPhases)+len(phaseGaps)+1) + "\n")
	for _, g := range groupsOf(r.Trials, profiles) {
		fmt.Fprintf(&b, "| %s | %s |", g.profile, g.cut)
		for _, ph := range stackedPhases {
			b.WriteString(" " + cell(median50(r.Trials, g, phaseOf(ph))) + " |")
		}
		for _, gap := range phaseGaps {
			b.WriteString(" " + cell(median50(r.Trials, g, phaseGap(gap[0], gap[1]))) + " |")
		}
		b.WriteString(" " + cell(median50(r.Trials, g, phaseOf(analysis.PhasePromoted))) + " |\n")
	}
	b.WriteString("\nIn time order: haproxy_down: HAProxy marks the old primary down; leader_expired: the leader key is gone from etcd; new_leader: a replica holds the key; haproxy_up: HAProxy routes the primary listener to it; writable: its PostgreSQL answers pg_is_in_recovery() false to the head node's own poll (every 10 ms, apart from Patroni); first_commit: the probe's first acknowledged commit. promoted is Patroni publishing the new role in etcd, which comes after the first commit and delays nothing. A phase not observed in a trial is left out of its median.\n\n")

	writeSettings(&b, r.Settings)

	b.WriteString("## Trials\n\n")
	b.WriteString("| profile | trial | cut | victim → new primary | failover (s) |")
	trialPhases := append(slices.Clone(stackedPhases[:len(stackedPhases)-1]), analysis.PhasePromoted)
	for _, ph := range trialPhases {
		fmt.Fprintf(&b, " %s |", ph)
	}
	b.WriteString(" rig share (s) | lost commits | rejoin (s) | rewound | probe errors in the outage | load |\n")
	b.WriteString("|---|---:|---|---|---:|" + strings.Repeat("---:|", len(trialPhases)+1) + "---:|---:|---|---|---:|\n")
	rows := append(append([]Trial(nil), r.Warmup...), r.Trials...)
	sort.SliceStable(rows, func(i, j int) bool {
		return indexOf(profiles, rows[i].Profile) < indexOf(profiles, rows[j].Profile)
	})
	for _, t := range rows {
		trial := fmt.Sprint(t.Trial)
		if t.Trial == 0 {
			trial = "warm-up"
		}
		if t.Error != "" {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | failed: %s |%s %d | %.2f | %v | | %.2f |\n", t.Profile, trial, cutOf(t), t.Victim,
				escape(t.Error), strings.Repeat(" |", len(trialPhases)+1), t.LostCommits, t.RejoinS, t.Rewound, t.Load1)
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s → %s | %.2f |", t.Profile, trial, cutOf(t), t.Victim, t.NewPrimary, t.FailoverS)
		for _, ph := range trialPhases {
			if v, ok := t.Phases[ph]; ok {
				fmt.Fprintf(&b, " %.2f |", v)
			} else {
				b.WriteString(" – |")
			}
		}
		if v, ok := rigShareOf(t); ok {
			fmt.Fprintf(&b, " %.3f |", v)
		} else {
			b.WriteString(" – |")
		}
		fmt.Fprintf(&b, " %d | %s | %v | %s | %.2f |\n", t.LostCommits, rejoinCell(t), t.Rewound, errorCounts(t.ProbeErrors), t.Load1)
	}
	b.WriteString("\n![failover time CDF](failover-cdf.png)\n\n![phases per trial](failover-phases.png)\n")
	return b.String()
}

func rejoinCell(t Trial) string {
	if t.RejoinError != "" {
		return "did not rejoin"
	}
	return fmt.Sprintf("%.2f", t.RejoinS)
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return len(ss)
}

func errorCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// RenderBootReport renders report.md of `bench boot`.
func RenderBootReport(r BootResults) string {
	var b strings.Builder
	b.WriteString("# Boot benchmark\n\n")
	b.WriteString("Each trial starts a cluster from nothing (network, embedded etcd, node containers with empty data directories) and measures from the first node container's start, as Docker records it, until every member runs and every replica streams from the primary.\n\n")
	writeMachine(&b, r.Machine, r.Versions)
	var profiles []string
	seen := map[string]bool{}
	for _, t := range r.Trials {
		if !seen[t.Profile] {
			seen[t.Profile] = true
			profiles = append(profiles, t.Profile)
		}
	}
	b.WriteString("## Containers started → healthy\n\n")
	b.WriteString("| profile | trials | p50 (s) | p95 (s) | max (s) | mean (s) | min (s) | failed |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range profiles {
		s := r.Summary[p]
		fmt.Fprintf(&b, "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %d |\n", p, s.N, s.P50, s.P95, s.Max, s.Mean, s.Min, s.Failed)
	}
	b.WriteString("\n")
	writeSettings(&b, r.Settings)
	b.WriteString("## Trials\n\n| profile | trial | boot (s) | containers' start spread (s) | total incl. network, etcd, containers (s) | leader | load |\n|---|---:|---:|---:|---:|---|---:|\n")
	for _, t := range r.Trials {
		if t.Error != "" {
			fmt.Fprintf(&b, "| %s | %d | failed: %s | | | | %.2f |\n", t.Profile, t.Trial, escape(t.Error), t.Load1)
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %.2f | %.2f | %.2f | %s | %.2f |\n", t.Profile, t.Trial, t.BootS, t.StartSpreadS, t.TotalS, t.Leader, t.Load1)
	}
	b.WriteString("\n![boot time CDF](boot-cdf.png)\n")
	return b.String()
}
