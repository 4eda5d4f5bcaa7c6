package coca

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
)

// Fixture tolerances (golden/README.md): outputs, tokens and logits max
// |diff| ≤ 1e-4; losses relative ≤ 1e-5; gradients ‖g − ref‖/‖ref‖ ≤ 1e-4;
// greedy tokens identical.
const (
	TolOutput   = 1e-4
	TolLoss     = 1e-5
	TolGradient = 1e-4
)

// VerifyResult is one compared tensor.
type VerifyResult struct {
	Name    string
	MaxAbs  float64 // max |got − ref| over compared elements
	Rel     float64 // relative error: ‖got−ref‖/‖ref‖ (gradients), |got−ref|/|ref| (losses), max|diff|/max|ref| otherwise
	Limit   float64
	Metric  string // which of MaxAbs/Rel the limit applies to
	OK      bool
	Message string // for shape or token mismatches
}

// Verify runs the fixture in dir (config.json, weights.safetensors,
// io.safetensors: see golden/README.md) through the model: forward, both
// losses, backward and greedy decoding, and compares everything with the
// fixture's values. It writes one line per tensor and a final
// "verify: PASS" or "verify: FAIL (<n> tensors)" line to w, and returns the
// number of failures.
func Verify(dir string, w io.Writer) (int, error) {
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return 0, err
	}
	model := New(cfg)
	if err := model.LoadSafetensors(filepath.Join(dir, "weights.safetensors")); err != nil {
		return 0, err
	}
	ioPath := filepath.Join(dir, "io.safetensors")
	f, err := safetensors.Open(ioPath)
	if err != nil {
		return 0, fmt.Errorf("coca: verify: %w", err)
	}
	defer f.Close()
	get := func(name string) ([]float32, []int, error) {
		info, ok := f.Info(name)
		if !ok {
			return nil, nil, fmt.Errorf("coca: verify: %s: missing tensor %q", ioPath, name)
		}
		v, err := f.Float32(name)
		return v, info.Shape, err
	}
	img, ishape, err := get("input.image")
	if err != nil {
		return 0, err
	}
	textF, tshape, err := get("input.text")
	if err != nil {
		return 0, err
	}
	if len(ishape) != 4 || len(tshape) != 2 || ishape[0] != tshape[0] {
		return 0, fmt.Errorf("coca: verify: %s: input.image %v and input.text %v do not fit together", ioPath, ishape, tshape)
	}
	b, l := tshape[0], tshape[1]
	text := make([]int, len(textF))
	for i, v := range textF {
		text[i] = int(v)
	}
	images := tensor.FromSlice(img, ishape...)

	out := model.Forward(images, text, b, l)
	losses := model.Loss(out, text, b, l, DefaultLossWeights)
	for _, p := range model.Params() {
		p.Tensor.ZeroGrad()
	}
	tensor.Backward(losses.Total)

	var results []VerifyResult
	labels := text
	maskLabels := make([]bool, b*(l-1))
	for bi := 0; bi < b; bi++ {
		for j := 0; j < l-1; j++ {
			maskLabels[bi*(l-1)+j] = labels[bi*l+j+1] != cfg.Text.PadID
		}
	}
	maskText := make([]bool, b*l)
	for i, t := range text {
		maskText[i] = t != cfg.Text.PadID
	}
	outputs := []struct {
		name string
		t    *tensor.Tensor
		mask []bool // per row of the last axis
	}{
		{"output.image_features", out.ImageFeatures, nil},
		{"output.text_features", out.TextFeatures, nil},
		{"output.image_features_unnormalized", out.ImageLatent, nil},
		{"output.text_features_unnormalized", out.TextLatent, nil},
		{"output.image_embs", out.ImageEmbs, nil},
		{"output.text_tokens", out.TextTokens, maskText},
		{"output.logits", out.Logits, maskLabels},
		{"output.logit_scale", out.LogitScale, nil},
	}
	for _, o := range outputs {
		ref, shape, err := get(o.name)
		if err != nil {
			return 0, err
		}
		results = append(results, compareMax(o.name, o.t.Data(), o.t.Shape(), ref, shape, o.mask))
	}
	for _, ls := range []struct {
		name string
		t    *tensor.Tensor
	}{{"loss.contrastive", losses.Contrastive}, {"loss.caption", losses.Caption}, {"loss.total", losses.Total}} {
		ref, _, err := get(ls.name)
		if err != nil {
			return 0, err
		}
		got := float64(ls.t.Item())
		d := math.Abs(got - float64(ref[0]))
		rel := d / math.Max(math.Abs(float64(ref[0])), 1e-30)
		results = append(results, VerifyResult{Name: ls.name, MaxAbs: d, Rel: rel, Limit: TolLoss, Metric: "rel", OK: rel <= TolLoss})
	}
	for _, p := range model.Params() {
		name := "grad." + p.Name
		ref, shape, err := get(name)
		if err != nil {
			return 0, err
		}
		g := p.Tensor.Grad()
		if g == nil {
			g = make([]float32, p.Tensor.Numel())
		}
		results = append(results, compareNorm(name, g, p.Tensor.Shape(), ref, shape))
	}
	tensor.Release(losses.Total)

	// Greedy decoding.
	refTok, gshape, err := get("output.greedy_tokens")
	if err != nil {
		return 0, err
	}
	if len(gshape) == 2 && gshape[0] == b && gshape[1] >= 1 {
		steps := gshape[1] - 1
		start := int(refTok[0])
		seqs := model.GreedyReference(images, start, steps)
		r := VerifyResult{Name: "output.greedy_tokens", Metric: "tokens", OK: true}
		for bi, s := range seqs {
			for j, t := range s {
				if int(refTok[bi*gshape[1]+j]) != t {
					r.OK = false
					if r.Message == "" {
						r.Message = fmt.Sprintf("row %d position %d: got %d, want %d", bi, j, t, int(refTok[bi*gshape[1]+j]))
					}
				}
			}
		}
		results = append(results, r)
	} else {
		results = append(results, VerifyResult{Name: "output.greedy_tokens", Metric: "tokens", Message: fmt.Sprintf("shape %v, want [%d, 1+n]", gshape, b)})
	}

	fails := 0
	for _, r := range results {
		status := "ok  "
		if !r.OK {
			status = "FAIL"
			fails++
		}
		switch {
		case r.Message != "":
			fmt.Fprintf(w, "%s %-60s %s\n", status, r.Name, r.Message)
		case r.Metric == "tokens":
			fmt.Fprintf(w, "%s %-60s identical\n", status, r.Name)
		default:
			fmt.Fprintf(w, "%s %-60s max|diff| %.3e  rel %.3e  (limit %s %.0e)\n", status, r.Name, r.MaxAbs, r.Rel, r.Metric, r.Limit)
		}
	}
	if fails == 0 {
		fmt.Fprintf(w, "verify: PASS\n")
	} else {
		fmt.Fprintf(w, "verify: FAIL (%d tensors)\n", fails)
	}
	return fails, nil
}

