package train

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

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
	if err := p.Save(8*vg.Inch, 5*vg.Inch, path); err != nil {
		return fmt.Errorf("train: loss curve %s: %w", path, err)
	}
	return nil
}

var plotColors = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
}
