package scenarios_test

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe/analysis"
	"github.com/redswitch/redswitch/scenarios"
)

// The judgement of a library run, apart from running it, so that it can
// be tested without a cluster: which scenarios run, what counts as
// passing, and the two controls that prove the checks can tell.

// The controls. The negative control injects nothing and must pass over a
// history without a failover; the positive one cuts the primary and
// expects no failover, so it must fail, at that check, over a history
// with a failover.
const (
	negativeControl = "negative-control"
	positiveControl = "wrong-expectation"
)

func controls() []string { return []string{negativeControl, positiveControl} }

// notRunnable is a scenario this rig may legitimately not run: the step
// that cannot run needs Needs (a fault kind, or "fork"), for the reason
// Why. A listed scenario that runs, or is skipped for anything else,
// fails the test.
type notRunnable struct {
	Needs string
	Why   string
}

// knownBug is a scenario that may fail, but only when Excuse recognises
// its bug's signature in the result.
type knownBug struct {
	Why    string
	Excuse func(scenarios.Result) (bool, string)
}

// libraryPolicy is what a library run accepts besides a pass.
type libraryPolicy struct {
	NotRunnable map[string]notRunnable
	KnownBugs   map[string]knownBug
}

// thisRig is the policy of the containerized rig (Patroni 3.0.2 from
// Debian 12): every fault kind and forks are available, and one known
// bug.
func thisRig() libraryPolicy {
	return libraryPolicy{
		NotRunnable: map[string]notRunnable{},
		KnownBugs: map[string]knownBug{
			"primary-freeze": {
				Why:    "Patroni 3.0.2 (Debian 12), seen in 2 of 3 runs: after the thaw the old primary re-grants its expired etcd3 lease and writes the leader key over the new primary's; the new primary's acknowledged commits are rewound away (fixed upstream in 3.0.3, pull request 2693)",
				Excuse: freezeStealBack,
			},
			"cpu-starve-aggressive": {
				Why:    "the same Patroni 3.0.2 steal-back after a starvation deep enough to let the primary's lease expire: when the cap is lifted the old primary writes the leader key over the new primary's (seen at 0.5% of a CPU; fixed upstream in 3.0.3)",
				Excuse: freezeStealBack,
			},
		},
	}
}

