package tensor

// Backend is the kernel set every op calls for its arithmetic. Ops in this
// package do shapes and autograd bookkeeping in Go; a Backend does the
// numbers. The CPU backend (cpu.go) runs them on host memory with the asm
// package's kernels; other backends implement the same set.
//
// Conventions: slices are row-major and contiguous unless strides are given;
// "rows, n" means rows×n values. Kernels named *Backward accumulate (+=)
// into their gradient outputs; forward kernels overwrite their outputs.
type Backend interface {
	Name() string

	// Gemm computes batch products C = alpha·op(A)·op(B) + beta·C, with
	// op(A) m×k, op(B) k×n, C m×n; matrix i starts at i·stride (a stride
	// of 0 broadcasts the operand). beta == 0 means C is not read.
	Gemm(transA, transB bool, m, n, k int, alpha float32,
		a []float32, lda, strideA int, b []float32, ldb, strideB int,
		beta float32, c []float32, ldc, strideC, batch int)

	// Map sets dst[i] = f(x[i]).
	Map(f MapOp, dst, x []float32)
	// MapBackward accumulates dx[i] += dy[i]·f'(x[i]); y = f(x).
	MapBackward(f MapOp, dx, x, y, dy []float32)

	// Binary sets dst = a op b elementwise over shape; sa and sb are the
	// element strides of a and b (0 on broadcast axes), dst is contiguous.
	Binary(op BinOp, shape []int, dst, a []float32, sa []int, b []float32, sb []int)
	// Strided walks shape and sets (or, with accumulate, adds)
	// dst[Σ i·sd] = src[Σ i·ss]. With accumulate and sd 0 on some axes it
	// is a sum over those axes; with permuted ss it is a transpose.
	Strided(shape []int, dst []float32, sd []int, src []float32, ss []int, accumulate bool)
	// Axpy sets y += alpha·x.
	Axpy(alpha float32, x, y []float32)
	// Scale sets dst = alpha·x.
	Scale(alpha float32, dst, x []float32)
	// Sum returns Σ x (accumulated in float64).
	Sum(x []float32) float64

	// Softmax sets each row of dst to softmax (or log-softmax) of x's row.
	Softmax(dst, x []float32, rows, n int, log bool)
	// SoftmaxBackward: dx += J(y)ᵀ·dy for y = softmax (or log-softmax) rows.
	SoftmaxBackward(dx, y, dy []float32, rows, n int, log bool)

	// LayerNorm normalises each row and saves its mean and 1/std.
	LayerNorm(y, mean, rstd, x, gamma, beta []float32, rows, n int, eps float32)
	LayerNormBackward(dx, dgamma, dbeta, dy, x, gamma, mean, rstd []float32, rows, n int)

	// Normalize sets y = x / max(‖x‖₂, eps) per row and saves the norms.
	Normalize(y, norms, x []float32, rows, n int, eps float32)
	NormalizeBackward(dx, dy, y, norms []float32, rows, n int, eps float32)

	// Attention: q is (B, H, Lq, D), k and v (B, H, Lk, D), out (B, H, Lq,
	// D), lse (B, H, Lq) the log-sum-exp of each score row. mask, if not
	// nil, is additive (B, Lq, Lk), shared by the heads; causal hides keys
	// j > i + Lk − Lq. A row with every key hidden gives zeros.
	Attention(out, lse, q, k, v []float32, b, h, lq, lk, d int, scale float32, causal bool, mask []float32)
	AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse []float32, b, h, lq, lk, d int, scale float32, causal bool, mask []float32)

	// Gather copies rows: dst[i] = table[ids[i]], rows of width dim.
	Gather(dst, table []float32, ids []int32, dim int)
	// ScatterAdd adds rows back: dtable[ids[i]] += dy[i].
	ScatterAdd(dtable, dy []float32, ids []int32, dim int)

	// CrossEntropy saves each row's log-sum-exp and returns Σ over rows
	// whose target ≠ ignore of lse − logit[target], and the count of them.
	CrossEntropy(lse, logits []float32, targets []int32, rows, n int, ignore int32) (sum float64, count int)
	// CrossEntropyBackward: dlogits += g·(softmax − onehot) for rows whose
	// target ≠ ignore.
	CrossEntropyBackward(dlogits, logits, lse []float32, targets []int32, rows, n int, ignore int32, g float32)

	// Fill sets every element of dst to v.
	Fill(dst []float32, v float32)
	// SumSquares returns Σ x², accumulated in float64.
	SumSquares(x []float32) float64
	// AdamW applies one AdamW update (see AdamWStep) to the parameter
	// values w with gradient g and moments m and v, all of one length.
	AdamW(w, g, m, v []float32, s AdamWStep)
	// SGD applies one SGD update (see SGDStep) to w with gradient g and
	// momentum buffer buf (nil: no momentum).
	SGD(w, g, buf []float32, s SGDStep)
}

// MapOp names an elementwise function.
type MapOp int

const (
	OpExp       MapOp = iota // e^x
	OpGELU                   // x·Φ(x), exact erf form
	OpQuickGELU              // x·σ(1.702x)
	OpGELUTanh               // tanh approximation of GELU
	OpSigmoid                // 1/(1+e^−x)
	OpTanh                   // tanh x
	OpNeg                    // −x
)

// BinOp names an elementwise binary operation.
type BinOp int

const (
	OpAdd BinOp = iota
	OpSub
	OpMul
	OpDiv
)

var backend Backend = cpuBackend{}

// SetBackend makes b the backend of every op and returns the previous one.
// The backend is process-wide, the one setting of this package that is: a
// process chooses it once, at start-up, before it makes any tensor (a
// device backend allocates tensors in its own memory) and before any
// goroutine runs ops. Tests may switch it between steps, never while a
// graph is recorded or another goroutine runs ops.
func SetBackend(b Backend) Backend {
	old := backend
	backend = b
	setAllocator(b)
	return old
}

// CurrentBackend returns the backend in use.
func CurrentBackend() Backend { return backend }
