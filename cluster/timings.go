package cluster

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Timings are the Patroni and HAProxy intervals that decide how fast a
// failover is and how much network trouble the cluster tolerates.
type Timings struct {
	// Name is the profile's name ("aggressive", "default" or "custom").
	Name string `json:"name"`
	// TTL is the leader lease in seconds.
	TTL int `json:"ttl"`
	// LoopWait is the seconds Patroni sleeps between HA cycles.
	LoopWait int `json:"loop_wait"`
	// RetryTimeout is the seconds Patroni retries DCS and PostgreSQL operations.
	RetryTimeout int `json:"retry_timeout"`
	// CheckInterval is HAProxy's health-check interval for a server that is up.
	CheckInterval time.Duration `json:"check_interval"`
	// DownInterval is HAProxy's check interval for a server that is down, so a
	// new primary is routed to soon after it answers.
	DownInterval time.Duration `json:"down_interval"`
	// CheckFall and CheckRise are how many failed or passed checks mark a
	// server down or up.
	CheckFall int `json:"check_fall"`
	CheckRise int `json:"check_rise"`
}

// Aggressive is the booth profile: failover in about five seconds.
var aggressive = Timings{Name: "aggressive", TTL: 5, LoopWait: 1, RetryTimeout: 2,
	CheckInterval: time.Second, DownInterval: 100 * time.Millisecond, CheckFall: 1, CheckRise: 1}

// patroniDefault is Patroni's shipped profile, for comparison.
var patroniDefault = Timings{Name: "default", TTL: 30, LoopWait: 10, RetryTimeout: 10,
	CheckInterval: 3 * time.Second, DownInterval: time.Second, CheckFall: 3, CheckRise: 2}

// ProfileNames lists the named timing profiles.
func ProfileNames() []string { return []string{aggressive.Name, patroniDefault.Name} }

// ParseTimings accepts a profile name ("aggressive", "default") or custom
// values written "TTL/LOOP_WAIT/RETRY_TIMEOUT" in seconds, and validates them.
func ParseTimings(s string) (Timings, error) {
	switch s {
	case aggressive.Name:
		return aggressive, nil
	case patroniDefault.Name:
		return patroniDefault, nil
	}
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return Timings{}, fmt.Errorf("timings %q: want %s, or TTL/LOOP_WAIT/RETRY_TIMEOUT in seconds such as 5/1/2",
			s, strings.Join(ProfileNames(), " or "))
	}
	var v [3]int
	names := [3]string{"ttl", "loop_wait", "retry_timeout"}
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return Timings{}, fmt.Errorf("timings %q: %s %q is not a whole number of seconds", s, names[i], p)
		}
		v[i] = n
	}
	t := Timings{Name: "custom", TTL: v[0], LoopWait: v[1], RetryTimeout: v[2],
		CheckInterval: time.Second, DownInterval: 100 * time.Millisecond, CheckFall: 1, CheckRise: 1}
	if err := t.Validate(); err != nil {
		return Timings{}, fmt.Errorf("timings %q: %w", s, err)
	}
	return t, nil
}

// Validate refuses timings under which Patroni cannot fail over safely.
func (t Timings) Validate() error {
	switch {
	case t.TTL < 1 || t.LoopWait < 1:
		return fmt.Errorf("ttl (%d) and loop_wait (%d) must be at least 1 s", t.TTL, t.LoopWait)
	case t.RetryTimeout < 2:
		// Patroni 3.0's etcd3 client gives up acquiring the leader key when
		// less than a second of its deadline is left: with retry_timeout 1
		// no replica ever takes over (measured: 9 minutes leaderless).
		return fmt.Errorf("retry_timeout %d s is below 2 s: with etcd3 Patroni never acquires the leader key, so no failover happens", t.RetryTimeout)
	case t.LoopWait+2*t.RetryTimeout > t.TTL:
		// The leader must be able to renew its lease within one TTL even
		// when one DCS attempt times out.
		return fmt.Errorf("loop_wait + 2*retry_timeout = %d s exceeds ttl %d s: the primary could lose its lease while healthy",
			t.LoopWait+2*t.RetryTimeout, t.TTL)
	case t.CheckInterval <= 0 || t.DownInterval <= 0 || t.CheckFall < 1 || t.CheckRise < 1:
		return fmt.Errorf("HAProxy check intervals must be positive and fall/rise at least 1")
	}
	return nil
}

// EffectiveFor returns the values a Patroni of the given version really
// uses: from 3.2 on Patroni raises ttl below 20 s to 20 and retry_timeout
// below 3 s to 3 without saying so, and the 5-second demo silently becomes
// another one.
func (t Timings) EffectiveFor(patroniVersion string) Timings {
	major, minor := parseVersion(patroniVersion)
	if major > 3 || (major == 3 && minor >= 2) {
		if t.TTL < 20 {
			t.TTL = 20
		}
		if t.RetryTimeout < 3 {
			t.RetryTimeout = 3
		}
	}
	return t
}

func parseVersion(v string) (major, minor int) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) >= 1 {
		major, _ = strconv.Atoi(parts[0])
	}
	if len(parts) >= 2 {
		minor, _ = strconv.Atoi(parts[1])
	}
	return major, minor
}
