package tensor

import "fmt"

// contiguousStrides returns row-major element strides for shape.
func contiguousStrides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// broadcastStrides returns in's strides aligned to out's rank, 0 on the axes
// that in broadcasts.
func broadcastStrides(in, out []int) []int {
	s := make([]int, len(out))
	cs := contiguousStrides(in)
	off := len(out) - len(in)
	for i := range in {
		if in[i] != 1 || out[off+i] == 1 {
			s[off+i] = cs[i]
		}
	}
	return s
}

// broadcastShape applies NumPy's broadcasting rules.
func broadcastShape(op string, a, b []int) []int {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := i - (n - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (n - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			panic(fmt.Sprintf("tensor: %s: shapes %v and %v do not broadcast", op, a, b))
		}
	}
	return out
}

var binNames = [...]string{OpAdd: "Add", OpSub: "Sub", OpMul: "Mul", OpDiv: "Div"}

func binary(op BinOp, a, b *Tensor) *Tensor {
	name := binNames[op]
	shape := broadcastShape(name, a.shape, b.shape)
	sa, sb := broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape)
	var out *Tensor
	if op == OpAdd || op == OpSub {
		// The gradient passes without a or b's values: they are recorded
		// without being held, so that a caller's Drop hands them back at
		// once (a block's residual branches), for the next op to reuse
		// while still in cache.
		out = newOutFree(shape, a, b)
	} else {
		out = newOut(shape, a, b)
	}
	backend.Binary(op, shape, out.data, a.data, sa, b.data, sb)
	if !out.requiresGrad {
		return out
	}
	if op == OpDiv {
		readsOwnValues(out) // d(a/b)/db = −out/b
	}
	out.back = func() {
		dy := out.grad
		cs := contiguousStrides(shape)
		// An input without broadcast axes receives a gradient of out's
		// shape: its first contribution is stored (or, for a sum, handed
		// over without a copy) instead of added to zeros.
		fa, fb := sameShape(a.shape, shape), sameShape(b.shape, shape)
		switch op {
		case OpAdd, OpSub:
			if a.requiresGrad {
				switch {
				case fa && a.takeGrad(out):
					dy = a.grad // the values, for b
				case fa:
					g, fresh := a.gradDst()
					backend.Strided(shape, g, sa, dy, cs, !fresh)
				default:
					backend.Strided(shape, a.gradBuf(), sa, dy, cs, true)
				}
			}
			if b.requiresGrad {
				switch {
				case op == OpAdd && fb && b.takeGrad(out):
				case op == OpAdd && fb:
					g, fresh := b.gradDst()
					backend.Strided(shape, g, sb, dy, cs, !fresh)
				case op == OpAdd:
					backend.Strided(shape, b.gradBuf(), sb, dy, cs, true)
				default:
					if fb {
						if g, fresh := b.gradDst(); fresh {
							backend.Map(OpNeg, g, dy)
							break
						}
					}
					tmp := pool.get(len(dy))
					backend.Map(OpNeg, tmp, dy)
					backend.Strided(shape, b.gradBuf(), sb, tmp, cs, true)
					pool.put(tmp)
				}
			}
		case OpMul:
			// into stores f(dst) in x's gradient: directly when it is fresh,
			// else through a scratch buffer that is added.
			into := func(x *Tensor, full bool, sx []int, f func(dst []float32)) {
				if full {
					if g, fresh := x.gradDst(); fresh {
						f(g)
						return
					}
				}
				tmp := pool.get(len(dy))
				f(tmp)
				backend.Strided(shape, x.gradBuf(), sx, tmp, cs, true)
				pool.put(tmp)
			}
			if a.requiresGrad {
				into(a, fa, sa, func(dst []float32) { backend.Binary(OpMul, shape, dst, dy, cs, b.data, sb) })
			}
			if b.requiresGrad {
				into(b, fb, sb, func(dst []float32) { backend.Binary(OpMul, shape, dst, dy, cs, a.data, sa) })
			}
		case OpDiv:
			tmp := pool.get(len(dy))
			if a.requiresGrad {
				backend.Binary(OpDiv, shape, tmp, dy, cs, b.data, sb)
				backend.Strided(shape, a.gradBuf(), sa, tmp, cs, true)
			}
			if b.requiresGrad {
				// d(a/b)/db = −(a/b)/b = −out/b
				backend.Binary(OpDiv, shape, tmp, out.data, cs, b.data, sb)
				backend.Binary(OpMul, shape, tmp, tmp, cs, dy, cs)
				backend.Map(OpNeg, tmp, tmp)
				backend.Strided(shape, b.gradBuf(), sb, tmp, cs, true)
			}
			pool.put(tmp)
		}
	}
	return out
}

// Add returns a + b with broadcasting.
func Add(a, b *Tensor) *Tensor { return binary(OpAdd, a, b) }

// Sub returns a − b with broadcasting.
func Sub(a, b *Tensor) *Tensor { return binary(OpSub, a, b) }

// Mul returns a·b elementwise with broadcasting.
func Mul(a, b *Tensor) *Tensor { return binary(OpMul, a, b) }

// Div returns a/b elementwise with broadcasting.
func Div(a, b *Tensor) *Tensor { return binary(OpDiv, a, b) }

// Scale returns s·x.
func Scale(x *Tensor, s float32) *Tensor {
	out := newOut(cloneInts(x.shape), x)
	backend.Scale(s, out.data, x.data)
	if out.requiresGrad {
		out.back = func() { backend.Axpy(s, out.grad, x.gradBuf()) }
	}
	return out
}

