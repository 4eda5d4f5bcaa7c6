package gococa_test

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"testing"

	"github.com/gococa/gococa/asm"
	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tokenizer"
)

// captionBenchTokens is the caption length of the comparison with
// open_clip's generate: 29 tokens after the start token (seq_len 30).
const captionBenchTokens = 29

// BenchmarkCaption times captioning one image, as `coca caption` does it:
// the image tower once, then greedy decoding of 29 tokens with the KV-cached
// decoder (cross-attention keys and values computed once), no end-of-text
// stop, on 2 threads (GOMAXPROCS 2 unless the GOMAXPROCS environment
// variable sets it), with randomly initialised weights in float32,
// rounded to bfloat16 (QuantizeBF16) or with the text stacks in int8
// (QuantizeInt8). It reports s/caption and ms/token (wall time),
// cpu-s/caption (process CPU time, steadier on a shared machine) and
// contention-signs/caption (asm.ContentionSigns: on an idle machine, false
// signs, each of which ran the pool on one goroutine for a while); the
// bf16 and int8 cases also report 1 − the cosine similarity of their image
// and text features with the float32 model's (same init), and fail when a
// cosine is below 0.999.
//
// scripts/bench_caption.sh runs it next to the same uncached greedy loop in
// PyTorch (golden/pytorch/bench.py --workloads caption) and prints the
// ratios.
func BenchmarkCaption(b *testing.B) {
	const config = "coca_ViT-B-32"
	for _, w := range []string{"f32", "bf16", "int8"} {
		b.Run(fmt.Sprintf("config=%s/mode=greedy/tokens=%d/weights=%s", config, captionBenchTokens, w), func(b *testing.B) {
			if os.Getenv("GOMAXPROCS") == "" {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
			}
			cfg, err := coca.Builtin(config)
			if err != nil {
				b.Fatal(err)
			}
			m := coca.New(cfg)
			m.Init(1)
			img := tensor.New(1, 3, cfg.Vision.ImageSize, cfg.Vision.ImageSize)
			tensor.NewRNG(2).Normal(img, 0, 1)
			var cosines func()
			switch w {
			case "bf16":
				cosines = reducedCosines(b, m, img, m.QuantizeBF16)
			case "int8":
				cosines = reducedCosines(b, m, img, func() {
					if err := m.QuantizeInt8(); err != nil {
						b.Fatal(err)
					}
				})
			}
			o := coca.GenerateOptions{Strategy: coca.StrategyGreedy, MaxLen: 1 + captionBenchTokens, Start: coca.StartOfText, End: -1}
			caption := func() {
				seqs, err := m.Generate(img, o)
				if err != nil {
					b.Fatal(err)
				}
				if len(seqs) != 1 || len(seqs[0]) != 1+captionBenchTokens {
					b.Fatalf("caption %v: want 1 row of %d tokens", seqs, 1+captionBenchTokens)
				}
			}
			caption() // warm-up: buffers, packed weights
			b.ResetTimer()
			cpu0, signs0 := cpuSeconds(), asm.ContentionSigns()
			for i := 0; i < b.N; i++ {
				caption()
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(sec, "s/caption")
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/caption")
			b.ReportMetric(1e3*sec/captionBenchTokens, "ms/token")
			b.ReportMetric(float64(asm.ContentionSigns()-signs0)/float64(b.N), "contention-signs/caption")
			if cosines != nil {
				cosines()
			}
		})
	}
}

// reducedCosines runs quantize (m.QuantizeBF16 or m.QuantizeInt8) on the
// float32 model m after encoding an image and two captions with it, and
// encodes them again. It fails the benchmark when the worst cosine
// similarity between the two models' features is below 0.999, and returns
// a function that reports both cosines as metrics (ResetTimer drops
// metrics reported before it).
func reducedCosines(b *testing.B, m *coca.Model, img *tensor.Tensor, quantize func()) func() {
	b.Helper()
	l := m.Config.Text.ContextLength
	var text []int
	for _, s := range []string{"a photo of a cat sleeping on a laptop keyboard", "two dogs playing with a frisbee in a park"} {
		text = append(text, tokenizer.New().Tokenize(s, l)...)
	}
	i32, _ := m.EncodeImage(img)
	t32 := m.EncodeText(text, 2, l)
	i32d, t32d := append([]float32(nil), i32.Data()...), append([]float32(nil), t32.Data()...)
	quantize()
	i16, _ := m.EncodeImage(img)
	t16 := m.EncodeText(text, 2, l)
	ci := worstCosine(i32d, i16.Data(), i16.Dim(1))
	ct := worstCosine(t32d, t16.Data(), t16.Dim(1))
	if ci < 0.999 || ct < 0.999 {
		b.Errorf("reduced-precision features: image cosine %.6f, text cosine %.6f with float32 (want ≥ 0.999)", ci, ct)
	}
	return func() {
		// 1 − cosine: the benchmark output shows 4 significant digits.
		b.ReportMetric(1-ci, "image-1-cos-vs-f32")
		b.ReportMetric(1-ct, "text-1-cos-vs-f32")
	}
}

// worstCosine returns the smallest cosine similarity between corresponding
// rows of width d.
func worstCosine(a, b []float32, d int) float64 {
	worst := 1.0
	for r := 0; r < len(a)/d; r++ {
		var ab, aa, bb float64
		for j := r * d; j < (r+1)*d; j++ {
			x, y := float64(a[j]), float64(b[j])
			ab, aa, bb = ab+x*y, aa+x*x, bb+y*y
		}
		worst = math.Min(worst, ab/math.Sqrt(aa*bb))
	}
	return worst
}
