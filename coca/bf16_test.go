package coca

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
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
		defer tensor.NoGrad()()
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
	defer tensor.NoGrad()()
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

// TestBF16Decoding checks the packed bfloat16 decoding step against the
// float32 kernels over the same rounded weights (logits and tokens), and
// reports how often bfloat16 tokens differ from float32 ones.
func TestBF16Decoding(t *testing.T) {
	m32, images := tinyFixture(t)
	m16, _ := tinyFixture(t)
	m16.QuantizeBF16()
	// Same rounded weights without packed copies: the float32 path.
	ref, _ := tinyFixture(t)
	for i, p := range ref.Params() {
		p.Tensor.CopyFrom(m16.Params()[i].Tensor.Data())
	}
	defer tensor.NoGrad()()
	_, tok := m16.Visual.Forward(images)
	d16 := m16.NewDecoder(tok, 12)
	d32 := ref.NewDecoder(tok, 12)
	if d16.bf16 == nil || d32.bf16 != nil {
		t.Fatal("decoder does not pick up the packed weights")
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
