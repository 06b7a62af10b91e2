package soak

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A short soak (two simulated hours, a dead port in the second) writes
// results of the promised shape; the targets are the full run's business.
func TestShortSoak(t *testing.T) {
	out := t.TempDir()
	before := &Results{Hours: 2, Mode: "full", TickEvery: 60, Rows: []Row{{Hour: 1, Events: 4000, HeapMB: 20, TickP99Ms: 90}}}
	o := Options{Hours: 2, Out: out, Viewers: 5, Before: before}
	o.Booth.DeadAt, o.Booth.DeadFor = 80*time.Minute, 20*time.Minute
	var heard []int
	o.Progress = func(r Row) { heard = append(heard, r.Hour) }
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(heard) != 2 {
		t.Errorf("progress heard hours %v", heard)
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Hours int              `json:"hours"`
		Rows  []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Hours != 2 || len(got.Rows) != 2 {
		t.Fatalf("results.json: hours %d, %d rows", got.Hours, len(got.Rows))
	}
	for i, row := range got.Rows {
		for _, k := range []string{"hour", "events", "heap_mb", "tick_p99_ms", "view_bytes", "journal_mb"} {
			v, ok := row[k].(float64)
			if !ok || v <= 0 {
				t.Errorf("row %d: %s = %v, want a positive number", i, k, row[k])
			}
		}
	}
	if res.Rows[1].Events <= res.Rows[0].Events || res.Rows[1].Failovers <= res.Rows[0].Failovers {
		t.Errorf("hour 2 did not grow the history: %+v", res.Rows)
	}
	if len(res.Targets) != 6 {
		t.Errorf("%d targets judged", len(res.Targets))
	}
	report, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| hour | events | heap MB | tick p50 ms | tick p99 ms", "![heap and tick time against hours](soak.png)", "## Before", "| 1 | 4000 | 20.0 |"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report.md has no %q:\n%s", want, report)
		}
	}
	for _, f := range []string{"soak.png", "soak.svg"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}
