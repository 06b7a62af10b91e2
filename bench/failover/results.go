package failover

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/redswitch/redswitch/probe/analysis"
)

// Trial is one primary power cut: how long writes stopped, what happened
// when, and what it cost.
type Trial struct {
	Profile string `json:"profile"`
	// Trial numbers the counted trials of a profile from 1; the warm-up is 0.
	Trial      int     `json:"trial"`
	Victim     string  `json:"victim"`
	NewPrimary string  `json:"new_primary"`
	FailoverS  float64 `json:"failover_s"`
	// LostCommits counts acknowledged commits a read-back did not find.
	LostCommits int `json:"lost_commits"`
	// Cut is how the victim was cut: CutSilent (its container killed) or
	// CutSoft (its agent's soft cut); empty in results from before paired
	// runs, which only cut silently.
	Cut string `json:"cut,omitempty"`
	// Phases are seconds from the cut (names from probe/analysis:
	// haproxy_down, leader_expired, new_leader, haproxy_up, writable,
	// first_commit, and promoted, Patroni's role publication, which comes
	// after the first commit); a phase not observed is absent.
	Phases map[string]float64 `json:"phases"`
	// RigShareS is first_commit − writable: what the rig adds once the
	// new primary's PostgreSQL takes writes; absent without a writable
	// phase, negative when the probe's commit beat the watcher's poll.
	RigShareS *float64 `json:"rig_share_s,omitempty"`
	// RejoinS runs from powering the victim on to a healthy cluster (every
	// node running, every replica streaming).
	RejoinS float64 `json:"rejoin_s"`
	// RejoinError says why the victim did not rejoin; the run stops there.
	RejoinError string `json:"rejoin_error,omitempty"`
	// Rewound is set when the victim's log shows pg_rewind on rejoin.
	Rewound bool `json:"rewound"`
	// ProbeErrors counts the probe's failed writes during the outage, by
	// SQLSTATE ("connection" for errors without one).
	ProbeErrors map[string]int `json:"probe_errors,omitempty"`
	// FirstReadOnlyS is the first 25006 (read-only) answer after the cut:
	// HAProxy already routes to a node that is not yet writable.
	FirstReadOnlyS float64 `json:"first_read_only_s,omitempty"`
	// Load1 is the machine's one-minute load average at the cut.
	Load1 float64 `json:"load1"`
	// Error says why a trial has no measurement.
	Error string `json:"error,omitempty"`

	// cutAt and endAt bound the trial in the journal, for its event window.
	cutAt, endAt time.Time
}

// Summary is the distribution of one profile's counted trials.
type Summary struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
	Min  float64 `json:"min"`
	// LostCommits sums the lost commits over the trials.
	LostCommits int `json:"lost_commits,omitempty"`
	// Failed counts trials without a measurement.
	Failed int `json:"failed,omitempty"`
}

// Settings are the exact knobs a profile ran with.
type Settings struct {
	Profile      string `json:"profile"`
	Nodes        int    `json:"nodes"`
	TTL          int    `json:"ttl"`
	LoopWait     int    `json:"loop_wait"`
	RetryTimeout int    `json:"retry_timeout"`
	// LeaseTTL is the leader lease etcd granted, read back from the cluster.
	LeaseTTL        int64  `json:"lease_ttl,omitempty"`
	TimingsMismatch string `json:"timings_mismatch,omitempty"`
	SynchronousMode bool   `json:"synchronous_mode"`
	// HAProxyServer is the rendered default-server line of the primary listener.
	HAProxyServer    string  `json:"haproxy_server,omitempty"`
	ProbeIntervalMs  float64 `json:"probe_interval_ms"`
	ProbeConnectMs   float64 `json:"probe_connect_timeout_ms"`
	ProbeStatementMs float64 `json:"probe_statement_timeout_ms"`
	// OutageThresholdMs is the shortest commit gap counted as an outage.
	OutageThresholdMs float64 `json:"outage_threshold_ms"`
}

// Versions of the software under test.
type Versions struct {
	Patroni    string `json:"patroni,omitempty"`
	PostgreSQL string `json:"postgresql,omitempty"`
	HAProxy    string `json:"haproxy,omitempty"`
	Etcd       string `json:"etcd,omitempty"`
}

// Machine describes where the bench ran and how busy it was.
type Machine struct {
	CPU       string  `json:"cpu,omitempty"`
	Cores     int     `json:"cores"`
	MemBytes  int64   `json:"mem_bytes,omitempty"`
	Kernel    string  `json:"kernel,omitempty"`
	GoVersion string  `json:"go_version,omitempty"`
	LoadStart float64 `json:"load1_start"`
	LoadEnd   float64 `json:"load1_end"`
	// OtherContainers counts running containers not of this bench at the
	// start: other clusters sharing the cores.
	OtherContainers int `json:"other_containers"`
}

// Results is results.json of `bench failover`.
type Results struct {
	Trials []Trial `json:"trials"`
	// Warmup are the uncounted first cuts of each profile.
	Warmup   []Trial            `json:"warmup,omitempty"`
	Summary  map[string]Summary `json:"summary"`
	Settings []Settings         `json:"settings"`
	Versions Versions           `json:"versions"`
	Machine  Machine            `json:"machine"`
	Started  time.Time          `json:"started"`
	Finished time.Time          `json:"finished"`
}

