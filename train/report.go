package train

import (
	"bytes"
	"fmt"
	"html/template"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gococa/gococa/data"
)

// The pictures of a run: report.html in the run directory shows the loss
// and metric curves (loss.png, metrics.png), the table of evaluations and the
// held-out samples (samples/NNN.png, the pixels the model saw) with their
// true and generated captions. It is rewritten after every evaluation and at
// the end, and needs nothing but the files beside it.
const (
	reportFile = "report.html"
	samplesDir = "samples"
)

// evalPoint is one evaluation of the run.
type evalPoint struct {
	step int
	m    Metrics
}

// isSampleImage reports whether name is one of the sample PNGs a run writes.
func isSampleImage(name string) bool {
	var n int
	_, err := fmt.Sscanf(name, "%03d.png", &n)
	return err == nil && name == fmt.Sprintf("%03d.png", n)
}

// writeReport writes samples.txt, the sample PNGs, the curves and
// report.html for the run so far (final: the run has ended).
func (r *run) writeReport(step int, final bool) error {
	if !r.isRoot() {
		return nil
	}
	out := r.o.Out
	var last *evalPoint
	if n := len(r.evals); n > 0 {
		last = &r.evals[n-1]
		for i := range r.evals[:n-1] {
			r.evals[i].m.Samples = nil // only the latest evaluation's are shown
		}
	}
	var samples []Sample
	if last != nil {
		samples = last.m.Samples
	}
	if len(samples) > 0 {
		var b strings.Builder
		for _, s := range samples {
			mark := " "
			if normalizeCaption(s.Generated) == normalizeCaption(s.Caption) {
				mark = "="
			}
			fmt.Fprintf(&b, "%s held-out %4d  truth: %-50s  model: %s  (%s)\n", mark, s.Index, s.Caption, strings.TrimSpace(s.Generated),
				filepath.Join(samplesDir, fmt.Sprintf("%03d.png", s.Index)))
		}
		if err := writeFileAtomic(filepath.Join(out, "samples.txt"), []byte(b.String())); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		if err := os.MkdirAll(filepath.Join(out, samplesDir), 0o755); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		for _, s := range samples {
			path := filepath.Join(out, samplesDir, fmt.Sprintf("%03d.png", s.Index))
			if _, err := os.Stat(path); err == nil {
				continue // held-out images do not change
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, chwToImage(s.Image, s.Size)); err != nil {
				return fmt.Errorf("train: %s: %w", path, err)
			}
			if err := writeFileAtomic(path, buf.Bytes()); err != nil {
				return fmt.Errorf("train: %w", err)
			}
		}
	}
	if len(r.curve) > 1 {
		if err := plotCurve(filepath.Join(out, "loss.png"), r.curve); err != nil {
			return err
		}
	}
	if len(r.evals) > 0 {
		if err := plotMetrics(filepath.Join(out, "metrics.png"), r.evals, r.o.Steps); err != nil {
			return err
		}
	}
	return r.writeHTML(step, final, samples)
}

// chwToImage turns normalised (3, S, S) pixels back into an image: the
// inverse of the OpenAI normalisation, rounded to 8 bits.
func chwToImage(v []float32, s int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, s, s))
	mean := [3]float64{data.MeanR, data.MeanG, data.MeanB}
	std := [3]float64{data.StdR, data.StdG, data.StdB}
	n := s * s
	for i := 0; i < n; i++ {
		var px [3]uint8
		for c := 0; c < 3; c++ {
			x := math.Round((float64(v[c*n+i])*std[c] + mean[c]) * 255)
			px[c] = uint8(min(max(x, 0), 255))
		}
		img.SetRGBA(i%s, i/s, color.RGBA{px[0], px[1], px[2], 255})
	}
	return img
}

type reportRow struct {
	Step                   int
	I2T, T2I, ZS, Captions string
}

