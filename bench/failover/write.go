package failover

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// writeFiles writes results.json and report.md into out.
func writeFiles(out string, v any, report string) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("results.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "results.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("results.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "report.md"), []byte(report), 0o644); err != nil {
		return fmt.Errorf("report.md: %w", err)
	}
	return nil
}

func writeResults(out string, r Results) error {
	errs := []error{writeFiles(out, r, RenderReport(r))}
	var series []Series
	profiles := profilesOf(r.Trials, r.Settings)
	for _, p := range profiles {
		gs := groupsOf(r.Trials, []string{p})
		if len(gs) == 0 {
			series = append(series, Series{Name: p}) // a profile without trials keeps its legend entry
		}
		for _, g := range gs {
			// A paired run's profile shows its silent and soft cuts apart.
			s := Series{Name: p}
			if len(gs) > 1 {
				s.Name = p + " " + g.cut
			}
			for _, t := range r.Trials {
				if g.has(t) {
					s.Samples = append(s.Samples, t.FailoverS)
				}
			}
			series = append(series, s)
		}
	}
	errs = append(errs, PlotCDF("Primary power cut → first commit through HAProxy", "seconds from the cut", series, FailoverReferences,
		filepath.Join(out, "failover-cdf.png"), filepath.Join(out, "failover-cdf.svg")))
	if err := PlotPhases(r.Trials, filepath.Join(out, "failover-phases.png"), filepath.Join(out, "failover-phases.svg")); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// BootTarget is the target for a cold start: three healthy members
// at most 12 s after the containers start.
var BootTarget = Reference{12, "target: 12 s"}

func writeBootResults(out string, r BootResults) error {
	errs := []error{writeFiles(out, r, RenderBootReport(r))}
	by := map[string][]float64{}
	var order []string
	for _, t := range r.Trials {
		if _, ok := by[t.Profile]; !ok {
			order = append(order, t.Profile)
			by[t.Profile] = nil
		}
		if t.Error == "" {
			by[t.Profile] = append(by[t.Profile], t.BootS)
		}
	}
	var series []Series
	for _, p := range order {
		series = append(series, Series{Name: p, Samples: by[p]})
	}
	errs = append(errs, PlotCDF("Cold start: containers started → every member healthy", "seconds from the first container start",
		series, []Reference{BootTarget}, filepath.Join(out, "boot-cdf.png"), filepath.Join(out, "boot-cdf.svg")))
	return errors.Join(errs...)
}