// BootTrial is one cold start: containers started to three healthy members.
type BootTrial struct {
	Profile string `json:"profile"`
	Trial   int    `json:"trial"`
	// BootS runs from the first node container's start to a healthy cluster.
	BootS float64 `json:"boot_s"`
	// StartSpreadS is between the first and the last container start.
	StartSpreadS float64 `json:"start_spread_s"`
	// TotalS includes creating the network, etcd and the containers.
	TotalS float64 `json:"total_s"`
	Leader string  `json:"leader,omitempty"`
	Load1  float64 `json:"load1"`
	Error  string  `json:"error,omitempty"`
}

// BootResults is results.json of `bench boot`.
type BootResults struct {
	Trials   []BootTrial        `json:"trials"`
	Summary  map[string]Summary `json:"summary"`
	Settings []Settings         `json:"settings"`
	Versions Versions           `json:"versions"`
	Machine  Machine            `json:"machine"`
	Started  time.Time          `json:"started"`
	Finished time.Time          `json:"finished"`
}

// Summarize computes the distribution of vs: nearest-rank percentiles.
func Summarize(vs []float64) Summary {
	s := Summary{N: len(vs)}
	if len(vs) == 0 {
		return s
	}
	sorted := slices.Clone(vs)
	slices.Sort(sorted)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(sorted)))) - 1
		return sorted[max(i, 0)]
	}
	sum := 0.0
	for _, v := range sorted {
		sum += v
	}
	s.P50, s.P95 = rank(0.50), rank(0.95)
	s.Min, s.Max = sorted[0], sorted[len(sorted)-1]
	s.Mean = sum / float64(len(sorted))
	return s
}

// SummarizeTrials summarises the counted trials per profile.
func SummarizeTrials(trials []Trial) map[string]Summary {
	by := map[string][]float64{}
	out := map[string]Summary{}
	lost, failed := map[string]int{}, map[string]int{}
	for _, t := range trials {
		if t.Error != "" {
			failed[t.Profile]++
		} else {
			by[t.Profile] = append(by[t.Profile], t.FailoverS)
		}
		lost[t.Profile] += t.LostCommits
	}
	for p := range mergeKeys(by, failed) {
		s := Summarize(by[p])
		s.LostCommits, s.Failed = lost[p], failed[p]
		out[p] = s
	}
	return out
}

// SummarizeBoots summarises boot trials per profile.
func SummarizeBoots(trials []BootTrial) map[string]Summary {
	by := map[string][]float64{}
	failed := map[string]int{}
	for _, t := range trials {
		if t.Error != "" {
			failed[t.Profile]++
			continue
		}
		by[t.Profile] = append(by[t.Profile], t.BootS)
	}
	out := map[string]Summary{}
	for p := range mergeKeys(by, failed) {
		s := Summarize(by[p])
		s.Failed = failed[p]
		out[p] = s
	}
	return out
}

func mergeKeys(a map[string][]float64, b map[string]int) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

// knownPhases are the phase names a trial may carry, in the order they
// usually happen: Patroni publishes the new role (promoted) after the
// first commit.
var knownPhases = []string{analysis.PhaseHAProxyDown, analysis.PhaseLeaderExpired, analysis.PhaseNewLeader,
	analysis.PhaseHAProxyUp, analysis.PhaseWritable, analysis.PhaseFirstCommit, analysis.PhasePromoted}

func finiteNonNeg(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 }

// check validates one trial; where names it in errors.
func (t Trial) check(where string) error {
	if t.Profile == "" {
		return fmt.Errorf("%s.profile: empty", where)
	}
	if t.Trial < 0 {
		return fmt.Errorf("%s.trial: %d is negative", where, t.Trial)
	}
	if t.Victim == "" {
		return fmt.Errorf("%s.victim: empty", where)
	}
	if t.Cut != "" && t.Cut != CutSilent && t.Cut != CutSoft {
		return fmt.Errorf("%s.cut: %q, want %s or %s", where, t.Cut, CutSilent, CutSoft)
	}
	if t.Error != "" {
		return nil
	}
	if t.NewPrimary == "" {
		return fmt.Errorf("%s.new_primary: empty", where)
	}
	if t.NewPrimary == t.Victim {
		return fmt.Errorf("%s.new_primary: %q is the victim", where, t.NewPrimary)
	}
	if !(t.FailoverS > 0) || !finiteNonNeg(t.FailoverS) {
		return fmt.Errorf("%s.failover_s: %v is not a positive number", where, t.FailoverS)
	}
	if t.LostCommits < 0 {
		return fmt.Errorf("%s.lost_commits: %d is negative", where, t.LostCommits)
	}
	if !finiteNonNeg(t.RejoinS) {
		return fmt.Errorf("%s.rejoin_s: %v is not a number of seconds", where, t.RejoinS)
	}
	fc, ok := t.Phases[analysis.PhaseFirstCommit]
	if !ok {
		return fmt.Errorf("%s.phases: %s is missing", where, analysis.PhaseFirstCommit)
	}
	for name, v := range t.Phases {
		if !slices.Contains(knownPhases, name) {
			return fmt.Errorf("%s.phases.%s: unknown phase", where, name)
		}
		if !finiteNonNeg(v) {
			return fmt.Errorf("%s.phases.%s: %v is not a number of seconds", where, name, v)
		}
	}
	if t.RigShareS != nil && (math.IsNaN(*t.RigShareS) || math.Abs(*t.RigShareS) > t.FailoverS) {
		return fmt.Errorf("%s.rig_share_s: %v is not a share of failover_s %v", where, *t.RigShareS, t.FailoverS)
	}
	if math.Abs(fc-t.FailoverS) > 0.001 {
		return fmt.Errorf("%s.phases.%s: %v differs from failover_s %v", where, analysis.PhaseFirstCommit, fc, t.FailoverS)
	}
	return nil
}

