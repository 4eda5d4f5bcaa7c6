package train

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The size of the plots a run writes.
const plotWidth, plotHeight = 8 * vg.Inch, 5 * vg.Inch

type curvePoint struct {
	step                 int
	loss, contrast, capt float64
}

// plotCurve writes the loss curves as a PNG.
func plotCurve(path string, pts []curvePoint) error {
	p := plot.New()
	p.Title.Text = "CoCa training loss"
	p.X.Label.Text = "step"
	p.Y.Label.Text = "loss"
	mk := func(f func(curvePoint) float64) plotter.XYs {
		xy := make(plotter.XYs, len(pts))
		for i, q := range pts {
			xy[i].X, xy[i].Y = float64(q.step), f(q)
		}
		return xy
	}
	for i, s := range []struct {
		name string
		f    func(curvePoint) float64
	}{
		{"total", func(q curvePoint) float64 { return q.loss }},
		{"contrastive", func(q curvePoint) float64 { return q.contrast }},
		{"caption (weighted)", func(q curvePoint) float64 { return q.capt }},
	} {
		l, err := plotter.NewLine(mk(s.f))
		if err != nil {
			return fmt.Errorf("train: loss curve: %w", err)
		}
		l.Color = plotColors[i]
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	if err := p.Save(plotWidth, plotHeight, path); err != nil {
		return fmt.Errorf("train: loss curve %s: %w", path, err)
	}
	return nil
}

var plotColors = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
}

// plotMetrics writes the evaluation curves (R@1 both ways, zero-shot
// top-1, exact captions) of a run of steps steps as a PNG.
func plotMetrics(path string, evals []evalPoint, steps int) error {
	p, err := metricsPlot(evals, steps)
	if err != nil {
		return err
	}
	if err := p.Save(plotWidth, plotHeight, path); err != nil {
		return fmt.Errorf("train: metric curve %s: %w", path, err)
	}
	return nil
}

// metricsPlot lays out the evaluation curves. Every metric is a fraction,
// so the legend sits in a band above 1 where no curve can reach it, whatever
// the run's figures (a corner of the data area is empty only for some runs).
func metricsPlot(evals []evalPoint, steps int) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "CoCa held-out evaluation"
	p.X.Label.Text = "step"
	p.Y.Label.Text = "fraction"
	p.Y.Min, p.Y.Max = 0, 1.05
	p.X.Min, p.X.Max = 0, float64(steps)
	p.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 0.25}, {Value: 0.5, Label: "0.5"}, {Value: 0.75}, {Value: 1, Label: "1"}})
	series := []struct {
		name string
		f    func(m *Metrics) (float64, bool)
	}{
		{"image→text R@1", func(m *Metrics) (float64, bool) { return m.ImageToTextR1, true }},
		{"text→image R@1", func(m *Metrics) (float64, bool) { return m.TextToImageR1, true }},
		{"zero-shot top-1", func(m *Metrics) (float64, bool) {
			if m.ZeroShotTop1 == nil {
				return 0, false
			}
			return *m.ZeroShotTop1, true
		}},
		{"exact captions", func(m *Metrics) (float64, bool) { return m.CaptionExactMatch, true }},
	}
	for i, s := range series {
		var xy plotter.XYs
		for _, e := range evals {
			if v, ok := s.f(&e.m); ok {
				xy = append(xy, plotter.XY{X: float64(e.step), Y: v})
			}
		}
		if len(xy) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xy)
		if err != nil {
			return nil, fmt.Errorf("train: metric curve: %w", err)
		}
		c := metricColors[i%len(metricColors)]
		l.Color, pts.Color = c, c
		l.Width = vg.Points(1.5)
		p.Add(l, pts)
		p.Legend.Add(s.name, l, pts)
	}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	legendAbove(p, 1)
	return p, nil
}

// legendAbove raises the top of p's y axis until a legend drawn at the top
// of the data area clears the value top (with a few points to spare).
func legendAbove(p *plot.Plot, top float64) {
	c := draw.New(vgimg.New(plotWidth, plotHeight))
	h := p.Legend.Rectangle(c).Size().Y
	for p.Y.Max < 4*top {
		dc := p.DataCanvas(c)
		_, y := p.Transforms(&dc)
		if dc.Max.Y-h-y(top) >= vg.Points(4) {
			return
		}
		p.Y.Max += 0.05 * top
	}
}

var metricColors = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
}
