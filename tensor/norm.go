package tensor

import "fmt"

// LayerNorm normalises over the last axis: (x − mean)/sqrt(var + eps)·w + b,
// with w and b of shape (C).
func LayerNorm(x, w, b *Tensor, eps float32) *Tensor {
	n := lastDim(x)
	if len(w.shape) != 1 || w.shape[0] != n || len(b.shape) != 1 || b.shape[0] != n {
		panic(fmt.Sprintf("tensor: LayerNorm: input %v with weight %v and bias %v", x.shape, w.shape, b.shape))
	}
	rows := x.Numel() / max(n, 1)
	out := newOut(cloneInts(x.shape), x, w, b)
	stats := pool.get(2 * rows)
	mean, rstd := stats[:rows], stats[rows:]
	backend.LayerNorm(out.data, mean, rstd, x.data, w.data, b.data, rows, n, eps)
	if !out.requiresGrad {
		pool.put(stats)
		return out
	}
	out.back = func() {
		var dx, dw, db []float32
		if x.requiresGrad {
			dx = x.gradBuf()
		}
		if w.requiresGrad {
			dw = w.gradBuf()
		}
		if b.requiresGrad {
			db = b.gradBuf()
		}
		backend.LayerNormBackward(dx, dw, db, out.grad, x.data, w.data, mean, rstd, rows, n)
	}
	out.keep(stats)
	return out
}

// Normalize divides each row (last axis) by max(‖row‖₂, eps), like
// torch.nn.functional.normalize(x, dim=-1) with eps 1e-12.
func Normalize(x *Tensor, eps float32) *Tensor {
	n := lastDim(x)
	rows := x.Numel() / max(n, 1)
	out := newOut(cloneInts(x.shape), x)
	norms := pool.get(rows)
	backend.Normalize(out.data, norms, x.data, rows, n, eps)
	if !out.requiresGrad {
		pool.put(norms)
		return out
	}
	readsOwnValues(out)
	out.back = func() { backend.NormalizeBackward(x.gradBuf(), out.grad, out.data, norms, rows, n, eps) }
	out.keep(norms)
	return out
}
