package tensor

// Softmax returns softmax over the last axis. Entries of −Inf get 0; a row
// that is −Inf everywhere gives zeros.
func Softmax(x *Tensor) *Tensor { return softmax(x, false) }

// LogSoftmax returns log-softmax over the last axis.
func LogSoftmax(x *Tensor) *Tensor { return softmax(x, true) }

func softmax(x *Tensor, log bool) *Tensor {
	n := lastDim(x)
	if len(x.shape) == 0 {
		panic("tensor: Softmax: scalar input")
	}
	rows := x.Numel() / max(n, 1)
	out := newOut(cloneInts(x.shape), x)
	backend.Softmax(out.data, x.data, rows, n, log)
	if out.requiresGrad {
		readsOwnValues(out)
		out.back = func() { backend.SoftmaxBackward(x.gradBuf(), out.data, out.grad, rows, n, log) }
	}
	return out
}
