package coca

import (
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
	"github.com/gococa/gococa/tensor/torchfile"
)

func cosineRows(t *testing.T, a, b *tensor.Tensor) float64 {
	t.Helper()
	n, d := a.Dim(0), a.Dim(1)
	worst := 1.0
	for i := 0; i < n; i++ {
		var ab, aa, bb float64
		for j := 0; j < d; j++ {
			x, y := float64(a.Data()[i*d+j]), float64(b.Data()[i*d+j])
			ab += x * y
			aa += x * x
			bb += y * y
		}
		worst = math.Min(worst, ab/math.Sqrt(aa*bb))
	}
	return worst
}

// fixtureText returns the tiny fixture's token ids (B, L).
func fixtureText(t *testing.T) ([]int, int, int) {
	f, err := safetensors.Open("../golden/testdata/tiny/io.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ids, err := f.Int64("input.text")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.Info("input.text")
	out := make([]int, len(ids))
	for i, v := range ids {
		out[i] = int(v)
	}
	return out, info.Shape[0], info.Shape[1]
}

// TestBF16Embeddings checks that bfloat16 weights keep image and text
// features within cosine 0.999 of the float32 ones, on the fixture model
// and on a randomly initialised coca_small.
func TestBF16Embeddings(t *testing.T) {
	m32, images := tinyFixture(t)
	m16, _ := tinyFixture(t)
	m16.QuantizeBF16()
	if !m16.IsBF16() || m32.IsBF16() {
		t.Fatal("IsBF16 does not follow QuantizeBF16")
	}
	ids, b, l := fixtureText(t)
	func() {
		i32, _ := m32.EncodeImage(images)
		i16, _ := m16.EncodeImage(images)
		if c := cosineRows(t, i32, i16); c < 0.999 {
			t.Errorf("tiny: image features cosine %.6f < 0.999", c)
		} else {
			t.Logf("tiny: image features cosine ≥ %.6f", c)
		}
		t32, t16 := m32.EncodeText(ids, b, l), m16.EncodeText(ids, b, l)
		if c := cosineRows(t, t32, t16); c < 0.999 {
			t.Errorf("tiny: text features cosine %.6f < 0.999", c)
		} else {
			t.Logf("tiny: text features cosine ≥ %.6f", c)
		}
	}()
	if testing.Short() {
		return
	}
	cfg, _ := Builtin("coca_small")
	a, c := New(cfg), New(cfg)
	a.Init(3)
	c.Init(3)
	c.QuantizeBF16()
	g := tensor.NewRNG(4)
	img := tensor.New(2, 3, 64, 64)
	g.Normal(img, 0, 1)
	text := []int{49406, 320, 1125, 539, 320, 2368, 49407, 0, 49406, 1237, 5046, 49407, 0, 0, 0, 0}
	ia, _ := a.EncodeImage(img)
	ic, _ := c.EncodeImage(img)
	if v := cosineRows(t, ia, ic); v < 0.999 {
		t.Errorf("coca_small: image features cosine %.6f < 0.999", v)
	} else {
		t.Logf("coca_small: image features cosine ≥ %.6f", v)
	}
	if v := cosineRows(t, a.EncodeText(text, 2, 8), c.EncodeText(text, 2, 8)); v < 0.999 {
		t.Errorf("coca_small: text features cosine %.6f < 0.999", v)
	} else {
		t.Logf("coca_small: text features cosine ≥ %.6f", v)
	}
}

// roundedFixture returns the tiny fixture with every weight matrix rounded
// to bfloat16 in place, kept in float32: the float32 model a bfloat16 one
// must match.
func roundedFixture(t *testing.T) (*Model, *tensor.Tensor) {
	m, images := tinyFixture(t)
	for _, p := range m.Params() {
		if p.Tensor.Dims() >= 2 {
			d := p.Tensor.Data()
			for i, v := range d {
				d[i] = safetensors.BF16ToFloat32(safetensors.Float32ToBF16(v))
			}
		}
	}
	return m, images
}

// TestBF16Decoding checks the packed bfloat16 decoding step against the
// float32 kernels over the same rounded weights (logits and tokens),
// cached against uncached decoding of the bfloat16 model, and reports how
// often bfloat16 tokens differ from float32 ones.
func TestBF16Decoding(t *testing.T) {
	m32, images := tinyFixture(t)
	m16, _ := tinyFixture(t)
	m16.QuantizeBF16()
	ref, _ := roundedFixture(t)
	_, tok := m16.Visual.Forward(images)
	d16 := m16.NewDecoder(tok, 12)
	d32 := ref.NewDecoder(tok, 12)
	if !m16.IsBF16() || ref.IsBF16() {
		t.Fatal("IsBF16 does not follow QuantizeBF16")
	}
	next := []int{62, 62, 62, 62}
	for step := 0; step < 11; step++ {
		a := slices.Clone(d16.Step(next))
		b := d32.Step(next)
		for i := range a {
			if d := math.Abs(float64(a[i] - b[i])); d > 1e-4*(1+math.Abs(float64(b[i]))) {
				t.Fatalf("step %d: logit %d: packed %g, float32 %g", step, i, a[i], b[i])
			}
		}
		v := len(a) / 4
		for r := range next {
			next[r] = argmax(b[r*v : (r+1)*v])
		}
	}
	for _, o := range []GenerateOptions{
		{MaxLen: 12, Start: 62, End: -1},
		{MaxLen: 12, Start: 62, End: 55, MinLen: 3, Strategy: StrategyBeam, Beams: 4, LengthPenalty: 1},
	} {
		got, err := m16.Generate(images, o)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := m16.GenerateReference(images, o)
		f32, _ := m32.Generate(images, o)
		diff, total := 0, 0
		for i := range got {
			if !slices.Equal(got[i], want[i]) {
				t.Fatalf("%s: image %d: bf16 cached %v, uncached %v", o.Strategy, i, got[i], want[i])
			}
			for j := range got[i] {
				total++
				if j >= len(f32[i]) || got[i][j] != f32[i][j] {
					diff++
				}
			}
		}
		t.Logf("%q: bf16 tokens differing from float32: %d of %d", o.Strategy, diff, total)
	}
}

// nearFeatures fails t unless features a are within 1e-6 relative of c
// (ref names c in the message). EncodeText's last block runs the CLS row's
// products alone, one row per text, through the small-M kernels that read
// bfloat16 and int8 weights as stored (nn.Transformer.ForwardLast): close
// to the float32 model over the same values, not bit for bit.
func nearFeatures(t *testing.T, what string, a, c *tensor.Tensor, ref string) {
	t.Helper()
	worst := 0.0
	for i, v := range a.Data() {
		w := float64(c.Data()[i])
		d := math.Abs(float64(v)-w) / (1 + math.Abs(w))
		if !(d <= 1e-6) {
			t.Fatalf("%s[%d] = %g, %s %g", what, i, v, ref, w)
		}
		worst = math.Max(worst, d)
	}
	t.Logf("%s: worst relative difference %.2g", what, worst)
}

// TestBF16MatchesRounded checks every path of a bfloat16 model against the
// float32 model over the same rounded weights: image features and the
// text tower's tokens bit for bit (the encoders widen the bfloat16
// matrices and run the same float32 kernels), the text features closely
// (measured 7.6e-8 relative, held to 1e-6), the uncached decoder's
// logits closely (its vocabulary projection is a different product) and
// its greedy tokens exactly. A path that read a placeholder (zeros) would
// fail all of these.
func TestBF16MatchesRounded(t *testing.T) {
	ref, images := roundedFixture(t)
	m, _ := tinyFixture(t)
	m.QuantizeBF16()
	ids, b, l := fixtureText(t)
	sc := tensor.NoGrad()
	defer sc.End()
	bits := func(what string, a, c *tensor.Tensor) {
		t.Helper()
		if !slices.Equal(a.Shape(), c.Shape()) {
			t.Fatalf("%s: shape %v, want %v", what, a.Shape(), c.Shape())
		}
		for i, v := range a.Data() {
			if math.Float32bits(v) != math.Float32bits(c.Data()[i]) {
				t.Fatalf("%s[%d] = %g, float32 over rounded weights %g", what, i, v, c.Data()[i])
			}
		}
	}
	fi, ti := m.EncodeImage(images)
	ri, rti := ref.EncodeImage(images)
	bits("image features", fi, ri)
	bits("image tokens", ti, rti)
	nearFeatures(t, "text features", m.EncodeText(ids, b, l), ref.EncodeText(ids, b, l), "float32 over rounded weights")
	o := m.Forward(sc.Use(images), ids, b, l)
	r := ref.Forward(sc.Use(images), ids, b, l)
	bits("text tokens", o.TextTokens, r.TextTokens)
	for i, v := range o.Logits.Data() {
		w := r.Logits.Data()[i]
		if math.Abs(float64(v-w)) > 1e-5*(1+math.Abs(float64(w))) {
			t.Fatalf("logit %d: %g, float32 over rounded weights %g", i, v, w)
		}
	}
	if got, want := m.GreedyReference(images, 62, 10), ref.GreedyReference(images, 62, 10); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("uncached greedy tokens %v, float32 over rounded weights %v", got, want)
	}
}

