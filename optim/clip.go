package optim

import (
	"math"

	"github.com/gococa/gococa/tensor"
)

// ClipGradNorm scales the gradients of params so that their global L2 norm
// (over all gradients together) is at most maxNorm, as
// torch.nn.utils.clip_grad_norm_ does, and returns the norm before
// clipping. With total = √(Σ g²), every gradient is multiplied by
// maxNorm/(total + 1e-6) when that factor is below 1. Parameters with a nil
// gradient are ignored (and with none at all the result is 0).
//
// The sum of squares is accumulated in float64 in parameter order. Unlike
// PyTorch (which scales by the non-finite factor), a NaN or infinite total
// leaves the gradients untouched: check the returned norm with math.IsNaN
// and math.IsInf and skip that step. A maxNorm that is not a positive
// finite number (0 included) disables clipping: the norm is only measured.
func ClipGradNorm(params []*tensor.Tensor, maxNorm float64) (totalNorm float64) {
	total := GradNorm(params)
	if math.IsNaN(total) || math.IsInf(total, 0) || !(maxNorm > 0) || math.IsInf(maxNorm, 1) {
		return total
	}
	coef := maxNorm / (total + 1e-6)
	if coef < 1 {
		ScaleGrads(params, float32(coef))
	}
	return total
}

// sumSquares returns Σ x² accumulated in float64 by the current backend
// (on the CPU in four interleaved partial sums added in a fixed order).
func sumSquares(x []float32) float64 {
	if len(x) == 0 {
		return 0
	}
	return tensor.CurrentBackend().SumSquares(x)
}

// GradNorm returns the global L2 norm of the gradients of params without
// changing them (for logging).
func GradNorm(params []*tensor.Tensor) float64 {
	if k, ok := deviceKernel[sumSquaresAller](); ok {
		return math.Sqrt(k.SumSquaresAll(grads(params)))
	}
	var sum float64
	for _, p := range params {
		sum += sumSquares(p.Grad())
	}
	return math.Sqrt(sum)
}

// ScaleGrads multiplies every gradient of params by s. For gradient
// accumulation over n micro-batches, call ScaleGrads(params, 1/float32(n))
// after the last Backward and before ClipGradNorm and Step (or scale each
// micro-batch's loss by 1/n instead).
func ScaleGrads(params []*tensor.Tensor, s float32) {
	if k, ok := deviceKernel[scaleAller](); ok {
		k.ScaleAll(s, grads(params))
		return
	}
	b := tensor.CurrentBackend()
	for _, p := range params {
		if g := p.Grad(); len(g) > 0 {
			b.Scale(s, g, g)
		}
	}
}

// MaxLogitScale is the upper bound of CoCa's logit_scale parameter, ln 100.
// ClampLogitScale applies it rounded to float32, as torch's clamp_ does on a
// float32 tensor.
const MaxLogitScale = 4.605170185988092

// ClampLogitScale clamps every value of p (CoCa's logit_scale, a scalar or a
// one-element tensor) to [0, ln 100], as open_clip does after each step so
// that the contrastive temperature exp(logit_scale) stays at most 100. NaN
// is left as it is. On a device backend with a clamp kernel the values
// never leave the device.
func ClampLogitScale(p *tensor.Tensor) {
	const hi = float32(MaxLogitScale)
	if k, ok := deviceKernel[clamper](); ok {
		k.Clamp(p.Data(), 0, hi)
		return
	}
	d := p.Data()
	for i, v := range d {
		if v < 0 {
			d[i] = 0
		} else if v > hi {
			d[i] = hi
		}
	}
}