type reportSample struct {
	Src, Truth, Model string
	Exact             bool
	Index             int
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1280px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
.meta { color: #555; }
table { border-collapse: collapse; } td, th { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.curves img { width: 600px; margin-right: 12px; border: 1px solid #ddd; }
.grid { display: flex; flex-wrap: wrap; gap: 10px; }
figure { margin: 0; width: 150px; border: 1px solid #ddd; padding: 6px; border-radius: 4px; }
figure.exact { border-color: #2ca02c; background: #f3fbf3; }
figure img { width: 150px; height: 150px; object-fit: contain; image-rendering: pixelated; background: #eee; }
figcaption { font-size: 12px; } .truth { color: #555; } .model { font-weight: 600; }
</style></head><body>
<h1>{{.Title}}</h1>
<div class="meta">{{.Meta}}</div>
<h2>Evaluation</h2>
{{if .Rows}}<table><tr><th>step</th><th>image→text R@1</th><th>text→image R@1</th><th>zero-shot top-1</th><th>exact captions</th></tr>
{{range .Rows}}<tr><td>{{.Step}}</td><td>{{.I2T}}</td><td>{{.T2I}}</td><td>{{.ZS}}</td><td>{{.Captions}}</td></tr>
{{end}}</table>{{else}}<p>{{.NoEval}}</p>{{end}}
<h2>Curves</h2>
<div class="curves">{{if .Loss}}<img src="loss.png" alt="loss curves">{{end}}{{if .Metrics}}<img src="metrics.png" alt="R@1, zero-shot and caption curves">{{end}}</div>
{{if .Samples}}<h2>Held-out images{{if .SampleStep}} (captions at step {{.SampleStep}}){{end}}</h2>
<div class="grid">{{range .Samples}}<figure{{if .Exact}} class="exact"{{end}}><img src="{{.Src}}" alt="held-out {{.Index}}">
<figcaption><div class="truth">truth: {{.Truth}}</div><div class="model">model: {{.Model}}</div></figcaption></figure>
{{end}}</div>{{end}}
</body></html>
`))

func (r *run) writeHTML(step int, final bool, samples []Sample) error {
	o := &r.o
	state := fmt.Sprintf("in progress: step %d of %d", step, o.Steps)
	if final {
		state = fmt.Sprintf("finished: %d steps", o.Steps)
	}
	v := struct {
		Title, Meta, NoEval string
		Rows                []reportRow
		Loss, Metrics       bool
		Samples             []reportSample
		SampleStep          int
	}{
		Title: "CoCa training run " + o.Out,
		Meta: fmt.Sprintf("%s · config %s (%.2f M parameters) · data %s · batch %s · lr %g · written %s",
			state, o.Config, float64(r.model.NumParams())/1e6, o.Data, r.batchText(), o.LR, time.Now().Format("2006-01-02 15:04")),
		NoEval: "No evaluation: " + r.heldNote,
		Loss:   len(r.curve) > 1,
	}
	if r.heldNote == "" {
		v.NoEval = "No evaluation yet."
	}
	for _, e := range r.evals {
		zs := "–"
		if e.m.ZeroShotTop1 != nil {
			zs = fmt.Sprintf("%.3f", *e.m.ZeroShotTop1)
		}
		v.Rows = append(v.Rows, reportRow{e.step, fmt.Sprintf("%.3f", e.m.ImageToTextR1), fmt.Sprintf("%.3f", e.m.TextToImageR1), zs,
			fmt.Sprintf("%.3f", e.m.CaptionExactMatch)})
	}
	v.Metrics = len(r.evals) > 0
	for _, s := range samples {
		v.Samples = append(v.Samples, reportSample{Src: samplesDir + "/" + fmt.Sprintf("%03d.png", s.Index), Truth: s.Caption,
			Model: strings.TrimSpace(s.Generated), Exact: normalizeCaption(s.Generated) == normalizeCaption(s.Caption), Index: s.Index})
	}
	if n := len(r.evals); n > 0 {
		v.SampleStep = r.evals[n-1].step
	}
	var b bytes.Buffer
	if err := reportTemplate.Execute(&b, v); err != nil {
		return fmt.Errorf("train: report: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(o.Out, reportFile), b.Bytes()); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}
