package gococa_test

import (
	"math"
	"os"
	"testing"

	"github.com/gococa/gococa/asm"
	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/tensor"
)

// benchPrecision is the precision of the model benchmarks' products,
// from GOCOCA_BENCH_PRECISION: "" or "f32" for float32 (the default),
// "bf16" for tensor.CPUBF16 (bfloat16 products with float32 sums; for
// BenchmarkTrainStep, mixed-precision training). A bf16 case's name ends
// in /precision=bf16.
func benchPrecision(b *testing.B) string {
	switch p := os.Getenv("GOCOCA_BENCH_PRECISION"); p {
	case "", "f32":
		return ""
	case "bf16":
		if !asm.HasBF16() {
			b.Logf("GOCOCA_BENCH_PRECISION=bf16: no bfloat16 instructions at level %v; products are rounded to bfloat16 and run on float32 kernels", asm.Current())
		}
		return p
	default:
		b.Fatalf("GOCOCA_BENCH_PRECISION=%q: want f32 or bf16", p)
		return ""
	}
}

// usePrecision makes the backend of c's precision current and returns the
// function that restores the previous one.
func usePrecision(c modelCase) func() {
	if c.precision != "bf16" {
		return func() {}
	}
	old := tensor.SetBackend(tensor.CPUBF16())
	return func() { tensor.SetBackend(old) }
}

// TestEncodersBF16 encodes images and captions with coca_small (random
// weights) on the float32 backend and on tensor.CPUBF16 and compares the
// normalised features (measured: 1 − cosine ≤ 3.2e-5, on AVX512_BF16 and
// the generic level alike; bound 2e-4; exactly 1 fails too: the products
// were not taken in bfloat16) and the image tokens the decoder reads
// (measured ‖Δ‖/‖tokens‖ 5e-3; bound 1e-2).
func TestEncodersBF16(t *testing.T) {
	cfg, err := coca.Builtin("coca_small")
	if err != nil {
		t.Fatal(err)
	}
	m := coca.New(cfg)
	m.Init(1)
	g := tensor.NewRNG(2)
	const batch = 2
	img := tensor.New(batch, 3, cfg.Vision.ImageSize, cfg.Vision.ImageSize)
	g.Normal(img, 0, 1)
	l := cfg.Text.ContextLength
	text := make([]int, batch*l)
	for i := range text {
		text[i] = 1 + g.IntN(cfg.Text.VocabSize-1)
	}
	encode := func() (im, tok, tx []float32) {
		f, k := m.EncodeImage(img)
		return append([]float32(nil), f.Data()...), append([]float32(nil), k.Data()...),
			append([]float32(nil), m.EncodeText(text, batch, l).Data()...)
	}
	im32, tok32, tx32 := encode()
	old := tensor.SetBackend(tensor.CPUBF16())
	imBF, tokBF, txBF := encode()
	tensor.SetBackend(old)
	var d, n float64
	for i := range tok32 {
		d += math.Pow(float64(tokBF[i]-tok32[i]), 2)
		n += math.Pow(float64(tok32[i]), 2)
	}
	rel := math.Sqrt(d / n)
	t.Logf("image tokens: ‖Δ‖/‖tokens‖ = %.2g", rel)
	if rel > 1e-2 {
		t.Errorf("image tokens: ‖Δ‖/‖tokens‖ = %.3g, want ≤ 1e-2", rel)
	}
	for _, c := range []struct {
		what  string
		a, b  []float32
		bound float64
	}{{"image", im32, imBF, 2e-4}, {"text", tx32, txBF, 2e-4}} {
		dim := len(c.a) / batch
		for r := 0; r < batch; r++ {
			var ab, aa, bb float64
			for i := r * dim; i < (r+1)*dim; i++ {
				x, y := float64(c.a[i]), float64(c.b[i])
				ab += x * y
				aa += x * x
				bb += y * y
			}
			d := 1 - ab/math.Sqrt(aa*bb)
			t.Logf("%s %d: 1 − cosine(float32, bf16) = %.2g", c.what, r, d)
			if d > c.bound || d == 0 {
				t.Errorf("%s %d: 1 − cosine = %.3g, want in (0, %g]", c.what, r, d, c.bound)
			}
		}
	}
}
