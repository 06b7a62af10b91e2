package forkbench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/redswitch/redswitch/fork"
)

// Row is one fork of one method at one scale. Latencies are the loaded
// primary's, in milliseconds: steady_* before any fork, latency_* during
// this fork.
type Row struct {
	Scale  int    `json:"scale"`
	Method string `json:"method"`
	// Source is what was forked: "replica" (a streaming replica of the
	// loaded primary) or "primary" (the loaded primary itself).
	Source string `json:"source"`
	// Forks is how many forks were made; to_writable_s is their median,
	// the latency_* figures pool their windows.
	Forks          int     `json:"forks"`
	ToWritableS    float64 `json:"to_writable_s"`
	ToWritableMaxS float64 `json:"to_writable_max_s"`
	LatencyP50Ms   float64 `json:"latency_p50_ms"`
	LatencyP99Ms   float64 `json:"latency_p99_ms"`
	LatencyMaxMs   float64 `json:"latency_max_ms"`
	SteadyP50Ms    float64 `json:"steady_p50_ms"`
	SteadyP99Ms    float64 `json:"steady_p99_ms"`
	SteadyMaxMs    float64 `json:"steady_max_ms"`
	DiskBytes      int64   `json:"disk_bytes"`
	// ReplayBytes is the WAL the median fork replayed before it was
	// writable (fork.Fork.ReplayBytes): from the source's last checkpoint
	// (a replica's last restartpoint) to the snapshot. It, not the
	// database's size, sets a snapshot fork's start time.
	ReplayBytes int64 `json:"replay_bytes"`

	// Phases of the median fork (see fork.Timings), seconds; start
	// includes preparing the copy.
	CheckpointS float64 `json:"checkpoint_s"`
	CopyS       float64 `json:"copy_s"`
	StartS      float64 `json:"start_s"`
	PromoteS    float64 `json:"promote_s"`
	// The worst source transaction overlapping each phase, milliseconds:
	// which step of the fork the source feels.
	PhaseMaxMs PhaseLatency `json:"phase_max_ms"`
	// Transactions in the latency window and the source's database size.
	Samples       int    `json:"samples"`
	SourceDBBytes int64  `json:"source_db_bytes"`
	Error         string `json:"error,omitempty"`
}

// PhaseLatency holds one latency figure per fork phase, milliseconds; 0
// where no transaction overlapped the phase.
type PhaseLatency struct {
	Checkpoint float64 `json:"checkpoint"`
	Copy       float64 `json:"copy"`
	Start      float64 `json:"start"` // the recipe and pg_ctl start
	Promote    float64 `json:"promote"`
}

// worst keeps the larger figure of each phase.
func (p PhaseLatency) worst(q PhaseLatency) PhaseLatency {
	return PhaseLatency{Checkpoint: max(p.Checkpoint, q.Checkpoint), Copy: max(p.Copy, q.Copy),
		Start: max(p.Start, q.Start), Promote: max(p.Promote, q.Promote)}
}

// Machine describes where the bench ran.
type Machine struct {
	CPU      string  `json:"cpu"`
	Cores    int     `json:"cores"`
	MemBytes int64   `json:"mem_bytes"`
	Kernel   string  `json:"kernel"`
	Postgres string  `json:"postgres"`
	Storage  string  `json:"storage"`
	LoadTPS  float64 `json:"load_tps"`
	// ServerSettings were added to the primary's and the replica's
	// configuration (e.g. checkpoint_timeout), as key=value.
	ServerSettings []string `json:"server_settings,omitempty"`
	// SyncReplica says the replica was a synchronous standby: the
	// primary's commits waited for its WAL flush.
	SyncReplica bool `json:"sync_replica,omitempty"`
	// PrimaryCPUs and ForkCPUs are the CPU lists the primary (with the
	// load) and the forked server (with its forks) were held to.
	PrimaryCPUs string `json:"primary_cpus,omitempty"`
	ForkCPUs    string `json:"fork_cpus,omitempty"`
	// SteadyS is the length of the steady-state window before the first
	// fork, in seconds; 0 in older results (10 s then).
	SteadyS float64 `json:"steady_s,omitempty"`
	// ForkSched is how each fork's server and copy commands were
	// scheduled: "nice N" or "SCHED_IDLE"; empty for older results.
	ForkSched string `json:"fork_sched,omitempty"`
	Clients   int    `json:"clients"`
	GoVersion string `json:"go_version"`
	// Load averages (/proc/loadavg) when the bench began and ended: the
	// machine may be shared, and latency means little on a busy one.
	LoadAvgStart string `json:"loadavg_start"`
	LoadAvgEnd   string `json:"loadavg_end"`
}