// TestBF16StepWorkers checks that the bfloat16 step gives the same bits
// with 1, 2 and 3 threads (each product's outputs split differently) and
// that a batch decodes each image as it would alone, for greedy decoding
// and beam search.
func TestBF16StepWorkers(t *testing.T) {
	m, images := tinyFixture(t)
	m.QuantizeBF16()
	_, tok := m.Visual.Forward(images)
	var ref [][]float32
	for _, procs := range []int{1, 2, 3} {
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			d := m.NewDecoder(tok, 8)
			defer d.Close()
			next := []int{62, 7, 62, 30}
			for s := 0; s < 7; s++ {
				lg := d.Step(next)
				if procs == 1 {
					ref = append(ref, slices.Clone(lg))
				} else if !slices.Equal(lg, ref[s]) {
					t.Fatalf("step %d: logits with %d workers differ from 1 worker's", s, procs)
				}
				v := len(lg) / 4
				for r := range next {
					next[r] = argmax(lg[r*v : (r+1)*v])
				}
			}
		}()
	}
	end := fixtureEnd(t, m, images)
	cases := strategyCases(end)
	for _, name := range []string{"greedy", "beam"} {
		o := cases[name]
		all, err := m.Generate(images, o)
		if err != nil {
			t.Fatal(err)
		}
		for i := range all {
			one, _ := m.Generate(imageRow(images, i), o)
			if !slices.Equal(one[0], all[i]) {
				t.Fatalf("%s: image %d: alone %v, in the batch %v", name, i, one[0], all[i])
			}
		}
	}
}

