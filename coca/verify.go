package coca

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/gococa/gococa/golden"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
)

// VerifyTolerances hold a training-step fixture to bounds: outputs (max
// |diff|, logit_scale relative), losses (relative), gradients
// (‖g − ref‖/‖ref‖ per tensor). Greedy tokens must be identical.
type VerifyTolerances struct {
	Output, Loss, Gradient float64
}

// DefaultVerifyTolerances are the fixtures' own (golden/README.md): outputs
// max |diff| ≤ 1e-4, losses and logit_scale relative ≤ 1e-5, gradients
// relative norm ≤ 1e-4. A correct float32 port lands 30-300 times inside
// them; the tests hold each fixture to 10 times its measured error.
var DefaultVerifyTolerances = VerifyTolerances{Output: 1e-4, Loss: 1e-5, Gradient: 1e-4}

// Verify runs the fixture in dir (config.json, weights.safetensors,
// io.safetensors: see golden/README.md) through the model: forward, both
// losses, backward and greedy decoding, and compares everything with the
// fixture's values under DefaultVerifyTolerances. It writes one line per
// tensor and a final "verify: PASS" or "verify: FAIL (<n> tensors)" line to
// w, and returns the number of failures.
func Verify(dir string, w io.Writer) (int, error) {
	r, err := VerifyReport(dir, DefaultVerifyTolerances)
	if err != nil {
		return 0, err
	}
	fails := 0
	for _, d := range r.Diffs {
		status := "ok  "
		if !d.OK() {
			status = "FAIL"
			fails++
		}
		switch {
		case d.Err != "":
			fmt.Fprintf(w, "%s %-60s %s\n", status, d.Name, d.Err)
		case d.Tol.String() == "exact" && d.OK():
			fmt.Fprintf(w, "%s %-60s identical (%d)\n", status, d.Name, d.Count)
		case d.Tol.String() == "exact":
			fmt.Fprintf(w, "%s %-60s %d of %d differ, first %s\n", status, d.Name, d.Bad, d.Count, d.First[0])
		default:
			fmt.Fprintf(w, "%s %-60s max|diff| %.3e  maxrel %.3e  relnorm %.3e  (%s)\n", status, d.Name, d.MaxAbs, d.MaxRel, d.RelNorm, d.Tol)
		}
	}
	if fails == 0 {
		fmt.Fprintf(w, "verify: PASS\n")
	} else {
		fmt.Fprintf(w, "verify: FAIL (%d tensors)\n", fails)
	}
	return fails, nil
}

