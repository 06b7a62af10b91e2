package soak

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The targets for a booth's third day on a two-core machine.
const (
	TargetHeapMB      = 64
	TargetHeapGrowth  = 1.2
	TargetHeapSlackMB = 8
	TargetTickP99Ms   = 5
	TargetViewBytes   = 32 << 10
	TargetJournalMB   = 100 // a booth day
	TargetWallS       = 600
)

// Judge checks a run against the targets; a run shorter than 72 hours is
// judged at its last hour.
func Judge(r Results) []Target {
	if len(r.Rows) == 0 {
		return nil
	}
	first, last := r.Rows[0], r.Rows[len(r.Rows)-1]
	maxView := 0
	for _, row := range r.Rows {
		maxView = max(maxView, row.ViewBytes)
	}
	perDay := last.JournalMB * 24 / float64(last.Hour)
	growth := max(TargetHeapGrowth*first.HeapMB, first.HeapMB+TargetHeapSlackMB)
	return []Target{
		{Name: fmt.Sprintf("heap at hour %d", last.Hour), Want: fmt.Sprintf("≤ %d MB", TargetHeapMB),
			Got: fmt.Sprintf("%.1f MB", last.HeapMB), OK: last.HeapMB <= TargetHeapMB},
		{Name: fmt.Sprintf("heap at hour %d against hour 1", last.Hour),
			Want: fmt.Sprintf("≤ %.1f MB (%.1f × or + %d MB)", growth, TargetHeapGrowth, TargetHeapSlackMB),
			Got:  fmt.Sprintf("%.1f MB (hour 1: %.1f MB)", last.HeapMB, first.HeapMB), OK: last.HeapMB <= growth},
		{Name: fmt.Sprintf("tick p99 at hour %d", last.Hour), Want: fmt.Sprintf("≤ %d ms", TargetTickP99Ms),
			Got: fmt.Sprintf("%.2f ms", last.TickP99Ms), OK: last.TickP99Ms <= TargetTickP99Ms},
		{Name: "largest view frame", Want: fmt.Sprintf("≤ %d bytes", TargetViewBytes),
			Got: fmt.Sprintf("%d bytes", maxView), OK: maxView <= TargetViewBytes},
		{Name: "journal a booth day", Want: fmt.Sprintf("≤ %d MB", TargetJournalMB),
			Got: fmt.Sprintf("%.1f MB", perDay), OK: perDay <= TargetJournalMB},
		{Name: "whole run", Want: fmt.Sprintf("< %d s", TargetWallS), Got: fmt.Sprintf("%.0f s", r.WallS), OK: r.WallS < TargetWallS},
	}
}

// Write writes results.json, report.md and the plot (soak.png, soak.svg)
// into out; before, when not nil, is compared with r.
func Write(out string, r Results, before *Results) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("soak: results.json: %w", err)
	}
	errs := []error{
		os.WriteFile(filepath.Join(out, "results.json"), append(b, '\n'), 0o644),
		os.WriteFile(filepath.Join(out, "report.md"), []byte(Render(r, before)), 0o644),
		Plot(r, before, filepath.Join(out, "soak.png"), filepath.Join(out, "soak.svg")),
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	return nil
}

// shownHours are the hours the report's table shows of a long run.
func shownHours(rows []Row) []Row {
	var out []Row
	for i, row := range rows {
		if i == 0 || i == len(rows)-1 || row.Hour%12 == 0 || (len(rows) <= 12) {
			out = append(out, row)
		}
	}
	return out
}

// Render is the Markdown report of r.
func Render(r Results, before *Results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Soak: %d simulated booth hours\n\n", r.Hours)
	fmt.Fprintf(&b, "Mode %s, a tick every %g s of booth time, %d dashboard viewers, %d CPUs, %.0f s of wall time.\n\n",
		r.Mode, r.TickEvery, r.Viewers, r.CPUs, r.WallS)
	b.WriteString("| target | want | got | |\n|---|---|---|---|\n")
	for _, t := range r.Targets {
		ok := "met"
		if !t.OK {
			ok = "**missed**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.Name, t.Want, t.Got, ok)
	}
	b.WriteString("\n![heap and tick time against hours](soak.png)\n\n")
	b.WriteString(table(shownHours(r.Rows)))
	if before != nil && len(before.Rows) > 0 {
		fmt.Fprintf(&b, "\n## Before: the observer analysing the whole history every tick (%s, a tick every %g s)\n\n",
			before.Mode, before.TickEvery)
		b.WriteString("| hour | events | heap MB before | heap MB now | tick p99 ms before | tick p99 ms now |\n|---|---|---|---|---|---|\n")
		for _, old := range before.Rows {
			i := slices.IndexFunc(r.Rows, func(x Row) bool { return x.Hour == old.Hour })
			if i < 0 {
				continue
			}
			now := r.Rows[i]
			fmt.Fprintf(&b, "| %d | %d | %.1f | %.1f | %.1f | %.2f |\n", old.Hour, old.Events, old.HeapMB, now.HeapMB, old.TickP99Ms, now.TickP99Ms)
		}
	}
	b.WriteString("\n## Every hour\n\n")
	b.WriteString(table(r.Rows))
	return b.String()
}

func table(rows []Row) string {
	var b strings.Builder
	b.WriteString("| hour | events | heap MB | tick p50 ms | tick p99 ms | tick max ms | view bytes | journal MB | failovers | in memory | tail | ack index kB |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %d | %d | %.1f | %.2f | %.2f | %.2f | %d | %.1f | %d | %d | %d | %.0f |\n", r.Hour, r.Events, r.HeapMB,
			r.TickP50Ms, r.TickP99Ms, r.TickMaxMs, r.ViewBytes, r.JournalMB, r.Failovers, r.WindowEvents, r.TailEvents, r.IndexKB)
	}
	return b.String()
}