func checkSummary(where string, s Summary, wantN int) error {
	if s.N != wantN {
		return fmt.Errorf("%s.n: %d, but %d measured trials", where, s.N, wantN)
	}
	for name, v := range map[string]float64{"p50": s.P50, "p95": s.P95, "max": s.Max, "mean": s.Mean, "min": s.Min} {
		if !finiteNonNeg(v) {
			return fmt.Errorf("%s.%s: %v is not a number of seconds", where, name, v)
		}
	}
	if s.N > 0 && !(s.Min <= s.P50 && s.P50 <= s.P95 && s.P95 <= s.Max && s.Min <= s.Mean && s.Mean <= s.Max) {
		return fmt.Errorf("%s: statistics out of order (min %v p50 %v p95 %v max %v mean %v)", where, s.Min, s.P50, s.P95, s.Max, s.Mean)
	}
	return nil
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("results.json: %w", err)
	}
	return nil
}

// ParseResults decodes and checks a `bench failover` results.json; errors
// name the field.
func ParseResults(data []byte) (Results, error) {
	var r Results
	if err := decodeStrict(data, &r); err != nil {
		return Results{}, err
	}
	if len(r.Trials) == 0 {
		return Results{}, fmt.Errorf("results.json: trials: empty")
	}
	measured := map[string]int{}
	for i, t := range r.Trials {
		if err := t.check(fmt.Sprintf("results.json: trials[%d]", i)); err != nil {
			return Results{}, err
		}
		if t.Trial == 0 {
			return Results{}, fmt.Errorf("results.json: trials[%d].trial: 0 is the warm-up, which is not counted", i)
		}
		if t.Error == "" {
			measured[t.Profile]++
		} else if _, ok := measured[t.Profile]; !ok {
			measured[t.Profile] = 0
		}
	}
	for i, t := range r.Warmup {
		if err := t.check(fmt.Sprintf("results.json: warmup[%d]", i)); err != nil {
			return Results{}, err
		}
	}
	for p, n := range measured {
		s, ok := r.Summary[p]
		if !ok {
			return Results{}, fmt.Errorf("results.json: summary: profile %q is missing", p)
		}
		if err := checkSummary(fmt.Sprintf("results.json: summary.%s", p), s, n); err != nil {
			return Results{}, err
		}
	}
	for p := range r.Summary {
		if _, ok := measured[p]; !ok {
			return Results{}, fmt.Errorf("results.json: summary.%s: no trials of this profile", p)
		}
	}
	return r, nil
}

// ParseBootResults decodes and checks a `bench boot` results.json.
func ParseBootResults(data []byte) (BootResults, error) {
	var r BootResults
	if err := decodeStrict(data, &r); err != nil {
		return BootResults{}, err
	}
	if len(r.Trials) == 0 {
		return BootResults{}, fmt.Errorf("results.json: trials: empty")
	}
	measured := map[string]int{}
	for i, t := range r.Trials {
		where := fmt.Sprintf("results.json: trials[%d]", i)
		if t.Profile == "" {
			return BootResults{}, fmt.Errorf("%s.profile: empty", where)
		}
		if _, ok := measured[t.Profile]; !ok {
			measured[t.Profile] = 0
		}
		if t.Error != "" {
			continue
		}
		if !(t.BootS > 0) || !finiteNonNeg(t.BootS) {
			return BootResults{}, fmt.Errorf("%s.boot_s: %v is not a positive number", where, t.BootS)
		}
		if !finiteNonNeg(t.StartSpreadS) || !finiteNonNeg(t.TotalS) || t.TotalS < t.BootS {
			return BootResults{}, fmt.Errorf("%s: start_spread_s %v, total_s %v inconsistent with boot_s %v", where, t.StartSpreadS, t.TotalS, t.BootS)
		}
		measured[t.Profile]++
	}
	for p, n := range measured {
		s, ok := r.Summary[p]
		if !ok {
			return BootResults{}, fmt.Errorf("results.json: summary: profile %q is missing", p)
		}
		if err := checkSummary(fmt.Sprintf("results.json: summary.%s", p), s, n); err != nil {
			return BootResults{}, err
		}
	}
	return r, nil
}