// VerifyReport is Verify returning the comparisons (golden.Diff per
// tensor) under the tolerances tol.
func VerifyReport(dir string, tol VerifyTolerances) (*golden.Report, error) {
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	model := New(cfg)
	if err := model.LoadSafetensors(filepath.Join(dir, "weights.safetensors")); err != nil {
		return nil, err
	}
	ioPath := filepath.Join(dir, "io.safetensors")
	f, err := safetensors.Open(ioPath)
	if err != nil {
		return nil, fmt.Errorf("coca: verify: %w", err)
	}
	defer f.Close()
	get := func(name string) ([]float32, []int, error) { return readF32(f, ioPath, name) }
	img, ishape, err := get("input.image")
	if err != nil {
		return nil, err
	}
	textF, tshape, err := get("input.text")
	if err != nil {
		return nil, err
	}
	if len(ishape) != 4 || len(tshape) != 2 || ishape[0] != tshape[0] {
		return nil, fmt.Errorf("coca: verify: %s: input.image %v and input.text %v do not fit together", ioPath, ishape, tshape)
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

	r := golden.NewReport(dir, golden.RerunFixtures)
	// Positions whose input (text_tokens) or label (logits) is pad are
	// unspecified: compared elsewhere only.
	maskText := make([]bool, b*l)
	for i, t := range text {
		maskText[i] = t != cfg.Text.PadID
	}
	maskLabels := make([]bool, b*(l-1))
	for bi := 0; bi < b; bi++ {
		for j := 0; j < l-1; j++ {
			maskLabels[bi*(l-1)+j] = text[bi*l+j+1] != cfg.Text.PadID
		}
	}
	act := golden.Tolerance{Atol: tol.Output}
	// Forward computes the first n positions (trailing padding aside): the
	// token outputs and logits are compared at those (ctx: the fixture's
	// positions per row).
	np := out.TextTokens.Dim(1)
	outputs := []struct {
		name string
		t    *tensor.Tensor
		tol  golden.Tolerance
		ctx  int
	}{
		{"output.image_features", out.ImageFeatures, act, 0},
		{"output.text_features", out.TextFeatures, act, 0},
		{"output.image_features_unnormalized", out.ImageLatent, act, 0},
		{"output.text_features_unnormalized", out.TextLatent, act, 0},
		{"output.image_embs", out.ImageEmbs, act, 0},
		{"output.text_tokens", out.TextTokens, act.WithMask(golden.MaskRepeat(positions(maskText, b, l, np, 1), out.TextTokens.Dim(2))), l},
		{"output.logits", out.Logits, act.WithMask(golden.MaskRepeat(positions(maskLabels, b, l-1, np-1, 1), out.Logits.Dim(2))), l - 1},
		// exp(logit_scale) is of order 10-100: relative, as the fixtures' README says
		{"output.logit_scale", out.LogitScale, golden.Tolerance{Rtol: tol.Loss}, 0},
	}
	for _, o := range outputs {
		ref, shape, err := get(o.name)
		if err != nil {
			return nil, err
		}
		if o.ctx > 0 && o.t.Dim(1) < o.ctx && len(shape) == 3 && shape[0] == b && shape[1] == o.ctx {
			k := o.t.Dim(1)
			ref, shape = positions(ref, b, o.ctx, k, shape[2]), []int{b, k, shape[2]}
		}
		gshape := o.t.Shape()
		if o.t.Numel() == 1 && len(ref) == 1 {
			gshape = shape // a scalar matches [] or [1]
		}
		r.Add(golden.CompareShapes(o.name, tensor.HostValues(o.t, nil), gshape, ref, shape, o.tol)) // a copy from a device
	}
	for _, ls := range []struct {
		name string
		t    *tensor.Tensor
	}{{"loss.contrastive", losses.Contrastive}, {"loss.caption", losses.Caption}, {"loss.total", losses.Total}} {
		ref, shape, err := get(ls.name)
		if err != nil {
			return nil, err
		}
		if len(ref) != 1 {
			return nil, fmt.Errorf("coca: verify: %s: %s has shape %v, want a scalar", ioPath, ls.name, shape)
		}
		r.Add(golden.Compare(ls.name, []float32{ls.t.Item()}, ref, []int{1}, golden.Tolerance{Rtol: tol.Loss}))
	}
	for _, p := range model.Params() {
		name := "grad." + p.Name
		ref, shape, err := get(name)
		if err != nil {
			return nil, err
		}
		g := make([]float32, p.Tensor.Numel())
		if pg := p.Tensor.Grad(); pg != nil {
			tensor.CopyOut(g, pg) // a copy from a device
		}
		d := golden.Compare(name, g, ref, p.Tensor.Shape(), golden.Tolerance{RelNorm: tol.Gradient})
		if numelOf(shape) != len(ref) || numelOf(shape) != p.Tensor.Numel() {
			d = golden.CompareShapes(name, g, p.Tensor.Shape(), ref, shape, golden.Tolerance{RelNorm: tol.Gradient})
		}
		r.Add(d)
	}
	tensor.Release(losses.Total)

	// The inference entry a text at a time, where a padded text is computed
	// only up to its last id (TextTower.prefix), against the same features.
	ref, shape, err := get("output.text_features")
	if err != nil {
		return nil, err
	}
	byText := make([]float32, 0, len(ref))
	for bi := range b {
		byText = append(byText, model.EncodeText(text[bi*l:(bi+1)*l], 1, l).Data()...)
	}
	r.Add(golden.CompareShapes("output.text_features (EncodeText, a text at a time)", byText, out.TextFeatures.Shape(), ref, shape, act))

	// The image features alone (EncodeImageFeatures), computing only the
	// pooler rows they read, against the same features.
	ref, shape, err = get("output.image_features")
	if err != nil {
		return nil, err
	}
	feats := model.EncodeImageFeatures(images)
	r.Add(golden.CompareShapes("output.image_features (EncodeImageFeatures)", feats.Data(), feats.Shape(), ref, shape, act))

	// Greedy decoding over the fixture's whole length: a decoder that stops
	// early or runs long differs.
	refTok, gshape, err := get("output.greedy_tokens")
	if err != nil {
		return nil, err
	}
	if len(gshape) != 2 || gshape[0] != b || gshape[1] < 1 {
		r.Add(golden.Diff{Name: "output.greedy_tokens", Shape: gshape, Tol: golden.TolExact, Worst: golden.Mismatch{Flat: -1},
			Err: fmt.Sprintf("shape %v, want [%d, 1+n]", gshape, b)})
		return r, nil
	}
	n := gshape[1]
	seqs := model.GreedyReference(images, int(refTok[0]), n-1)
	got := make([]int64, 0, b*n)
	gotShape := []int{len(seqs), 0}
	for _, s := range seqs {
		gotShape[1] = max(gotShape[1], len(s))
	}
	want := make([]int64, len(refTok))
	for i, v := range refTok {
		want[i] = int64(v)
	}
	if gotShape[1] != n {
		r.Add(golden.Diff{Name: "output.greedy_tokens", Shape: gshape, Tol: golden.TolExact, Worst: golden.Mismatch{Flat: -1},
			Err: fmt.Sprintf("%d tokens per row, fixture %d", gotShape[1], n)})
		return r, nil
	}
	for _, s := range seqs {
		for j := range n {
			t := int64(-1) // a row shorter than the others
			if j < len(s) {
				t = int64(s[j])
			}
			got = append(got, t)
		}
	}
	r.Add(golden.CompareInt64("output.greedy_tokens", got, want, gshape))
	return r, nil
}

// positions returns the first n of the l positions of each of b rows of v
// (inner values per position).
func positions[T any](v []T, b, l, n, inner int) []T {
	if n == l {
		return v
	}
	out := make([]T, 0, b*n*inner)
	for r := range b {
		out = append(out, v[r*l*inner:(r*l+n)*inner]...)
	}
	return out
}

func numelOf(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
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