// Control is the null control of one scale: windows as long as the
// quickest fork, with no fork in them, pooled like a row's forks.
type Control struct {
	Scale       int     `json:"scale"`
	Source      string  `json:"source"`
	Windows     int     `json:"windows"`
	WindowS     float64 `json:"window_s"`
	P50Ms       float64 `json:"p50_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	Samples     int     `json:"samples"`
	SteadyP99Ms float64 `json:"steady_p99_ms"`
}

// Results is results.json.
type Results struct {
	Rows     []Row     `json:"rows"`
	Controls []Control `json:"controls,omitempty"`
	Machine  Machine   `json:"machine"`
}

// ParseResults decodes and checks results.json; errors name the row and field.
func ParseResults(data []byte) (Results, error) {
	var r Results
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Results{}, fmt.Errorf("results.json: %w", err)
	}
	if len(r.Rows) == 0 {
		return Results{}, fmt.Errorf("results.json: field rows: empty")
	}
	for i, row := range r.Rows {
		if row.Scale <= 0 {
			return Results{}, fmt.Errorf("results.json: rows[%d].scale: %d is not positive", i, row.Scale)
		}
		if _, err := fork.ParseMethod(row.Method); err != nil || row.Method == "" {
			return Results{}, fmt.Errorf("results.json: rows[%d].method: %q is not a fork method", i, row.Method)
		}
		if row.Source != SourceReplica && row.Source != SourcePrimary {
			return Results{}, fmt.Errorf("results.json: rows[%d].source: %q: want \"replica\" or \"primary\"", i, row.Source)
		}
		if row.Error != "" {
			continue
		}
		for name, v := range map[string]float64{"to_writable_s": row.ToWritableS, "steady_p50_ms": row.SteadyP50Ms,
			"steady_p99_ms": row.SteadyP99Ms, "steady_max_ms": row.SteadyMaxMs} {
			if !(v > 0) || math.IsInf(v, 0) {
				return Results{}, fmt.Errorf("results.json: rows[%d].%s: %v is not a positive number", i, name, v)
			}
		}
		if row.LatencyP50Ms > row.LatencyP99Ms || row.LatencyP99Ms > row.LatencyMaxMs || row.SteadyP50Ms > row.SteadyP99Ms || row.SteadyP99Ms > row.SteadyMaxMs {
			return Results{}, fmt.Errorf("results.json: rows[%d]: percentiles out of order", i)
		}
		if row.Forks < 1 {
			return Results{}, fmt.Errorf("results.json: rows[%d].forks: %d, want at least 1", i, row.Forks)
		}
		if row.ToWritableMaxS < row.ToWritableS {
			return Results{}, fmt.Errorf("results.json: rows[%d].to_writable_max_s: %v is below the median %v", i, row.ToWritableMaxS, row.ToWritableS)
		}
		if row.DiskBytes < 0 {
			return Results{}, fmt.Errorf("results.json: rows[%d].disk_bytes: %d is negative", i, row.DiskBytes)
		}
		if row.ReplayBytes < 0 {
			return Results{}, fmt.Errorf("results.json: rows[%d].replay_bytes: %d is negative", i, row.ReplayBytes)
		}
	}
	for i, c := range r.Controls {
		if c.Scale <= 0 || c.Windows <= 0 || !(c.WindowS > 0) || math.IsInf(c.WindowS, 0) {
			return Results{}, fmt.Errorf("results.json: controls[%d]: scale, windows and window_s must be positive", i)
		}
		if c.P50Ms > c.P99Ms || c.P99Ms > c.MaxMs || c.P50Ms < 0 || c.SteadyP99Ms < 0 {
			return Results{}, fmt.Errorf("results.json: controls[%d]: percentiles out of order", i)
		}
	}
	return r, nil
}

// finite turns NaN (no samples) into 0 so the JSON encodes.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// RenderReport renders report.md: the machine, then one table row per fork.
func RenderReport(r Results) string {
	var b strings.Builder
	b.WriteString("# Fork benchmark\n\n")
	m := r.Machine
	fmt.Fprintf(&b, "Machine: %s, %d cores, %.1f GiB RAM, kernel %s; %s; storage: %s.\n", m.CPU, m.Cores, float64(m.MemBytes)/(1<<30), m.Kernel, m.Postgres, m.Storage)
	if m.LoadAvgStart != "" || m.LoadAvgEnd != "" {
		fmt.Fprintf(&b, "Host load average (1/5/15 min) at start: %s; at end: %s.\n", m.LoadAvgStart, m.LoadAvgEnd)
	}
	fmt.Fprintf(&b, "Load on the primary: %d clients, TPC-B-like transactions paced at %.0f tx/s in total; latency is per transaction, measured on the primary whichever member is forked.\n", m.Clients, m.LoadTPS)
	if len(m.ServerSettings) > 0 {
		fmt.Fprintf(&b, "Primary and replica settings: %s.\n", strings.Join(m.ServerSettings, ", "))
	}
	if m.PrimaryCPUs != "" || m.ForkCPUs != "" {
		fmt.Fprintf(&b, "CPUs: the primary and the load on %s, the forked server and its forks on %s.\n", orAny(m.PrimaryCPUs), orAny(m.ForkCPUs))
	}
	if m.SteadyS > 0 {
		fmt.Fprintf(&b, "Steady state: the primary's transactions in the %.0f s before the first fork of each scale.\n", m.SteadyS)
	}
	if m.ForkSched != "" {
		fmt.Fprintf(&b, "Each fork's server and copy commands ran under %s.\n", m.ForkSched)
	}
	if m.SyncReplica {
		b.WriteString("The replica is a synchronous standby: every commit on the primary waits for its WAL flush.\n")
	}
	b.WriteString("\n| scale | DB size | source | method | to writable (s) | WAL replayed | checkpoint / copy / start / promote (s) | primary p50 / p99 / max during fork (ms) | steady p50 / p99 / max (ms) | p99 ratio | p99 vs control | worst per phase (ms) | fork disk after writes |\n")
	b.WriteString("|---:|---:|---|---|---:|---:|---|---|---|---:|---:|---|---:|\n")
	controlP99 := map[int]float64{}
	for _, c := range r.Controls {
		controlP99[c.Scale] = c.P99Ms
	}
	for _, row := range r.Rows {
		if row.Error != "" {
			fmt.Fprintf(&b, "| %d | %s | %s | %s | failed: %s | | | | | | | | |\n", row.Scale, bytesHuman(row.SourceDBBytes), row.Source, row.Method, strings.NewReplacer("|", "\\|", "\n", " ").Replace(row.Error))
			continue
		}
		ratio := "–"
		if row.SteadyP99Ms > 0 {
			ratio = fmt.Sprintf("%.2f×", row.LatencyP99Ms/row.SteadyP99Ms)
		}
		vsControl := "–"
		if c := controlP99[row.Scale]; c > 0 {
			vsControl = fmt.Sprintf("%.2f×", row.LatencyP99Ms/c)
		}
		// Only a snapshot fork measures its replay; the copies start from
		// a backup label, pg_basebackup from its own checkpoint.
		replay := "–"
		if row.Method == string(fork.Snapshot) {
			replay = bytesHuman(row.ReplayBytes)
		}
		ph := row.PhaseMaxMs
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %.2f (max %.2f) | %s | %.2f / %.2f / %.2f / %.2f | %.1f / %.1f / %.1f (n=%d, %s) | %.1f / %.1f / %.1f | %s | %s | %.0f / %.0f / %.0f / %.0f | %s |\n",
			row.Scale, bytesHuman(row.SourceDBBytes), row.Source, row.Method, row.ToWritableS, row.ToWritableMaxS, replay,
			row.CheckpointS, row.CopyS, row.StartS, row.PromoteS,
			row.LatencyP50Ms, row.LatencyP99Ms, row.LatencyMaxMs, row.Samples, forks(row.Forks),
			row.SteadyP50Ms, row.SteadyP99Ms, row.SteadyMaxMs, ratio, vsControl,
			ph.Checkpoint, ph.Copy, ph.Start, ph.Promote, bytesHuman(row.DiskBytes))
	}
	for _, c := range r.Controls {
		ratio := "–"
		if c.SteadyP99Ms > 0 {
			ratio = fmt.Sprintf("%.2f×", c.P99Ms/c.SteadyP99Ms)
		}
		fmt.Fprintf(&b, "\nNull control, scale %d (%s source): %d windows of %.2f s with no fork: primary p50 / p99 / max %.1f / %.1f / %.1f ms (n=%d), p99 ratio %s.\n",
			c.Scale, c.Source, c.Windows, c.WindowS, c.P50Ms, c.P99Ms, c.MaxMs, c.Samples, ratio)
	}
	b.WriteString("\nP99 ratio: against the steady window before any fork (the target's measure). P99 vs control: against the null control of the same scale, windows with no fork interleaved with the forks, so the machine's own drift over the run (the primary's timed checkpoints, the previous fork's write-back) falls on both.\n")
	b.WriteString("WAL replayed: by the median snapshot fork before it was writable, from its source's last checkpoint (a replica's last restartpoint) to the snapshot.\n")
	b.WriteString("To writable: the median fork of each row, and the slowest. The primary's latency during forks pools the transactions overlapping every fork of the row.\n")
	b.WriteString("Worst per phase: the slowest primary transaction overlapping the checkpoint, copy, start and promote phases.\n")
	b.WriteString("Fork disk: bytes the fork holds exclusively after a short write load on it (btrfs `filesystem du` exclusive; snapshot and reflink forks share the rest with the source).\n")
	return b.String()
}

func orAny(cpus string) string {
	if cpus == "" {
		return "any"
	}
	return cpus
}

func forks(n int) string {
	if n == 1 {
		return "1 fork"
	}
	return fmt.Sprintf("%d forks", n)
}

func bytesHuman(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
