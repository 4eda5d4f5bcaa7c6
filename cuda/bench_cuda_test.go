//go:build cuda && cgo

package cuda

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/optim"
	"github.com/gococa/gococa/tensor"
)

// BenchmarkTrainStep times one training step of a CoCa on the GPU: forward,
// both losses, backward (buffers released as the walk passes them) and,
// with optimizer=adamw, gradient clipping, the AdamW update and zeroing
// the gradients. Cases: GOCOCA_BENCH_MODELS, comma-separated config:batch
// (default coca_ViT-B-32:64, the comparison with PyTorch); the
// GEMM precision is GOCOCA_CUDA_MATH's (fp32 by default).
func BenchmarkTrainStep(b *testing.B) {
	if err := Probe(); err != nil {
		b.Skipf("no CUDA device: %v", err)
	}
	be, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	old := tensor.SetBackend(be)
	defer tensor.SetBackend(old)
	b.Logf("%v", be)
	cases := os.Getenv("GOCOCA_BENCH_MODELS")
	if cases == "" {
		cases = "coca_ViT-B-32:64"
	}
	for _, c := range strings.Split(cases, ",") {
		name, bs, _ := strings.Cut(strings.TrimSpace(c), ":")
		batch, err := strconv.Atoi(bs)
		if err != nil || batch < 1 {
			b.Fatalf("GOCOCA_BENCH_MODELS entry %q: want config:batch", c)
		}
		cfg, err := coca.Builtin(name)
		if err != nil {
			b.Fatal(err)
		}
		m := coca.New(cfg)
		m.Init(1)
		g := tensor.NewRNG(2)
		s := cfg.Vision.ImageSize
		img := tensor.New(batch, 3, s, s) // device memory, not pooled: it outlives the steps
		g.Normal(img, 0, 1)
		l := cfg.Text.ContextLength
		text := make([]int, batch*l)
		for i := range text {
			text[i] = 1 + g.IntN(cfg.Text.VocabSize-1)
		}
		var params []*tensor.Tensor
		for _, p := range m.Params() {
			params = append(params, p.Tensor)
		}
		opt, err := optim.NewAdamW(params, optim.DefaultAdamWConfig())
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range []string{"none", "adamw"} {
			b.Run(fmt.Sprintf("config=%s/batch=%d/optimizer=%s", name, batch, o), func(b *testing.B) {
				step := func() {
					out := m.Forward(img, text, batch, l)
					loss := m.Loss(out, text, batch, l, coca.DefaultLossWeights)
					tensor.BackwardRelease(loss.Total, nil)
					if o == "adamw" {
						optim.ClipGradNorm(params, 1)
						opt.Step(1e-4)
						opt.ZeroGrad()
					}
				}
				step() // warm-up: the allocator's caches fill
				b.ResetTimer()
				for range b.N {
					step()
				}
				b.StopTimer()
				sec := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(sec, "s/step")
				b.ReportMetric(float64(batch)/sec, "images/s")
			})
		}
	}
}