// TestBF16Inference checks what a bfloat16 model refuses and undoes:
// Forward with gradients panics naming bfloat16, a decoding step rejects
// a token outside the vocabulary, and Load and Init make it a float32
// model again.
func TestBF16Inference(t *testing.T) {
	m, images := tinyFixture(t)
	m.QuantizeBF16()
	ids, b, l := fixtureText(t)
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "bfloat16") {
				t.Errorf("Forward with gradients: %v", r)
			}
		}()
		m.Forward(images, ids, b, l)
	}()
	func() {
		_, tok := m.EncodeImage(images)
		d := m.NewDecoder(tok, 4)
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "vocabulary") {
				t.Errorf("token out of range: %v", r)
			}
		}()
		d.Step([]int{1, 2, 3, m.Config.Text.VocabSize})
	}()
	ref, _ := tinyFixture(t)
	if err := m.LoadSafetensors("../golden/testdata/tiny/weights.safetensors"); err != nil {
		t.Fatal(err)
	}
	if m.IsBF16() {
		t.Fatal("still bfloat16 after Load")
	}
	for i, p := range m.Params() {
		if !slices.Equal(p.Tensor.Data(), ref.Params()[i].Tensor.Data()) {
			t.Fatalf("%s differs from a fresh load", p.Name)
		}
	}
	m.QuantizeBF16()
	m.Init(3)
	ref.Init(3)
	if m.IsBF16() {
		t.Fatal("still bfloat16 after Init")
	}
	for i, p := range m.Params() {
		if !slices.Equal(p.Tensor.Data(), ref.Params()[i].Tensor.Data()) {
			t.Fatalf("%s differs from a fresh Init", p.Name)
		}
	}
}

