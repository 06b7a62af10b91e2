package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redswitch/redswitch/journal"
)

// StealBackFixedIn is the first Patroni release whose etcd3 code no longer
// writes the leader key over another member's after a thaw (pull request
// 2693: the write became conditional on the key's owner).
const StealBackFixedIn = "3.0.3"

// PatroniStealBack reports whether history shows Patroni's etcd3 leader
// key steal-back, the bug Patroni 3.0.3 fixed, on a Patroni older than
// that: a primary frozen (or starved of CPU: a stall either way) while it
// held the leader key, thawed after another member had taken the key,
// writes the key over that member's live key under a new lease (its own
// expired while it was stalled). The
// history must record the key's lease and whether a write created or
// overwrote the key (journal.KindLeader), as the head node does; a history
// without them, or any other course of events, is not excused. why says
// what was found, or what is missing.
func PatroniStealBack(history []journal.Event, patroniVersion string) (excused bool, why string) {
	v, ok := parsePatroniVersion(patroniVersion)
	if !ok {
		return false, fmt.Sprintf("Patroni version %q is not known: the steal-back is excused only on a Patroni older than %s", patroniVersion, StealBackFixedIn)
	}
	fixed, _ := parsePatroniVersion(StealBackFixedIn)
	if !versionBefore(v, fixed) {
		return false, fmt.Sprintf("Patroni %s has the steal-back fix (%s, pull request 2693): a leader key taken back is a new bug", patroniVersion, StealBackFixedIn)
	}
	ev := sortedByTime(history)
	var misses []string
	for i, inj := range ev {
		if inj.Kind != journal.KindFaultInject || !stalls(inj.Detail) || inj.Error != "" || inj.Node == "" || inj.Node == "etcd" {
			continue
		}
		ok, why := stealBackAfter(ev, i, patroniVersion)
		if ok {
			return true, why
		}
		misses = append(misses, why)
	}
	if len(misses) == 0 {
		return false, "no node was frozen or starved, so there was no steal-back after a thaw"
	}
	return false, strings.Join(misses, "; ")
}

// stalls reports whether a fault kind stalls a node's Patroni without
// killing it, so that it resumes later with a stale view: a freeze, or a
// CPU starvation deep enough to let its lease expire.
func stalls(kind string) bool {
	return kind == string(FaultFreeze) || kind == string(FaultCPUStarve)
}

// stealBackAfter looks for the steal-back after the freeze injected at
// ev[i] (ev sorted by time).
func stealBackAfter(ev []journal.Event, i int, version string) (bool, string) {
	inj := ev[i]
	x := inj.Node
	since := func(t time.Time) string { return fmt.Sprintf("+%.2fs", t.Sub(inj.At).Seconds()) }

	// Who held the key when x froze.
	held, found := journal.Event{}, false
	for _, e := range ev[:i+1] {
		if e.Kind == journal.KindLeader {
			held, found = e, true
		}
	}
	if !found || held.Node != x {
		holder := "nobody"
		if found && held.Node != "" {
			holder = held.Node
		}
		return false, fmt.Sprintf("%s did not hold the leader key when it was frozen (%s did)", x, holder)
	}
	if held.ID == "" {
		return false, fmt.Sprintf("the leader key event of %s carries no lease ID, so a new lease cannot be told from the old one", x)
	}

	// When x was thawed.
	thaw, thawed := journal.Event{}, false
	for _, e := range ev[i+1:] {
		if e.Kind == journal.KindFaultRecover && e.Node == x && e.Detail == inj.Detail && (inj.ID == "" || e.ID == inj.ID) {
			thaw, thawed = e, true
			break
		}
	}
	if !thawed {
		return false, fmt.Sprintf("%s, frozen at %s, was never thawed", x, inj.At.Format("15:04:05.000"))
	}

	prev := held
	var taken *journal.Event
	for _, e := range ev[i+1:] {
		if e.Kind != journal.KindLeader {
			continue
		}
		if e.Node == x && taken != nil && prev.Node != "" && prev.Node != x {
			switch {
			case e.At.Before(thaw.At):
				return false, fmt.Sprintf("%s wrote the leader key at %s while still frozen: not the steal-back", x, since(e.At))
			case e.ID == "":
				return false, fmt.Sprintf("%s took the leader key back at %s but its lease was not recorded", x, since(e.At))
			case e.ID == held.ID:
				return false, fmt.Sprintf("%s took the leader key back at %s under its old lease %s, not a new one", x, since(e.At), e.ID)
			case e.Detail != journal.LeaderOverwritten:
				return false, fmt.Sprintf("%s took the leader key back at %s, but etcd does not say the write overwrote %s's key (detail %q)", x, since(e.At), prev.Node, e.Detail)
			}
			return true, fmt.Sprintf("Patroni %s (older than %s): %s, frozen at %s holding the leader key under lease %s, was thawed at %s and at %s wrote the key over %s's (lease %s, taken at %s) under a new lease %s: the etcd3 steal-back fixed in Patroni %s (pull request 2693)",
				version, StealBackFixedIn, x, inj.At.Format("15:04:05.000"), held.ID, since(thaw.At), since(e.At), prev.Node, prev.ID, since(taken.At), e.ID, StealBackFixedIn)
		}
		if taken == nil && e.Node != "" && e.Node != x {
			taken = &e
		}
		prev = e
	}
	if taken == nil {
		return false, fmt.Sprintf("no other member took the leader key from %s while it was frozen", x)
	}
	return false, fmt.Sprintf("%s never wrote the leader key over another member's after its thaw at %s (%s took it at %s)", x, since(thaw.At), taken.Node, since(taken.At))
}

// parsePatroniVersion reads "3.0.2" (a missing patch level is 0, a
// suffix such as "-1" after the digits is ignored).
func parsePatroniVersion(s string) ([3]int, bool) {
	var v [3]int
	parts := strings.Split(strings.TrimPrefix(strings.TrimSpace(s), "v"), ".")
	if len(parts) < 2 || len(parts) > 3 {
		return v, false
	}
	for i, p := range parts {
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		if end == 0 || (end < len(p) && i < len(parts)-1) {
			return v, false
		}
		n, err := strconv.Atoi(p[:end])
		if err != nil {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

func versionBefore(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}
