package gococa_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/tensor"
)

// flopCounter wraps a backend and counts the floating-point operations of
// its matrix products and attention (2 per multiply-add), the work that
// dominates a CoCa step.
type flopCounter struct {
	tensor.Backend
	flops float64
}

func (f *flopCounter) Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC, batch int) {
	f.flops += 2 * float64(m) * float64(n) * float64(k) * float64(batch)
	f.Backend.Gemm(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch)
}

func (f *flopCounter) Attention(out, lse, q, k, v []float32, b, h, lq, lk, d int, scale float32, causal bool, mask []float32) {
	f.flops += 4 * float64(b*h*lq*lk*d)
	f.Backend.Attention(out, lse, q, k, v, b, h, lq, lk, d, scale, causal, mask)
}

func (f *flopCounter) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse []float32, b, h, lq, lk, d int, scale float32, causal bool, mask []float32) {
	f.flops += 10 * float64(b*h*lq*lk*d) // recomputed scores + four products
	f.Backend.AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, b, h, lq, lk, d, scale, causal, mask)
}

// peakRSS returns the process's peak resident set (VmHWM) in bytes, or 0
// where /proc is not available.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	return 0
}

type modelCase struct {
	config string
	batch  int
}

var modelCases = []modelCase{{"coca_ViT-B-32", 8}, {"coca_shapes", 64}}

func benchModel(b *testing.B, c modelCase) (*coca.Model, *tensor.Tensor, []int, int) {
	cfg, err := coca.Builtin(c.config)
	if err != nil {
		b.Fatal(err)
	}
	if c.config == "coca_shapes" { // the vocabulary and context `coca train` fits on the built-in data
		cfg.Text.VocabSize, cfg.Multimodal.VocabSize = 577, 577
		cfg.Text.ContextLength, cfg.Multimodal.ContextLength = 12, 12
	}
	m := coca.New(cfg)
	m.Init(1)
	g := tensor.NewRNG(2)
	s := cfg.Vision.ImageSize
	img := tensor.New(c.batch, 3, s, s)
	g.Normal(img, 0, 1)
	l := cfg.Text.ContextLength
	text := make([]int, c.batch*l)
	for i := range text {
		text[i] = 1 + g.IntN(cfg.Text.VocabSize-1)
	}
	return m, img, text, l
}

// BenchmarkTrainStep times forward + both losses + backward (releasing
// buffers as it goes) of one batch (no optimizer), reporting s/step,
// GFLOP/s of the counted matrix and attention work, the process's peak RSS,
// the peak of pooled buffers (activations and intermediate gradients) and
// the Go heap allocated per step (B/op).
func BenchmarkTrainStep(b *testing.B) {
	for _, c := range modelCases {
		b.Run(fmt.Sprintf("config=%s/batch=%d", c.config, c.batch), func(b *testing.B) {
			if testing.Short() && c.config == "coca_ViT-B-32" {
				b.Skip("coca_ViT-B-32 skipped in -short mode")
			}
			m, img, text, l := benchModel(b, c)
			counter := &flopCounter{Backend: tensor.CurrentBackend()}
			step := func() {
				out := m.Forward(img, text, c.batch, l)
				loss := m.Loss(out, text, c.batch, l, coca.DefaultLossWeights)
				tensor.BackwardRelease(loss.Total, nil)
			}
			old := tensor.SetBackend(counter)
			step() // warm-up, and one step's FLOPs
			tensor.SetBackend(old)
			perStep := counter.flops
			tensor.ResetPoolPeak()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuSeconds()
			for i := 0; i < b.N; i++ {
				step()
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(sec, "s/step")
			// CPU time per step (all threads): steadier than s/step on a
			// shared machine, and s/step × GOMAXPROCS when no thread idles.
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/step")
			b.ReportMetric(perStep/sec/1e9, "GFLOP/s")
			b.ReportMetric(peakRSS(), "peak-RSS-bytes")
			// Activations, intermediate gradients and scratch at their peak.
			b.ReportMetric(float64(tensor.PoolPeakBytes()), "peak-pool-bytes")
		})
	}
}

// BenchmarkEncodeImage times EncodeImage of one batch without gradients.
func BenchmarkEncodeImage(b *testing.B) {
	for _, c := range modelCases {
		b.Run(fmt.Sprintf("config=%s/batch=%d", c.config, c.batch), func(b *testing.B) {
			m, img, _, _ := benchModel(b, c)
			defer tensor.NoGrad()()
			m.EncodeImage(img)
			b.ResetTimer()
			cpu0 := cpuSeconds()
			for i := 0; i < b.N; i++ {
				m.EncodeImage(img)
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/batch")
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/batch")
		})
	}
}

// BenchmarkEncodeText times EncodeText of one batch without gradients.
func BenchmarkEncodeText(b *testing.B) {
	for _, c := range modelCases {
		b.Run(fmt.Sprintf("config=%s/batch=%d", c.config, c.batch), func(b *testing.B) {
			m, _, text, l := benchModel(b, c)
			defer tensor.NoGrad()()
			m.EncodeText(text, c.batch, l)
			b.ResetTimer()
			cpu0 := cpuSeconds()
			for i := 0; i < b.N; i++ {
				m.EncodeText(text, c.batch, l)
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/batch")
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/batch")
		})
	}
}