// TestLoadHalfCheckpoints loads the fixture weights stored as BF16 and as
// F16 safetensors: each value must be the float32 widening of the stored
// half.
func TestLoadHalfCheckpoints(t *testing.T) {
	m32, _ := tinyFixture(t)
	dir := t.TempDir()
	for _, dt := range []string{"bf16", "f16"} {
		var ts []safetensors.Tensor
		for _, p := range m32.Params() {
			if dt == "bf16" {
				ts = append(ts, safetensors.BF16FromF32(p.Name, p.Tensor.Shape(), p.Tensor.Data()))
			} else {
				ts = append(ts, safetensors.F16FromF32(p.Name, p.Tensor.Shape(), p.Tensor.Data()))
			}
		}
		path := filepath.Join(dir, dt+".safetensors")
		if err := safetensors.WriteFile(path, ts, nil); err != nil {
			t.Fatal(err)
		}
		m := New(&m32.Config)
		if err := m.LoadSafetensors(path); err != nil {
			t.Fatal(err)
		}
		for i, p := range m.Params() {
			src := m32.Params()[i].Tensor.Data()
			for j, v := range p.Tensor.Data() {
				var want float32
				if dt == "bf16" {
					want = safetensors.BF16ToFloat32(safetensors.Float32ToBF16(src[j]))
				} else {
					want = safetensors.F16ToFloat32(safetensors.Float32ToF16(src[j]))
				}
				if v != want {
					t.Fatalf("%s: %s[%d] = %g, want %g", dt, p.Name, j, v, want)
				}
			}
		}
	}
}

// bf16State returns a bfloat16 model's parameters by name: float32 values
// for the float32 tensors, the bfloat16 bits (widened to float32 bits)
// for the moved matrices.
func bf16State(t *testing.T, m *Model) map[string][]uint32 {
	t.Helper()
	if !m.IsBF16() {
		t.Fatal("not a bfloat16 model")
	}
	out := map[string][]uint32{}
	for _, p := range m.Params() {
		var v []uint32
		if h, _ := p.Tensor.BF16(); h != nil {
			for _, x := range h {
				v = append(v, uint32(x))
			}
		} else {
			for _, f := range p.Tensor.Data() {
				v = append(v, math.Float32bits(f))
			}
		}
		out[p.Name] = v
	}
	return out
}

// TestLoadBF16 loads the fixture's weights stored as F32, BF16 and F16
// safetensors and as torch.save .bin files in float32, float16 and
// bfloat16 with LoadBF16, and checks each model against Load followed by
// QuantizeBF16 of the same file: the same bits in every parameter, the
// same image and text features and the same greedy and beam tokens.
func TestLoadBF16(t *testing.T) {
	m32, images := tinyFixture(t)
	dir := t.TempDir()
	var files []string
	for _, dt := range []string{"f32", "bf16", "f16"} {
		var ts []safetensors.Tensor
		for _, p := range m32.Params() {
			switch dt {
			case "f32":
				ts = append(ts, safetensors.F32(p.Name, p.Tensor.Shape(), p.Tensor.Data()))
			case "bf16":
				ts = append(ts, safetensors.BF16FromF32(p.Name, p.Tensor.Shape(), p.Tensor.Data()))
			default:
				ts = append(ts, safetensors.F16FromF32(p.Name, p.Tensor.Shape(), p.Tensor.Data()))
			}
		}
		path := filepath.Join(dir, dt+".safetensors")
		if err := safetensors.WriteFile(path, ts, nil); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	for _, dt := range []string{"f32", "f16", "bf16"} {
		files = append(files, "../tensor/torchfile/testdata/tiny_"+dt+".bin")
	}
	ids, b, l := fixtureText(t)
	cases := strategyCases(fixtureEnd(t, m32, images))
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			load := func(m *Model, bf16 bool) error {
				if strings.HasSuffix(path, ".safetensors") {
					if bf16 {
						return m.LoadSafetensorsBF16(path)
					}
					return m.LoadSafetensors(path)
				}
				ck, err := torchfile.Open(path)
				if err != nil {
					return err
				}
				defer ck.Close()
				if bf16 {
					return m.LoadBF16(ck, path)
				}
				return m.Load(ck, path)
			}
			want, got := New(&m32.Config), New(&m32.Config)
			if err := load(want, false); err != nil {
				t.Fatal(err)
			}
			want.QuantizeBF16()
			if err := load(got, true); err != nil {
				t.Fatal(err)
			}
			ws, gs := bf16State(t, want), bf16State(t, got)
			for name, w := range ws {
				if !slices.Equal(gs[name], w) {
					t.Fatalf("%s differs from Load+QuantizeBF16", name)
				}
			}
			func() {
				fw, _ := want.EncodeImage(images)
				fg, _ := got.EncodeImage(images)
				if !slices.Equal(fw.Data(), fg.Data()) {
					t.Fatal("image features differ")
				}
				if !slices.Equal(want.EncodeText(ids, b, l).Data(), got.EncodeText(ids, b, l).Data()) {
					t.Fatal("text features differ")
				}
			}()
			for _, name := range []string{"greedy", "beam"} {
				a, _ := want.Generate(images, cases[name])
				c, _ := got.Generate(images, cases[name])
				if !slices.EqualFunc(a, c, slices.Equal) {
					t.Fatalf("%s: tokens %v, Load+QuantizeBF16 %v", name, c, a)
				}
			}
		})
	}
}

