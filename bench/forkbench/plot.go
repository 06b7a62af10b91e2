package forkbench

import (
	"fmt"
	"image/color"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// methodColors keeps each method's colour the same in every plot.
var methodColors = map[string]color.Color{
	"snapshot":   color.RGBA{0x1b, 0x9e, 0x77, 0xff},
	"reflink":    color.RGBA{0x75, 0x70, 0xb3, 0xff},
	"basebackup": color.RGBA{0xd9, 0x5f, 0x02, 0xff},
	"copy":       color.RGBA{0x66, 0x66, 0x66, 0xff},
}

// Plot draws time to a writable fork per method (bars) per scale (groups)
// and saves it to each path; the extension picks the format (.png, .svg).
func Plot(r Results, paths ...string) error {
	var scales []int
	var methods []string
	seenS, seenM := map[int]bool{}, map[string]bool{}
	val := map[string]map[int]float64{}
	for _, row := range r.Rows {
		if !seenS[row.Scale] {
			seenS[row.Scale] = true
			scales = append(scales, row.Scale)
		}
		if !seenM[row.Method] {
			seenM[row.Method] = true
			methods = append(methods, row.Method)
			val[row.Method] = map[int]float64{}
		}
		if row.Error == "" {
			val[row.Method][row.Scale] = row.ToWritableS
		}
	}
	p := plot.New()
	p.Title.Text = "Time to a writable fork of a loaded PostgreSQL 15"
	p.Y.Label.Text = "seconds to writable"
	p.X.Label.Text = "pgbench scale"
	w := vg.Points(14)
	for i, m := range methods {
		vs := make(plotter.Values, len(scales))
		for j, s := range scales {
			vs[j] = val[m][s]
		}
		bars, err := plotter.NewBarChart(vs, w)
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		bars.LineStyle.Width = 0
		if c, ok := methodColors[m]; ok {
			bars.Color = c
		}
		bars.Offset = w * vg.Length(float64(i)-float64(len(methods)-1)/2)
		p.Add(bars)
		p.Legend.Add(m, bars)
	}
	names := make([]string, len(scales))
	for i, s := range scales {
		names[i] = strconv.Itoa(s)
	}
	p.NominalX(names...)
	// Room for the outer bars of the first and last groups.
	p.X.Min, p.X.Max = -0.7, float64(len(scales)-1)+0.7
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	for _, path := range paths {
		if err := p.Save(6*vg.Inch, 4*vg.Inch, path); err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
	}
	return nil
}
