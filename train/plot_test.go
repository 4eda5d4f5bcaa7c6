package train

import (
	"testing"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The legend of metrics.png never covers a curve: not for a short run whose
// figures stay low (it sat on them in the bottom right corner), nor for one
// that reaches 1.
func TestMetricsLegendClearsCurves(t *testing.T) {
	for _, run := range []struct {
		name   string
		values []float64 // every metric's value at steps 100, 200, 300
	}{
		{"low", []float64{0.02, 0.1, 0.27}},
		{"rising to 1", []float64{0, 0.5, 1}},
		{"perfect", []float64{1, 1, 1}},
	} {
		var evals []evalPoint
		for i, v := range run.values {
			zs := v
			evals = append(evals, evalPoint{step: 100 * (i + 1), m: Metrics{ImageToTextR1: v, TextToImageR1: v, ZeroShotTop1: &zs, CaptionExactMatch: v}})
		}
		p, err := metricsPlot(evals, 300)
		if err != nil {
			t.Fatal(err)
		}
		c := draw.New(vgimg.New(plotWidth, plotHeight))
		dc := p.DataCanvas(c)
		_, y := p.Transforms(&dc)
		lo, hi := y(run.values[0]), y(run.values[len(run.values)-1])
		// The legend is drawn in the area above the x axis, from its top or
		// its bottom; that area contains the data area, so these bounds are
		// the legend's innermost possible placement.
		h := p.Legend.Rectangle(c).Size().Y
		legLo, legHi := dc.Max.Y-h, dc.Max.Y
		if !p.Legend.Top {
			legLo, legHi = dc.Min.Y, dc.Min.Y+h
		}
		// Curves are 1.5 points wide with point glyphs of radius 2.5.
		if legLo < hi+vg.Points(2.5) && legHi > lo-vg.Points(2.5) {
			t.Errorf("%s: the legend (y %.1f to %.1f points) overlaps the curves (y %.1f to %.1f)", run.name, legLo, legHi, lo, hi)
		}
	}
}
