package optim_test

import (
	"fmt"

	"github.com/gococa/gococa/optim"
	"github.com/gococa/gococa/tensor"
)

// A training loop: two micro-batches accumulated per step, gradients
// clipped, AdamW with warmup and cosine decay, logit_scale clamped.
func Example() {
	w := tensor.NewParam("proj.weight", 2, 2)
	logitScale := tensor.NewParam("logit_scale")
	logitScale.Data()[0] = 4.6
	params := []*tensor.Tensor{w, logitScale}
	target := tensor.FromSlice([]float32{1, -1, 0.5, 2}, 2, 2)

	opt, err := optim.NewAdamW(params, optim.DefaultAdamWConfig())
	if err != nil {
		panic(err)
	}
	sched, err := optim.NewWarmupCosine(0.1, 0.001, 10, 300)
	if err != nil {
		panic(err)
	}
	const accum = 2
	for step := range 300 {
		for range accum {
			// loss = Σ (w − target)² + logit_scale
			d := tensor.Sub(w, target)
			loss := tensor.Add(tensor.Sum(tensor.Mul(d, d), false), tensor.Sum(logitScale, false))
			tensor.Backward(loss)
			tensor.Release(loss)
		}
		optim.ScaleGrads(params, 1.0/accum)
		optim.ClipGradNorm(params, 1.0)
		opt.Step(sched.LR(step))
		optim.ClampLogitScale(logitScale)
		opt.ZeroGrad()
	}
	v := w.Data()
	fmt.Printf("w = [%.2f %.2f %.2f %.2f], logit_scale = %.2f\n", v[0], v[1], v[2], v[3], logitScale.Data()[0])
	// Output: w = [1.00 -1.00 0.50 2.00], logit_scale = 0.00
}