func shapeString(s []int) string { return fmt.Sprint(s) }

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// compareMax compares got and ref elementwise (max |diff| ≤ TolOutput),
// only on rows whose mask entry is true (mask nil: everywhere). A shape of
// [1] matches a scalar.
func compareMax(name string, got []float32, gshape []int, ref []float32, rshape []int, mask []bool) VerifyResult {
	r := VerifyResult{Name: name, Limit: TolOutput, Metric: "max|diff|"}
	if len(got) != len(ref) || (!sameInts(gshape, rshape) && len(got) != 1) {
		r.Message = fmt.Sprintf("shape %s, fixture %s", shapeString(gshape), shapeString(rshape))
		return r
	}
	row := len(got)
	if mask != nil {
		row = len(got) / len(mask)
	}
	var maxRef float64
	for i := range got {
		if mask != nil && !mask[i/row] {
			continue
		}
		d := math.Abs(float64(got[i]) - float64(ref[i]))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		r.MaxAbs = math.Max(r.MaxAbs, d)
		maxRef = math.Max(maxRef, math.Abs(float64(ref[i])))
	}
	r.Rel = r.MaxAbs / math.Max(maxRef, 1e-30)
	r.OK = r.MaxAbs <= TolOutput
	return r
}

// compareNorm compares with ‖got − ref‖/‖ref‖ ≤ TolGradient.
func compareNorm(name string, got []float32, gshape []int, ref []float32, rshape []int) VerifyResult {
	r := VerifyResult{Name: name, Limit: TolGradient, Metric: "rel"}
	if len(got) != len(ref) {
		r.Message = fmt.Sprintf("shape %s, fixture %s", shapeString(gshape), shapeString(rshape))
		return r
	}
	var dn, rn float64
	for i := range got {
		d := float64(got[i]) - float64(ref[i])
		dn += d * d
		rn += float64(ref[i]) * float64(ref[i])
		r.MaxAbs = math.Max(r.MaxAbs, math.Abs(d))
	}
	r.Rel = math.Sqrt(dn) / math.Max(math.Sqrt(rn), 1e-30)
	if math.IsNaN(r.Rel) {
		r.Rel = math.Inf(1)
	}
	r.OK = r.Rel <= TolGradient
	return r
}

// FixtureDirs lists the subdirectories of root that hold a fixture.
func FixtureDirs(root string) ([]string, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range ents {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(root, e.Name(), "io.safetensors")); err == nil {
				dirs = append(dirs, filepath.Join(root, e.Name()))
			}
		}
	}
	sort.Strings(dirs)
	return dirs, nil
}