func mapOp(f MapOp, x *Tensor) *Tensor {
	if md, ok := backend.(MapDeriver); ok && md.MapDerives(f) {
		// The backward multiplies by the kept derivative: x's values are
		// not read again.
		out := newOutFree(cloneInts(x.shape), x)
		if out.requiresGrad {
			mapDeriv(md, f, out, x, x.data)
		} else {
			backend.Map(f, out.data, x.data)
		}
		return out
	}
	out := newOut(cloneInts(x.shape), x)
	backend.Map(f, out.data, x.data)
	if out.requiresGrad {
		readsOwnValues(out)
		out.back = func() {
			if ms, ok := backend.(MapBackwardStorer); ok {
				if g, fresh := x.gradDst(); fresh {
					ms.MapBackwardStore(f, g, x.data, out.data, out.grad)
					return
				}
			}
			backend.MapBackward(f, x.gradBuf(), x.data, out.data, out.grad)
		}
	}
	return out
}

// MapBackwardStorer is an optional extension of Backend: MapBackward that
// stores dx = dy·f'(x) instead of adding it, for a gradient's first
// contribution (which then needs no zeroed buffer).
type MapBackwardStorer interface {
	MapBackwardStore(f MapOp, dx, x, y, dy []float32)
}

// MapDeriver is an optional extension of Backend for the maps whose
// derivative shares most of its work with their value (OpGELU: Φ and the
// exponential): a recorded forward pass stores f'(x) beside f(x), at the
// cost of a buffer of x's size held until Release, and the backward pass
// is then a multiply. Results are those of Map and MapBackward, bit for
// bit.
type MapDeriver interface {
	// MapDerives reports whether MapDeriv takes f.
	MapDerives(f MapOp) bool
	// MapDeriv stores f(x) in dst and f'(x) in deriv, for an f that
	// MapDerives takes; dst may be x itself.
	MapDeriv(f MapOp, dst, deriv, x []float32)
	// MulDeriv stores dx = deriv·dy, or with accumulate adds that product
	// (rounded first) to dx. Without accumulate, dy may be dx itself.
	MulDeriv(dx, deriv, dy []float32, accumulate bool)
}

// mapDeriv runs out = f(x) through the backend's MapDeriver on x's
// values xv (x.data, or out.data itself for GELUInPlace), keeping the
// derivative for the backward pass.
func mapDeriv(md MapDeriver, f MapOp, out, x *Tensor, xv []float32) {
	deriv := pool.get(len(out.data))
	md.MapDeriv(f, out.data, deriv, xv)
	out.keep(deriv)
	out.back = func() {
		if x.takeGrad(out) {
			// x's gradient is the product alone, and out's gradient
			// buffer, still in cache from the op that wrote it, takes
			// it in place: no buffer from memory to fill.
			md.MulDeriv(x.grad, deriv, x.grad, false)
			return
		}
		g, fresh := x.gradDst()
		md.MulDeriv(g, deriv, out.grad, !fresh)
	}
}

// Exp returns eˣ elementwise.
func Exp(x *Tensor) *Tensor { return mapOp(OpExp, x) }

// GELU returns x·Φ(x) with the exact erf form (PyTorch's default GELU).
// When it is recorded for autograd, a backend with MapDeriver (the CPU's)
// keeps the derivative from the forward pass (one more buffer of x's size
// until Release) and the backward pass multiplies by it.
func GELU(x *Tensor) *Tensor { return mapOp(OpGELU, x) }

// GELUInPlace is GELU(x) followed by Drop(x), with the same values and
// gradients bit for bit, for a caller that is done with x: where the
// backend keeps GELU's derivative (the CPU's) and x is a recorded
// intermediate that no op holds for its backward (not a view), the result
// takes x's buffer, still in cache from the op that wrote it, instead of a
// fresh one (an MLP's pre-activation). x must not be used again.
func GELUInPlace(x *Tensor) *Tensor {
	md, ok := backend.(MapDeriver)
	if !ok || !md.MapDerives(OpGELU) || !x.requiresGrad || !x.pooled || x.base != nil || x.held() {
		out := GELU(x)
		Drop(x)
		return out
	}
	// newOutFree without its buffer: the output takes x's.
	in := []*Tensor{x}
	checkInputs(in)
	out := newOutRecord(cloneInts(x.shape), 0, in, false)
	markFree(x)
	out.data, x.data, x.dropped = x.data, nil, true
	mapDeriv(md, OpGELU, out, x, out.data) // in place: GeluDeriv's dst may alias x
	return out
}

// QuickGELU returns x·σ(1.702·x) (OpenAI CLIP's activation).
func QuickGELU(x *Tensor) *Tensor { return mapOp(OpQuickGELU, x) }

// GELUTanh returns the tanh approximation of GELU.
func GELUTanh(x *Tensor) *Tensor { return mapOp(OpGELUTanh, x) }

// Sigmoid returns 1/(1+e^−x) elementwise.
func Sigmoid(x *Tensor) *Tensor { return mapOp(OpSigmoid, x) }

// Tanh returns tanh x elementwise.
func Tanh(x *Tensor) *Tensor { return mapOp(OpTanh, x) }

// Neg returns −x.
func Neg(x *Tensor) *Tensor { return mapOp(OpNeg, x) }
