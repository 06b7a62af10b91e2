package forkbench

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redswitch/redswitch/fork"
)

// CheckpointCycles is how many of the primary's checkpoint cycles the
// default steady window spans. A primary under constant load is periodic
// with checkpoint_timeout: its tail latency rises while a checkpoint syncs.
// A window shorter than a cycle catches that or misses it by chance: 10 s
// windows gave a steady p99 at scale 10 of 2.6 ms in one run and 19 ms in
// another.
const CheckpointCycles = 2

// PostgreSQL's bounds and default for checkpoint_timeout.
const (
	minCheckpointTimeout     = 30 * time.Second
	maxCheckpointTimeout     = 24 * time.Hour
	defaultCheckpointTimeout = 5 * time.Minute
)

// steadyFor is the default steady window for the servers' settings:
// CheckpointCycles times their checkpoint_timeout (PostgreSQL's default
// when they do not set it). A value PostgreSQL would refuse is an error.
func steadyFor(settings []fork.Setting) (time.Duration, error) {
	cycle := defaultCheckpointTimeout
	for _, kv := range settings {
		if !strings.EqualFold(kv.Key, "checkpoint_timeout") {
			continue
		}
		d, err := parseSeconds(kv.Value)
		if err == nil && (d < minCheckpointTimeout || d > maxCheckpointTimeout) {
			err = fmt.Errorf("want 30s to 1d")
		}
		if err != nil {
			return 0, fmt.Errorf("checkpoint_timeout %q: %w", kv.Value, err)
		}
		cycle = d
	}
	return CheckpointCycles * cycle, nil
}

// pgUnits are PostgreSQL's time units for a setting whose base unit is
// the second.
var pgUnits = map[string]time.Duration{
	"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second,
	"min": time.Minute, "h": time.Hour, "d": 24 * time.Hour,
}

// parseSeconds reads a PostgreSQL time setting whose base unit is the
// second, as postgresql.conf takes it: "30s", "5min", "1.5h", or a bare
// number of seconds.
func parseSeconds(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	if num == "" {
		return 0, fmt.Errorf("no number")
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("number %q: %w", num, err)
	}
	u := time.Second
	if unit != "" {
		var ok bool
		if u, ok = pgUnits[unit]; !ok {
			return 0, fmt.Errorf("unit %q: want us, ms, s, min, h or d", unit)
		}
	}
	d := v * float64(u)
	if d <= 0 || d > math.MaxInt64 {
		return 0, fmt.Errorf("%s: out of range", s)
	}
	return time.Duration(d), nil
}
