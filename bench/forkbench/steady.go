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

// minSteady is the shortest default steady window.
const minSteady = 10 * time.Second

// steadyFor is the default steady window for the servers' settings:
// CheckpointCycles times their checkpoint_timeout, at least minSteady.
func steadyFor(settings []fork.Setting) (time.Duration, error) {
	for _, kv := range settings {
		if !strings.EqualFold(kv.Key, "checkpoint_timeout") {
			continue
		}
		d, err := ParseSeconds(kv.Value)
		if err != nil {
			return 0, fmt.Errorf("checkpoint_timeout %q: %w", kv.Value, err)
		}
		return max(minSteady, CheckpointCycles*d), nil
	}
	return minSteady, nil
}

// pgUnits are PostgreSQL's time units for a setting whose base unit is
// the second.
var pgUnits = map[string]time.Duration{
	"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second,
	"min": time.Minute, "h": time.Hour, "d": 24 * time.Hour,
}

// ParseSeconds reads a PostgreSQL time setting whose base unit is the
// second, as postgresql.conf takes it: "30s", "5min", "1.5h", or a bare
// number of seconds.
func ParseSeconds(s string) (time.Duration, error) {
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
	if d <= 0 || d > float64(math.MaxInt64/CheckpointCycles) {
		return 0, fmt.Errorf("%s: out of range", s)
	}
	return time.Duration(d), nil
}
