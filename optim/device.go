package optim

import "github.com/gococa/gococa/tensor"

// Optional kernels of a device backend (the CUDA backend has them). Each
// does the work of one step for every parameter in one backend call,
// where the tensor.Backend methods take one call per parameter; with CUDA
// managed memory each call waits for the GPU once, so a step of a model
// with hundreds of parameters would otherwise wait hundreds of times. The
// arithmetic is the same (the sums of squares are added in another fixed
// order). Without them, or on the CPU, the per-parameter paths run.

// sumSquaresAller returns Σ over every x of Σ x², in float64.
type sumSquaresAller interface {
	SumSquaresAll(xs [][]float32) float64
}

// scaleAller multiplies every x by s.
type scaleAller interface {
	ScaleAll(s float32, xs [][]float32)
}

// fillAller sets every element of every x to v.
type fillAller interface {
	FillAll(xs [][]float32, v float32)
}

// adamWAller applies tensor.Backend.AdamW to each parameter i.
type adamWAller interface {
	AdamWAll(ws, gs, ms, vs [][]float32, steps []tensor.AdamWStep)
}

// adafactorer applies one Adafactor update to one parameter on the device
// (see the CUDA backend's AdafactorStep for the operands).
type adafactorer interface {
	AdafactorStep(w, g, m, row, col []float32, batch, rows, cols int,
		beta2t, eps1, clipThreshold, lr, negWD, beta1 float64)
}

// clamper clamps x to [lo, hi] in place, leaving NaN.
type clamper interface {
	Clamp(x []float32, lo, hi float32)
}

// deviceKernel returns the current backend as a K when it computes on a
// device and has that kernel.
func deviceKernel[K any]() (K, bool) {
	var zero K
	if !tensor.OnDevice() {
		return zero, false
	}
	k, ok := tensor.CurrentBackend().(K)
	return k, ok
}

// grads returns the non-empty gradients of params.
func grads(params []*tensor.Tensor) [][]float32 {
	out := make([][]float32, 0, len(params))
	for _, p := range params {
		if g := p.Grad(); len(g) > 0 {
			out = append(out, g)
		}
	}
	return out
}
