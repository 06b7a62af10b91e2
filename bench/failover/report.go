package failover

import (
	"fmt"
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

// RenderReport renders report.md of `bench failover`.
func RenderReport(r Results) string {
	var b strings.Builder
	b.WriteString("# Failover benchmark\n\n")
	b.WriteString("Each trial cuts the power of the primary of a containerized Patroni cluster (SIGKILL of the node's container: all its processes at one instant, so the node answers nothing afterwards) and measures, from the cut, until the commit probe writing through HAProxy has its first acknowledged commit again. The victim is then powered on and must have rejoined (every member running, every replica streaming) before the next cut. The first cut of each cluster is a warm-up and is not counted.\n\n")
	writeMachine(&b, r.Machine, r.Versions)
	profiles := profilesOf(r.Trials, r.Settings)

	b.WriteString("## Failover time\n\n")
	b.WriteString("| profile | trials | p50 (s) | p95 (s) | max (s) | mean (s) | min (s) | lost commits | failed | published reference |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, p := range profiles {
		s := r.Summary[p]
		fmt.Fprintf(&b, "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %d | %d | %s |\n",
			p, s.N, s.P50, s.P95, s.Max, s.Mean, s.Min, s.LostCommits, s.Failed, orUnknown(references[p]))
	}
	b.WriteString("\n")

	b.WriteString("## Phases, median over the counted trials (seconds from the cut)\n\n")
	b.WriteString("| profile |")
	for _, ph := range knownPhases {
		fmt.Fprintf(&b, " %s |", ph)
	}
	b.WriteString(" leader_expired → new_leader | new_leader → haproxy_up | haproxy_up → first_commit |\n|---|")
	b.WriteString(strings.Repeat("---:|", len(knownPhases)+3) + "\n")
	for _, p := range profiles {
		fmt.Fprintf(&b, "| %s |", p)
		for _, ph := range knownPhases {
			b.WriteString(" " + medianCell(r.Trials, p, func(t Trial) (float64, bool) { v, ok := t.Phases[ph]; return v, ok }) + " |")
		}
		for _, g := range [][2]string{{analysis.PhaseLeaderExpired, analysis.PhaseNewLeader}, {analysis.PhaseNewLeader, analysis.PhaseHAProxyUp}, {analysis.PhaseHAProxyUp, analysis.PhaseFirstCommit}} {
			b.WriteString(" " + medianCell(r.Trials, p, func(t Trial) (float64, bool) {
				a, okA := t.Phases[g[0]]
				c, okC := t.Phases[g[1]]
				return c - a, okA && okC
			}) + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("\nhaproxy_down: HAProxy marks the old primary down; leader_expired: the leader key is gone from etcd; new_leader: a replica holds the key; promoted: Patroni reports it primary; haproxy_up: HAProxy routes the primary listener to it; first_commit: the probe's first acknowledged commit. A phase not observed in a trial is left out of its median.\n\n")

	writeSettings(&b, r.Settings)

	b.WriteString("## Trials\n\n")
	b.WriteString("| profile | trial | victim → new primary | failover (s) |")
	for _, ph := range knownPhases[:len(knownPhases)-1] {
		fmt.Fprintf(&b, " %s |", ph)
	}
	b.WriteString(" lost commits | rejoin (s) | rewound | probe errors in the outage | load |\n")
	b.WriteString("|---|---:|---|---:|" + strings.Repeat("---:|", len(knownPhases)-1) + "---:|---:|---|---|---:|\n")
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
			fmt.Fprintf(&b, "| %s | %s | %s | failed: %s |%s %d | %.2f | %v | | %.2f |\n", t.Profile, trial, t.Victim,
				escape(t.Error), strings.Repeat(" |", len(knownPhases)-1), t.LostCommits, t.RejoinS, t.Rewound, t.Load1)
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s → %s | %.2f |", t.Profile, trial, t.Victim, t.NewPrimary, t.FailoverS)
		for _, ph := range knownPhases[:len(knownPhases)-1] {
			if v, ok := t.Phases[ph]; ok {
				fmt.Fprintf(&b, " %.2f |", v)
			} else {
				b.WriteString(" – |")
			}
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

func medianCell(trials []Trial, profile string, get func(Trial) (float64, bool)) string {
	var vs []float64
	for _, t := range trials {
		if t.Profile != profile || t.Error != "" {
			continue
		}
		if v, ok := get(t); ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", Summarize(vs).P50)
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
