package failover

import (
	"fmt"
	"image/color"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/redswitch/redswitch/probe/analysis"
)

// palette keeps series colours stable across plots.
var palette = []color.Color{
	color.RGBA{0xd9, 0x5f, 0x02, 0xff},
	color.RGBA{0x1b, 0x9e, 0x77, 0xff},
	color.RGBA{0x75, 0x70, 0xb3, 0xff},
	color.RGBA{0xe7, 0x29, 0x8a, 0xff},
	color.RGBA{0x66, 0x66, 0x66, 0xff},
}

// Reference is a vertical mark on a CDF: a published or target value.
type Reference struct {
	At    float64
	Label string
}

// FailoverReferences are the published claims: under 10 s with ttl 5 and
// 1 s checks, about 40 s with Patroni's defaults.
var FailoverReferences = []Reference{{10, "published: under 10 s (ttl 5)"}, {40, "published: about 40 s (defaults)"}}

// Series is one named sample of seconds.
type Series struct {
	Name    string
	Samples []float64
}

// cdfPoints is the empirical CDF of vs as a step line.
func cdfPoints(vs []float64) plotter.XYs {
	s := slices.Clone(vs)
	slices.Sort(s)
	pts := make(plotter.XYs, 0, 2*len(s))
	for i, v := range s {
		pts = append(pts, plotter.XY{X: v, Y: float64(i) / float64(len(s))}, plotter.XY{X: v, Y: float64(i+1) / float64(len(s))})
	}
	return pts
}

// PlotCDF draws one empirical CDF per series with the reference marks and
// saves it to each path; the extension picks the format (.png, .svg).
func PlotCDF(title, xlabel string, series []Series, refs []Reference, paths ...string) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = "fraction of trials"
	p.Y.Min, p.Y.Max = 0, 1.02
	p.X.Min = 0
	xmax := 0.0
	for i, s := range series {
		if len(s.Samples) == 0 {
			continue
		}
		l, err := plotter.NewLine(cdfPoints(s.Samples))
		if err != nil {
			return fmt.Errorf("plot: %s: %w", s.Name, err)
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(2)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (n=%d, p50 %.2f s)", s.Name, len(s.Samples), Summarize(s.Samples).P50), l)
		xmax = max(xmax, slices.Max(s.Samples))
	}
	for _, r := range refs {
		l, err := plotter.NewLine(plotter.XYs{{X: r.At, Y: 0}, {X: r.At, Y: 1.02}})
		if err != nil {
			return fmt.Errorf("plot: reference %v: %w", r.At, err)
		}
		l.Color = color.Gray{0x80}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(r.Label, l)
		xmax = max(xmax, r.At)
	}
	p.X.Max = xmax * 1.05
	p.Legend.Top = false
	p.Legend.Left = false
	p.Legend.XOffs = -vg.Points(4)
	p.Legend.YOffs = vg.Points(30)
	p.Add(plotter.NewGrid())
	return save(p, paths)
}

func save(p *plot.Plot, paths []string) error {
	for _, path := range paths {
		if err := p.Save(8*vg.Inch, 4.5*vg.Inch, path); err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
	}
	return nil
}

// segments are the consecutive steps of a failover shown as stacked bars:
// the lease, the leader race, the promotion, and the rig's own share
// (HAProxy's routing overlaps the promotion). Patroni's role publication
// comes after the first commit and is not a step.
var segments = []struct{ from, to, label string }{
	{"", analysis.PhaseLeaderExpired, "cut → leader key expired"},
	{analysis.PhaseLeaderExpired, analysis.PhaseNewLeader, "→ new leader (race)"},
	{analysis.PhaseNewLeader, analysis.PhaseWritable, "→ PostgreSQL writable"},
	{analysis.PhaseWritable, analysis.PhaseFirstCommit, "→ first commit (rig)"},
}

// SegmentDurations splits a trial's failover into the segments' durations.
// A missing phase takes the previous boundary, so its segment is 0 and
// the next one absorbs the time; the durations always sum to failover_s.
func SegmentDurations(t Trial) []float64 {
	out := make([]float64, len(segments))
	prev := 0.0
	for i, s := range segments {
		end, ok := t.Phases[s.to]
		if s.to == analysis.PhaseFirstCommit {
			end, ok = t.FailoverS, true
		}
		if !ok || end < prev {
			end = prev
		}
		end = min(end, t.FailoverS)
		out[i] = end - prev
		prev = end
	}
	return out
}

// PlotPhases draws each counted trial as a bar stacked from its segments.
func PlotPhases(trials []Trial, paths ...string) error {
	var shown []Trial
	for _, t := range trials {
		if t.Error == "" {
			shown = append(shown, t)
		}
	}
	if len(shown) == 0 {
		return fmt.Errorf("plot phases: no measured trials")
	}
	p := plot.New()
	p.Title.Text = "Failover phases per trial (seconds from the power cut)"
	p.Y.Label.Text = "seconds"
	w := vg.Points(max(4, min(18, 420/float64(len(shown)))))
	var below *plotter.BarChart
	for i, s := range segments {
		vs := make(plotter.Values, len(shown))
		for j, t := range shown {
			vs[j] = SegmentDurations(t)[i]
		}
		bars, err := plotter.NewBarChart(vs, w)
		if err != nil {
			return fmt.Errorf("plot phases: %w", err)
		}
		bars.LineStyle.Width = 0
		bars.Color = palette[i%len(palette)]
		if below != nil {
			bars.StackOn(below)
		}
		below = bars
		p.Add(bars)
		p.Legend.Add(s.label, bars)
	}
	names := make([]string, len(shown))
	for i, t := range shown {
		names[i] = fmt.Sprintf("%s %d", abbrev(t.Profile), t.Trial)
	}
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = 1.2
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	return save(p, paths)
}

func abbrev(profile string) string {
	if len(profile) > 4 {
		return profile[:4]
	}
	return profile
}