// TestLoadBF16Strict checks that LoadBF16 lists every missing, unexpected
// and mis-shaped tensor in one error naming the file, and that a failed
// load leaves a bfloat16 model as it was.
func TestLoadBF16Strict(t *testing.T) {
	m, _ := tinyFixture(t)
	m.QuantizeBF16()
	before := bf16State(t, m)
	var ts []safetensors.Tensor
	for _, x := range m.Tensors() {
		switch x.Name {
		case "text_decoder.text_projection":
			continue // missing
		case "text.transformer.resblocks.0.attn.in_proj_weight":
			x = safetensors.BF16(x.Name, []int{3, 2}, make([]uint16, 6))
		}
		ts = append(ts, x)
	}
	ts = append(ts, safetensors.F32("text.extra", []int{1}, []float32{1}))
	bad := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := safetensors.WriteFile(bad, ts, nil); err != nil {
		t.Fatal(err)
	}
	err := m.LoadSafetensorsBF16(bad)
	if err == nil {
		t.Fatal("no error for a mismatched checkpoint")
	}
	for _, w := range []string{"bad.safetensors", "text_decoder.text_projection", "resblocks.0.attn.in_proj_weight", "[3 2]", "text.extra"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	after := bf16State(t, m)
	for name, v := range before {
		if !slices.Equal(after[name], v) {
			t.Fatalf("failed load changed %s", name)
		}
	}
}

// TestBF16SaveRoundTrip saves a bfloat16 model: the moved matrices are
// stored as BF16 (the vocabulary projection in its (W, V) layout) and the
// rest as F32; LoadBF16 of the file gives the same model, and Load gives
// the float32 model over the rounded weights.
func TestBF16SaveRoundTrip(t *testing.T) {
	m, _ := tinyFixture(t)
	m.QuantizeBF16()
	path := filepath.Join(t.TempDir(), "bf16.safetensors")
	if err := m.SaveSafetensors(path); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, name := range []string{"text_decoder.text_projection", "text.token_embedding.weight", "text_decoder.cross_attn.0.mlp.c_fc.weight"} {
		if info, _ := f.Info(name); info.DType != safetensors.DTypeBF16 {
			t.Errorf("%s stored as %s, want BF16", name, info.DType)
		}
	}
	for _, name := range []string{"visual.proj", "text.text_projection", "text_decoder.ln_final.bias"} {
		if info, _ := f.Info(name); info.DType != safetensors.DTypeF32 {
			t.Errorf("%s stored as %s, want F32", name, info.DType)
		}
	}
	back := New(&m.Config)
	if err := back.LoadSafetensorsBF16(path); err != nil {
		t.Fatal(err)
	}
	a, c := bf16State(t, m), bf16State(t, back)
	for name, v := range a {
		if !slices.Equal(c[name], v) {
			t.Fatalf("%s differs after the round trip", name)
		}
	}
	ref, _ := roundedFixture(t)
	f32 := New(&m.Config)
	if err := f32.LoadSafetensors(path); err != nil {
		t.Fatal(err)
	}
	for i, p := range f32.Params() {
		if !slices.Equal(p.Tensor.Data(), ref.Params()[i].Tensor.Data()) {
			t.Fatalf("%s: Load of the bfloat16 file differs from the rounded weights", p.Name)
		}
	}
}
