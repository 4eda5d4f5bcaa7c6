package tensor

import "fmt"

// Patchify cuts images x (B, C, H, W) into non-overlapping p×p patches and
// returns (B, N, C·p·p) with N = (H/p)·(W/p) in row-major grid order, each
// patch flattened as (C, p, p). Patchify followed by Linear with the conv
// weight reshaped to (Out, C·p·p) equals a convolution with kernel = stride
// = p, no padding and no bias.
func Patchify(x *Tensor, p int) *Tensor {
	if len(x.shape) != 4 || p <= 0 || x.shape[2]%p != 0 || x.shape[3]%p != 0 {
		panic(fmt.Sprintf("tensor: Patchify: input %v with patch %d (want (B,C,H,W) with H and W multiples of p)", x.shape, p))
	}
	b, c, h, w := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	gh, gw := h/p, w/p
	// View x as (B, C, gh, p, gw, p) and permute to (B, gh, gw, C, p, p).
	shape := []int{b, gh, gw, c, p, p}
	ss := []int{c * h * w, p * w, p, h * w, w, 1}
	out := newOut([]int{b, gh * gw, c * p * p}, x)
	cs := contiguousStrides(shape)
	backend.Strided(shape, out.data, cs, x.data, ss, false)
	if out.requiresGrad {
		out.back = func() { backend.Strided(shape, x.gradBuf(), ss, out.grad, cs, true) }
	}
	return out
}
