package failover

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestSegmentDurations(t *testing.T) {
	for _, c := range []struct {
		name string
		tr   Trial
		want []float64
	}{
		{"all phases", Trial{FailoverS: 7.05, Phases: map[string]float64{"leader_expired": 4.75, "new_leader": 6.85, "haproxy_up": 6.9, "writable": 7.03, "promoted": 8.3}}, []float64{4.75, 2.1, 0.18, 0.02}},
		{"missing new leader", Trial{FailoverS: 8, Phases: map[string]float64{"leader_expired": 5, "writable": 7}}, []float64{5, 0, 2, 1}},
		{"no writable phase (older results): the rest is the last segment", Trial{FailoverS: 8, Phases: map[string]float64{"leader_expired": 5, "new_leader": 7, "haproxy_up": 7.2}}, []float64{5, 2, 0, 1}},
		{"out of order", Trial{FailoverS: 8, Phases: map[string]float64{"leader_expired": 5, "new_leader": 4, "writable": 9}}, []float64{5, 0, 3, 0}},
		{"none", Trial{FailoverS: 3}, []float64{0, 0, 0, 3}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := SegmentDurations(c.tr)
			sum := 0.0
			for i := range got {
				sum += got[i]
				if math.Abs(got[i]-c.want[i]) > 1e-9 {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			}
			if math.Abs(sum-c.tr.FailoverS) > 1e-9 {
				t.Errorf("segments sum to %v, want failover_s %v", sum, c.tr.FailoverS)
			}
		})
	}
}

func TestPlotsWriteFiles(t *testing.T) {
	dir := t.TempDir()
	r := goodResults()
	cdfPNG, cdfSVG := filepath.Join(dir, "cdf.png"), filepath.Join(dir, "cdf.svg")
	if err := PlotCDF("t", "s", []Series{{"aggressive", []float64{8.4, 7.9}}, {"default", nil}}, FailoverReferences, cdfPNG, cdfSVG); err != nil {
		t.Fatal(err)
	}
	phPNG := filepath.Join(dir, "phases.png")
	if err := PlotPhases(r.Trials, phPNG); err != nil {
		t.Fatal(err)
	}
	for path, magic := range map[string][]byte{cdfPNG: []byte("\x89PNG"), phPNG: []byte("\x89PNG"), cdfSVG: []byte("<?xml")} {
		b, err := os.ReadFile(path)
		if err != nil || !bytes.HasPrefix(b, magic) {
			t.Errorf("%s: err %v, starts %q, want %q", path, err, b[:min(len(b), 8)], magic)
		}
	}
	if err := PlotPhases([]Trial{{Error: "x"}}, filepath.Join(dir, "none.png")); err == nil {
		t.Error("phases of no measured trial: want an error")
	}
}

func TestCDFPoints(t *testing.T) {
	pts := cdfPoints([]float64{3, 1})
	want := []struct{ x, y float64 }{{1, 0}, {1, 0.5}, {3, 0.5}, {3, 1}}
	if len(pts) != len(want) {
		t.Fatalf("got %v", pts)
	}
	for i, w := range want {
		if pts[i].X != w.x || pts[i].Y != w.y {
			t.Errorf("point %d = %v, want %v", i, pts[i], w)
		}
	}
}
