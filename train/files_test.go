package train

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/data"
	"github.com/gococa/gococa/tensor/safetensors"
	"github.com/gococa/gococa/tensor/torchfile"
)

// The real photos of package data's tests (open_clip's fixture images).
var photos = []string{"astronaut.png", "chelsea.png", "coffee.png", "text.png"}

var photoCaptions = [][]string{
	{"an astronaut in a white suit", "a woman in a space suit", "a portrait of an astronaut"},
	{"a cat lying down", "a tabby cat", "a cat on a table"},
	{"a cup of coffee", "coffee in a red mug", "a coffee cup from above"},
	{"black text on white", "a page of text", "printed letters"},
}

// writeCaptions writes a tab-separated .csv with a header (open_clip's
// form) of n pairs of the real photos, and returns its path.
func writeCaptions(t *testing.T, dir, name string, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("filepath\ttitle\n")
	for i := 0; i < n; i++ {
		p, _ := filepath.Abs(filepath.Join("..", "data", "testdata", photos[i%4]))
		fmt.Fprintf(&b, "%s\t%s\n", p, photoCaptions[i%4][(i/4)%3])
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type metricsFile struct {
	losses []lossLine
	evals  []map[string]any
}

func readMetricsFile(t *testing.T, dir string) metricsFile {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var m metricsFile
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"loss"`) {
			var l lossLine
			json.Unmarshal(sc.Bytes(), &l)
			m.losses = append(m.losses, l)
		} else {
			e := map[string]any{}
			json.Unmarshal(sc.Bytes(), &e)
			m.evals = append(m.evals, e)
		}
	}
	return m
}

// TestCaptionOnlyFineTuneFromBin is open_clip's caption-only fine-tune
// recipe (--coca-contrastive-loss-weight 0 --coca-caption-loss-weight 1, a
// tab-separated .csv, weights from a torch.save .bin): the contrastive loss
// is exactly 0 at every step, the caption loss falls, and the run starts
// from the .bin's weights (with lr 0 it ends on them exactly).
func TestCaptionOnlyFineTuneFromBin(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes the fixture photos at every step")
	}
	dir := t.TempDir()
	csv := writeCaptions(t, dir, "train.csv", 12)
	bin := filepath.Join("testdata", "init", "model.bin")
	o := tiny(filepath.Join(dir, "ft"))
	o.Data, o.Init, o.Config, o.HeldOut = csv, bin, filepath.Join("testdata", "init", "config.json"), 0
	o.Steps, o.BatchSize, o.LR, o.WeightDecay, o.CaptionWeight = 12, 4, 2e-3, 0.1, 1
	o.EvalEvery = 6
	o.Explicit = map[string]bool{"contrastive-weight": true, "warmup": true}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	m := readMetricsFile(t, o.Out)
	if len(m.losses) != 12 {
		t.Fatalf("%d loss lines", len(m.losses))
	}
	for _, l := range m.losses {
		if l.Contrastive != 0 || !(l.Caption > 0) {
			t.Fatalf("step %d: contrastive %v, caption %v; want exactly 0 and > 0", l.Step, l.Contrastive, l.Caption)
		}
	}
	first, last := m.losses[0].Caption, m.losses[len(m.losses)-1].Caption
	t.Logf("caption loss %.3f at step 1, %.3f at step 12; final %s", first, last, res.Final.Summary())
	if !(last < first) {
		t.Fatalf("caption loss did not fall: %.3f → %.3f", first, last)
	}
	// 12 pairs: the last one is held out (min(512, 12/10) = 1).
	if res.Final == nil || len(m.evals) != 2 || res.Final.ZeroShotTop1 != nil {
		t.Fatalf("evaluations %v, final %+v", m.evals, res.Final)
	}
	if _, ok := m.evals[0]["zeroshot_top1"]; ok {
		t.Fatalf("a file dataset's evaluation has a zero-shot figure: %v", m.evals[0])
	}
	// The tokenizer beside the .bin was used and copied into the run.
	want, _ := os.ReadFile(filepath.Join("testdata", "init", "tokenizer.txt"))
	if got, _ := os.ReadFile(filepath.Join(o.Out, "tokenizer.txt")); string(got) != string(want) {
		t.Fatalf("run tokenizer %q, want the init's %q", got, want)
	}

	// lr 0: the model is the .bin's, widened from float16 exactly. Without
	// --config the checkpoint's own is used (config.json beside the .bin).
	o.Out, o.Steps, o.Config = filepath.Join(dir, "lr0"), 2, ""
	o.Explicit["lr"], o.LR = true, 0
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	ck, err := torchfile.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	got := readParams(t, filepath.Join(o.Out, "model.safetensors"))
	for name, v := range got {
		w, err := ck.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		for i := range v {
			if v[i] != w[i] {
				t.Fatalf("%s[%d] = %v, the .bin holds %v", name, i, v[i], w[i])
			}
		}
	}
}

// TestHeldOutRule: under 10 pairs nothing is held out and there is no
// evaluation (Final nil, the reason given); --val-data evaluates on its own
// pairs and trains on all of --data; --held-out sets the count.
func TestHeldOutRule(t *testing.T) {
	dir := t.TempDir()
	small := writeCaptions(t, dir, "small.csv", 8)
	o := tiny(filepath.Join(dir, "small"))
	o.Data, o.Steps, o.BatchSize, o.EvalEvery, o.HeldOut = small, 2, 4, 1, 0
	o.Tokenizer = filepath.Join("testdata", "init", "tokenizer.txt") // 522 tokens: a small model
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Final != nil || !strings.Contains(res.NoEval, "fewer than 10") || !strings.Contains(res.NoEval, "--val-data") {
		t.Fatalf("8 pairs: final %+v, no-eval %q", res.Final, res.NoEval)
	}
	if m := readMetricsFile(t, o.Out); len(m.evals) != 0 {
		t.Fatalf("8 pairs: evaluations %v", m.evals)
	}
	val := writeCaptions(t, dir, "val.csv", 4)
	o.Out, o.ValData = filepath.Join(dir, "val"), val
	if res, err = Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if res.Final == nil || len(res.Final.Samples) != 4 {
		t.Fatalf("--val-data: final %v", res.Final)
	}
	var rec struct {
		Settings map[string]any `json:"settings"`
	}
	b, _ := os.ReadFile(filepath.Join(o.Out, runFile))
	json.Unmarshal(b, &rec)
	if rec.Settings["held-out"] != float64(4) || !filepath.IsAbs(rec.Settings["val-data"].(string)) {
		t.Fatalf("run.json settings %v", rec.Settings)
	}
	// --held-out 4 of 8: the last 4 evaluate, 4 train (one batch).
	o.Out, o.ValData, o.HeldOut = filepath.Join(dir, "held"), "", 4
	if res, err = Run(context.Background(), o); err != nil || res.Final == nil || len(res.Final.Samples) != 4 {
		t.Fatalf("--held-out 4 of 8: %v, %v", err, res)
	}
	o.Out, o.HeldOut = filepath.Join(dir, "held5"), 5
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "fewer than one batch") {
		t.Fatalf("--held-out 5 of 8 with batch 4: %v", err)
	}
	o.HeldOut = 8
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "leaves no training pairs") {
		t.Fatalf("--held-out 8 of 8: %v", err)
	}
}

// TestReport: a run writes report.html with its evaluation table, curves
// and held-out samples, the sample PNGs the model saw, and escapes captions.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	o := tiny(filepath.Join(dir, "run"))
	o.Steps, o.EvalEvery, o.HeldOut, o.Samples = 6, 3, 20, 5
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(o.Out, reportFile))
	if err != nil {
		t.Fatal(err)
	}
	fin := res.Final
	for _, w := range []string{"<td>3</td>", "<td>6</td>", `src="loss.png"`, `src="metrics.png"`, `src="samples/004.png"`, "truth: a ", "finished: 6 steps",
		fmt.Sprintf("<td>%.3f</td><td>%.3f</td>", fin.ImageToTextR1, fin.TextToImageR1), fmt.Sprintf("<td>%.3f</td></tr>", fin.CaptionExactMatch)} {
		if !strings.Contains(string(html), w) {
			t.Errorf("report.html lacks %q", w)
		}
	}
	// Every sample's true and generated caption (as samples.txt gives them).
	st, err := os.ReadFile(filepath.Join(o.Out, "samples.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(st)), "\n")
	if len(lines) != 5 {
		t.Fatalf("samples.txt has %d lines, want 5:\n%s", len(lines), st)
	}
	for _, l := range lines {
		_, rest, _ := strings.Cut(l, "truth: ")
		truth, rest, _ := strings.Cut(rest, "  model: ")
		model, _, _ := strings.Cut(rest, "  (samples/")
		for _, w := range []string{"truth: " + strings.TrimSpace(truth) + "</div>", "model: " + strings.TrimSpace(model) + "</div>"} {
			if !strings.Contains(string(html), w) {
				t.Errorf("report.html lacks %q", w)
			}
		}
	}
	for _, f := range []string{"loss.png", "metrics.png", "samples.txt"} {
		if st, err := os.Stat(filepath.Join(o.Out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	// The sample PNGs are the held-out images as rendered (32 px for
	// coca_tiny): the inverse normalisation returns the rendered bytes.
	f, err := os.Open(filepath.Join(o.Out, samplesDir, "002.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	ds := heldOutOf(t, o)
	want, _, _ := ds.Item(2)
	diff := 0
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			r1, g1, b1, _ := img.At(x, y).RGBA()
			r2, g2, b2, _ := want.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				diff++
			}
		}
	}
	if img.Bounds().Dx() != 32 || diff != 0 {
		t.Fatalf("sample 002.png: %v, %d pixels differ from the held-out image", img.Bounds(), diff)
	}
	// Captions from files are escaped.
	csv := filepath.Join(dir, "evil.csv")
	p, _ := filepath.Abs(filepath.Join("..", "data", "testdata", "chelsea.png"))
	var b strings.Builder
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&b, "%s\t<script>alert(%d)</script> a cat\n", p, i)
	}
	os.WriteFile(csv, []byte(b.String()), 0o644)
	e := tiny(filepath.Join(dir, "evil"))
	e.Data, e.Tokenizer, e.Steps, e.BatchSize, e.EvalEvery, e.HeldOut = csv, filepath.Join("testdata", "init", "tokenizer.txt"), 1, 4, 1, 0
	if _, err := Run(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	html, _ = os.ReadFile(filepath.Join(e.Out, reportFile))
	if strings.Contains(string(html), "<script>") || !strings.Contains(string(html), "&lt;script&gt;alert(9)") {
		t.Fatalf("report.html does not escape captions:\n%s", html)
	}
}

// heldOutOf returns the synthetic held-out split a run evaluates on.
func heldOutOf(t *testing.T, o Options) data.Dataset {
	t.Helper()
	s, err := data.NewSynth(data.SynthConfig{ImageSize: 32, Seed: o.Seed, HeldOutSize: o.HeldOut, ZeroShotSize: o.HeldOut})
	if err != nil {
		t.Fatal(err)
	}
	return s.HeldOut()
}

// TestCOCOImagesBesideTheAnnotations: a COCO captions file's images are
// found under its own directory when --image-root is not given (the rule of
// data.OpenDataset), whatever the working directory.
func TestCOCOImagesBesideTheAnnotations(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "val", "img"), 0o755)
	type img struct {
		ID       int    `json:"id"`
		FileName string `json:"file_name"`
	}
	type ann struct {
		ImageID int    `json:"image_id"`
		Caption string `json:"caption"`
	}
	var c struct {
		Images      []img `json:"images"`
		Annotations []ann `json:"annotations"`
	}
	for i := 0; i < 8; i++ {
		name := fmt.Sprintf("img/%d.png", i)
		writePNG(t, filepath.Join(dir, "val", name))
		c.Images = append(c.Images, img{i, name})
		c.Annotations = append(c.Annotations, ann{i, fmt.Sprintf("picture number %d", i)})
	}
	b, _ := json.Marshal(c)
	path := filepath.Join(dir, "val", "captions.json")
	os.WriteFile(path, b, 0o644)
	o := tiny(filepath.Join(dir, "run"))
	o.Data, o.HeldOut, o.Steps, o.BatchSize = path, 0, 2, 4
	o.Tokenizer = filepath.Join("testdata", "init", "tokenizer.txt")
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
}

// TestInitNamesItsConfig: weights of a built-in config loaded as another
// fail naming the config their shapes show.
func TestInitNamesItsConfig(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := coca.Builtin("coca_tiny")
	m := coca.New(cfg)
	m.Init(1)
	path := filepath.Join(dir, "tiny.safetensors")
	if err := safetensors.WriteFile(path, m.Tensors(), nil); err != nil { // no stored config
		t.Fatal(err)
	}
	o := tiny(filepath.Join(dir, "run"))
	o.Init, o.Config = path, "coca_small"
	_, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "built-in config coca_tiny (pass --config coca_tiny)") {
		t.Fatalf("error %v", err)
	}
	if _, err := os.Stat(o.Out); err == nil {
		t.Fatal("a failed start created the run directory")
	}
}