// stale lists the not-runnable entries whose need the backend can in
// fact meet: the list must not hide a scenario that could run.
func (p libraryPolicy) stale(b scenarios.Backend) []string {
	var out []string
	for _, name := range sortedKeys(p.NotRunnable) {
		nr := p.NotRunnable[name]
		if (nr.Needs == "fork" && b.Forks()) || (nr.Needs != "fork" && b.Supports(scenarios.FaultKind(nr.Needs))) {
			out = append(out, fmt.Sprintf("%s is listed as not runnable for want of %s, but %s has it: take it off the list", name, nr.Needs, b.Name()))
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// selectScenarios picks the scenarios to run: all of them, or those
// SCENARIOS names (filtered: the variable is set) plus the controls,
// which always run. Those in notYet are left out and returned with their
// reason. A filter naming nothing, or a name that is not a scenario, is
// an error: a run that selects nothing must not pass.
func selectScenarios(all []*scenarios.Scenario, filter string, filtered bool, notYet map[string]string) (selected []*scenarios.Scenario, notRun []string, err error) {
	byName := map[string]*scenarios.Scenario{}
	for _, sc := range all {
		if byName[sc.Name] != nil {
			return nil, nil, fmt.Errorf("two scenarios are named %s", sc.Name)
		}
		byName[sc.Name] = sc
	}
	for _, c := range controls() {
		if byName[c] == nil {
			return nil, nil, fmt.Errorf("control %s is missing", c)
		}
		if reason, ok := notYet[c]; ok {
			return nil, nil, fmt.Errorf("control %s cannot be left out (%s)", c, reason)
		}
	}
	var want map[string]bool // nil: every scenario
	if filtered {
		want = map[string]bool{}
		for _, n := range strings.Split(filter, ",") {
			if n = strings.TrimSpace(n); n != "" {
				want[n] = true
			}
		}
		if len(want) == 0 {
			return nil, nil, fmt.Errorf("SCENARIOS=%q selects no scenario", filter)
		}
		for _, n := range sortedKeys(want) {
			if byName[n] == nil {
				return nil, nil, fmt.Errorf("SCENARIOS names %q, which is no scenario", n)
			}
			if reason, ok := notYet[n]; ok {
				return nil, nil, fmt.Errorf("SCENARIOS names %s, which this rig does not run yet: %s", n, reason)
			}
		}
		for _, c := range controls() {
			want[c] = true
		}
	}
	for _, sc := range all {
		if reason, ok := notYet[sc.Name]; ok {
			notRun = append(notRun, sc.Name+": "+reason)
			continue
		}
		if want == nil || want[sc.Name] {
			selected = append(selected, sc)
		}
	}
	if len(selected) == 0 {
		return nil, notRun, errors.New("no scenario selected")
	}
	return selected, notRun, nil
}

// judgeLibraryRun judges the results of the selected scenarios: every
// problem fails the test, notes are only logged. Every selected scenario
// must have exactly one result, both controls must have been selected
// and have run, a skipped scenario fails unless the policy lists it with
// the need that stopped it, and a failure passes only with a known bug's
// signature.
func judgeLibraryRun(selected []*scenarios.Scenario, results []scenarios.Result, p libraryPolicy) (problems, notes []string) {
	if len(selected) == 0 {
		return []string{"no scenario selected: a run that checks nothing cannot pass"}, nil
	}
	byName := map[string][]scenarios.Result{}
	for _, r := range results {
		byName[r.Name()] = append(byName[r.Name()], r)
	}
	chosen := map[string]bool{}
	for _, sc := range selected {
		chosen[sc.Name] = true
		rs := byName[sc.Name]
		delete(byName, sc.Name)
		switch len(rs) {
		case 0:
			problems = append(problems, fmt.Sprintf("%s was selected but has no result", sc.Name))
			continue
		case 1:
		default:
			problems = append(problems, fmt.Sprintf("%s has %d results, want one", sc.Name, len(rs)))
		}
		pr, ns := judgeOne(sc, rs[0], p)
		problems, notes = append(problems, pr...), append(notes, ns...)
	}
	for _, name := range sortedKeys(byName) {
		problems = append(problems, fmt.Sprintf("a result for %s, which was not selected", name))
	}
	for _, c := range controls() {
		if !chosen[c] {
			problems = append(problems, fmt.Sprintf("control %s was not selected: without it a pass proves nothing", c))
		}
	}
	return problems, notes
}

// judgeOne judges one scenario's result.
func judgeOne(sc *scenarios.Scenario, r scenarios.Result, p libraryPolicy) (problems, notes []string) {
	nr, listed := p.NotRunnable[sc.Name]
	if reason, skipped := scenarios.Skipped(r); skipped {
		needs := skipNeeds(sc, r)
		switch {
		case !listed:
			return []string{fmt.Sprintf("%s did not run (%s): a scenario this rig cannot run fails unless listed as not runnable with its reason", sc.Name, reason)}, nil
		case needs != nr.Needs:
			return []string{fmt.Sprintf("%s is listed as not runnable for want of %s, but did not run for want of %s (%s)", sc.Name, nr.Needs, needs, reason)}, nil
		}
		return nil, []string{fmt.Sprintf("NOT RUNNABLE %s: %s (%s)", sc.Name, nr.Why, reason)}
	}
	if listed {
		problems = append(problems, fmt.Sprintf("%s ran although listed as not runnable (%s): take it off the list", sc.Name, nr.Why))
	}
	switch sc.Name {
	case negativeControl:
		return append(problems, checkNegativeControl(r)...), notes
	case positiveControl:
		return append(problems, checkPositiveControl(r)...), notes
	}
	if r.Passed() {
		return problems, notes
	}
	if bug, ok := p.KnownBugs[sc.Name]; ok {
		excused, why := bug.Excuse(r)
		if excused {
			return problems, append(notes, fmt.Sprintf("KNOWN BUG reproduced by %s: %s; %s", sc.Name, bug.Why, why))
		}
		problems = append(problems, fmt.Sprintf("%s failed without its known bug's signature: %s", sc.Name, why))
	}
	return append(problems, failures(r)...), notes
}

// skipNeeds names what the step that stopped a skipped scenario needs: a
// fault kind, "fork", or the step itself.
func skipNeeds(sc *scenarios.Scenario, r scenarios.Result) string {
	var se *scenarios.SkipError
	if !errors.As(r.Err, &se) {
		return "(unknown)"
	}
	for _, st := range sc.Steps {
		switch {
		case st.Line != se.Line:
		case st.Fault != nil:
			return string(st.Fault.Kind)
		case st.Fork != nil:
			return "fork"
		default:
			return fmt.Sprintf("line %d (%s)", st.Line, st)
		}
	}
	return fmt.Sprintf("line %d (no such step)", se.Line)
}

// failures lists a result's failed steps and its error.
func failures(r scenarios.Result) []string {
	var out []string
	for _, s := range r.Steps {
		if !s.OK {
			out = append(out, fmt.Sprintf("%s:%d: %s: %s", r.Scenario.File, s.Line, s.Text, s.Detail))
		}
	}
	if r.Err != nil {
		out = append(out, fmt.Sprintf("%s: %v", r.Name(), r.Err))
	}
	return out
}

// checkNegativeControl: the negative control passed, and its recorded
// history, judged here apart from the scenario's own checks, shows a
// quiet cluster.
func checkNegativeControl(r scenarios.Result) []string {
	var out []string
	if !r.Passed() {
		out = append(out, "negative-control failed: the harness sees trouble where there is none")
		out = append(out, failures(r)...)
	}
	for _, q := range quietHistory(r.History) {
		out = append(out, "negative-control: "+q)
	}
	return out
}

// quietHistory lists what, in a history, is not a quiet cluster: no
// acknowledged commit at all (nothing was watched), a failover, the
// leader key held by more than one node or lost, commits on more than
// one timeline.
func quietHistory(history []journal.Event) []string {
	var out []string
	acked := 0
	var timelines []int
	for _, e := range history {
		if e.Kind == journal.KindProbeAck {
			acked++
			if !slices.Contains(timelines, e.Timeline) {
				timelines = append(timelines, e.Timeline)
			}
		}
	}
	if acked == 0 {
		out = append(out, "no acknowledged commit was recorded: the control watched nothing")
	}
	for _, f := range analysis.Failovers(history, analysis.Options{}) {
		if f.NewPrimary != f.OldPrimary {
			out = append(out, fmt.Sprintf("failover %s → %s: writes stopped at %s for %.2fs", f.OldPrimary, f.NewPrimary,
				f.Outage.Start.Format("15:04:05.000"), f.Duration.Seconds()))
		}
	}
	var holders []string
	for _, e := range history {
		if e.Kind != journal.KindLeader {
			continue
		}
		if e.Node == "" && len(holders) > 0 {
			out = append(out, fmt.Sprintf("the leader key was lost at %s (%s)", e.At.Format("15:04:05.000"), e.Detail))
		}
		if e.Node != "" && !slices.Contains(holders, e.Node) {
			holders = append(holders, e.Node)
		}
	}
	if len(holders) > 1 {
		out = append(out, "the leader key was held by "+strings.Join(holders, ", then "))
	}
	if len(timelines) > 1 {
		slices.Sort(timelines)
		out = append(out, fmt.Sprintf("commits were acknowledged on timelines %v", timelines))
	}
	return out
}

// checkPositiveControl: the deliberately wrong scenario completed and
// failed exactly at its no_failover check, and its history shows the
// failover that check should have seen: it failed because the checks
// tell a failover from none, not for some other reason.
func checkPositiveControl(r scenarios.Result) []string {
	if r.Err != nil {
		return []string{fmt.Sprintf("wrong-expectation broke instead of failing its expectation: %v", r.Err)}
	}
	if r.Passed() {
		return []string{"wrong-expectation passed: the runner cannot tell a failover from none"}
	}
	var out []string
	for _, s := range r.Steps {
		if !s.OK && !slices.Equal(s.FailedChecks, []string{"no_failover"}) {
			out = append(out, fmt.Sprintf("wrong-expectation failed at line %d (%s; failed checks %v) rather than at its no_failover check: %s",
				s.Line, s.Text, s.FailedChecks, s.Detail))
		}
	}
	failedOver := false
	for _, f := range analysis.Failovers(r.History, analysis.Options{}) {
		failedOver = failedOver || f.NewPrimary != f.OldPrimary
	}
	if !failedOver {
		out = append(out, "wrong-expectation: its history holds no failover, so its no_failover check failed for another reason")
	}
	return out
}

// freezeStealBack excuses a primary-freeze failure only when the run
// completed, every failed check is lost_commits or split_brain in a step
// after the thaw (what the steal-back causes), and the history holds the
// steal-back on a Patroni older than 3.0.3.
func freezeStealBack(r scenarios.Result) (bool, string) {
	if r.Err != nil {
		return false, fmt.Sprintf("the run broke: %v", r.Err)
	}
	thaw := 0
	for _, st := range r.Scenario.Steps {
		if st.Fault != nil && !st.Fault.Inject && thaw == 0 {
			thaw = st.Line
		}
	}
	if thaw == 0 {
		return false, "the scenario has no thaw step"
	}
	for _, s := range r.Steps {
		if s.OK {
			continue
		}
		if s.Line <= thaw {
			return false, fmt.Sprintf("line %d (%s) failed before the thaw at line %d: %s", s.Line, s.Text, thaw, s.Detail)
		}
		if len(s.FailedChecks) == 0 {
			return false, fmt.Sprintf("line %d (%s) failed outside its checks: %s", s.Line, s.Text, s.Detail)
		}
		for _, c := range s.FailedChecks {
			if c != "lost_commits" && c != "split_brain" {
				return false, fmt.Sprintf("check %s failed at line %d: the steal-back explains only lost commits and a split brain", c, s.Line)
			}
		}
	}
	return scenarios.PatroniStealBack(r.History, r.PatroniVersion)
}
