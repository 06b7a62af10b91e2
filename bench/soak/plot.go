package soak

import (
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Plot draws heap and tick p99 against hours, the run and the one before
// it, with the targets, one above the other, to each path (.png or .svg).
func Plot(r Results, before *Results, paths ...string) error {
	nowColour := color.RGBA{0x1b, 0x9e, 0x77, 0xff}
	beforeColour := color.RGBA{0xd9, 0x5f, 0x02, 0xff}
	targetColour := color.Gray{0x80}
	heap := plot.New()
	heap.Title.Text = "Live heap after each simulated hour"
	heap.Y.Label.Text = "MB"
	tick := plot.New()
	tick.Title.Text = "Observer tick, p99 over each simulated hour (log scale)"
	tick.Y.Label.Text = "ms"
	tick.X.Label.Text = "simulated booth hours"
	tick.Y.Scale = plot.LogScale{}
	tick.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	type series struct {
		name string
		res  *Results
		c    color.Color
	}
	all := []series{{"now (" + r.Mode + ")", &r, nowColour}}
	if before != nil {
		all = append(all, series{"before (" + before.Mode + ")", before, beforeColour})
	}
	hours := float64(r.Hours)
	for _, s := range all {
		var hp, tp plotter.XYs
		for _, row := range s.res.Rows {
			hp = append(hp, plotter.XY{X: float64(row.Hour), Y: row.HeapMB})
			tp = append(tp, plotter.XY{X: float64(row.Hour), Y: max(row.TickP99Ms, 0.001)})
		}
		for _, d := range []struct {
			p   *plot.Plot
			pts plotter.XYs
		}{{heap, hp}, {tick, tp}} {
			if len(d.pts) == 0 {
				continue
			}
			l, err := plotter.NewLine(d.pts)
			if err != nil {
				return fmt.Errorf("plot %s: %w", s.name, err)
			}
			l.Color, l.Width = s.c, vg.Points(2)
			d.p.Add(l)
			d.p.Legend.Add(s.name, l)
		}
		hours = max(hours, float64(s.res.Hours))
	}
	for _, t := range []struct {
		p     *plot.Plot
		y     float64
		label string
	}{{heap, TargetHeapMB, fmt.Sprintf("target %d MB", TargetHeapMB)}, {tick, TargetTickP99Ms, fmt.Sprintf("target %d ms", TargetTickP99Ms)}} {
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: t.y}, {X: hours, Y: t.y}})
		if err != nil {
			return fmt.Errorf("plot target: %w", err)
		}
		l.Color, l.Dashes = targetColour, []vg.Length{vg.Points(4), vg.Points(3)}
		t.p.Add(l)
		t.p.Legend.Add(t.label, l)
		t.p.Add(plotter.NewGrid())
		t.p.X.Min, t.p.X.Max = 0, hours
		t.p.Legend.Top = true
	}
	heap.Y.Min = 0
	w, h := 8*vg.Inch, 8*vg.Inch
	for _, path := range paths {
		var err error
		switch filepath.Ext(path) {
		case ".svg":
			cv := vgsvg.New(w, h)
			tile(draw.New(cv), heap, tick)
			err = writeTo(path, cv)
		default:
			cv := vgimg.New(w, h)
			tile(draw.New(cv), heap, tick)
			err = writeTo(path, vgimg.PngCanvas{Canvas: cv})
		}
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
	}
	return nil
}

func tile(dc draw.Canvas, top, bottom *plot.Plot) {
	t := draw.Tiles{Rows: 2, Cols: 1, PadX: vg.Points(8), PadY: vg.Points(12), PadTop: vg.Points(4), PadBottom: vg.Points(4),
		PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	cs := plot.Align([][]*plot.Plot{{top}, {bottom}}, t, dc)
	top.Draw(cs[0][0])
	bottom.Draw(cs[1][0])
}

func writeTo(path string, c io.WriterTo) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
