package tensor

import "fmt"

// Reshape returns a view of x with a new shape of the same size; one
// dimension may be −1 and is inferred. The view shares x's buffer and
// gradient.
func Reshape(x *Tensor, shape ...int) *Tensor {
	x.live("Reshape")
	shape = cloneInts(shape)
	n, infer := 1, -1
	for i, d := range shape {
		if d == -1 {
			if infer >= 0 {
				panic(fmt.Sprintf("tensor: Reshape: more than one -1 in %v", shape))
			}
			infer = i
			continue
		}
		if d < 0 {
			panic(fmt.Sprintf("tensor: Reshape: bad shape %v", shape))
		}
		n *= d
	}
	total := x.Numel()
	if infer >= 0 && n != 0 {
		shape[infer] = total / n
		n *= shape[infer]
	}
	if n != total {
		panic(fmt.Sprintf("tensor: Reshape: cannot view shape %v as %v", x.shape, shape))
	}
	return view(x, shape, 0)
}

// view returns a tensor of the given shape over x's buffers from element
// off. Its gradient aliases x's, so backward has nothing to do for it.
// Views of x made in one goroutine may be used by others: x is not
// written.
func view(x *Tensor, shape []int, off int) *Tensor {
	base, boff := x, off
	if x.base != nil {
		base, boff = x.base, x.off+off
	}
	n := numel(shape)
	out := &Tensor{shape: shape, base: base, off: boff, pooled: x.pooled, prec: x.prec}
	if x.half != nil {
		if x.halfT && (off != 0 || !sameShape(shape, x.shape)) {
			panic(fmt.Sprintf("tensor: view of %s: stored transposed, it has no row views", x.describe()))
		}
		out.half, out.halfT = x.half[off:off+n:off+n], x.halfT
	} else if x.q8 != nil {
		// Whole stored rows only: each keeps its scale.
		if x.halfT {
			if off != 0 || !sameShape(shape, x.shape) {
				panic(fmt.Sprintf("tensor: view of %s: stored transposed, it has no row views", x.describe()))
			}
			out.q8, out.q8Scale, out.halfT = x.q8, x.q8Scale, true
		} else if len(x.q8) == 0 && len(shape) > 0 && numel(shape[:len(shape)-1]) <= len(x.q8Scale) {
			// Rows of no values: every scale is 0, any of them will do.
			out.q8, out.q8Scale = x.q8, x.q8Scale[:numel(shape[:len(shape)-1])]
		} else {
			c := len(x.q8) / max(len(x.q8Scale), 1)
			if c == 0 || off%c != 0 || n%c != 0 || len(shape) == 0 || shape[len(shape)-1] != c {
				panic(fmt.Sprintf("tensor: view of %s: an int8 tensor has views of whole rows only (offset %d, shape %v)", x.describe(), off, shape))
			}
			out.q8, out.q8Scale = x.q8[off:off+n:off+n], x.q8Scale[off/c:(off+n)/c:(off+n)/c]
		}
	} else {
		out.data = x.data[off : off+n : off+n]
	}
	if s := ScopeOf(x); s != nil {
		out.scope = s
		return out
	}
	// Outside a scope a view always links to x, so that Release of a graph
	// through the view reaches x's buffer even when no gradient flows.
	out.requiresGrad = x.requiresGrad
	out.inputs = []*Tensor{x}
	return out
}

// Rows returns x[start:end] along the first axis as a view sharing x's
// buffer and gradient (no copy).
func Rows(x *Tensor, start, end int) *Tensor {
	x.live("Rows")
	if len(x.shape) == 0 || start < 0 || end > x.shape[0] || start > end {
		panic(fmt.Sprintf("tensor: Rows: [%d:%d] out of range for shape %v", start, end, x.shape))
	}
	shape := cloneInts(x.shape)
	shape[0] = end - start
	inner := numel(x.shape[1:])
	return view(x, shape, start*inner)
}

// Expand broadcasts x to shape (NumPy rules) as a copy; backward sums the
// gradient over the broadcast axes.
func Expand(x *Tensor, shape ...int) *Tensor {
	shape = cloneInts(shape)
	if !sameShape(broadcastShape("Expand", x.shape, shape), shape) {
		panic(fmt.Sprintf("tensor: Expand: cannot expand %v to %v", x.shape, shape))
	}
	out := newOut(shape, x)
	sx, cs := broadcastStrides(x.shape, shape), contiguousStrides(shape)
	backend.Strided(shape, out.data, cs, x.data, sx, false)
	if out.requiresGrad {
		out.back = func() { backend.Strided(shape, x.gradBuf(), sx, out.grad, cs, true) }
	}
	return out
}

// Permute reorders the axes of x: out axis i is x axis perm[i]. It copies.
func Permute(x *Tensor, perm ...int) *Tensor {
	r := len(x.shape)
	if len(perm) != r {
		panic(fmt.Sprintf("tensor: Permute: perm %v for shape %v", perm, x.shape))
	}
	seen := make([]bool, r)
	shape := make([]int, r)
	xs := contiguousStrides(x.shape)
	ss := make([]int, r) // source strides in out order
	for i, p := range perm {
		if p < 0 {
			p += r
		}
		if p < 0 || p >= r || seen[p] {
			panic(fmt.Sprintf("tensor: Permute: bad perm %v for shape %v", perm, x.shape))
		}
		seen[p] = true
		shape[i] = x.shape[p]
		ss[i] = xs[p]
	}
	out := newOut(shape, x)
	cs := contiguousStrides(shape)
	backend.Strided(shape, out.data, cs, x.data, ss, false)
	if out.requiresGrad {
		out.back = func() { backend.Strided(shape, x.gradBuf(), ss, out.grad, cs, true) }
	}
	return out
}

// Transpose swaps axes i and j (a copy).
func Transpose(x *Tensor, i, j int) *Tensor {
	perm := make([]int, len(x.shape))
	for k := range perm {
		perm[k] = k
	}
	i, j = x.axis("Transpose", i), x.axis("Transpose", j)
	perm[i], perm[j] = perm[j], perm[i]
	return Permute(x, perm...)
}

// Slice returns x[..., start:end, ...] along axis (a copy).
func Slice(x *Tensor, axis, start, end int) *Tensor {
	axis = x.axis("Slice", axis)
	d := x.shape[axis]
	if start < 0 || end > d || start > end {
		panic(fmt.Sprintf("tensor: Slice: [%d:%d] out of range on axis %d of shape %v", start, end, axis, x.shape))
	}
	shape := cloneInts(x.shape)
	shape[axis] = end - start
	out := newOut(shape, x)
	outer, inner := splitAt(x.shape, axis)
	copyBlocks(out.data, x.data, outer, (end-start)*inner, d*inner, start*inner, false)
	if out.requiresGrad {
		out.back = func() {
			addSmallToBig(x.gradBuf(), out.grad, outer, (end-start)*inner, d*inner, start*inner)
		}
	}
	return out
}

// Split cuts x along axis into pieces of the given sizes.
func Split(x *Tensor, axis int, sizes ...int) []*Tensor {
	axis = x.axis("Split", axis)
	total := 0
	for _, s := range sizes {
		total += s
	}
	if total != x.shape[axis] {
		panic(fmt.Sprintf("tensor: Split: sizes %v do not add up to axis %d of shape %v", sizes, axis, x.shape))
	}
	outs := make([]*Tensor, len(sizes))
	at := 0
	for i, s := range sizes {
		outs[i] = Slice(x, axis, at, at+s)
		at += s
	}
	return outs
}

// Concat joins tensors along axis; all other axes must agree.
func Concat(axis int, xs ...*Tensor) *Tensor {
	if len(xs) == 0 {
		panic("tensor: Concat: no tensors")
	}
	axis = xs[0].axis("Concat", axis)
	shape := cloneInts(xs[0].shape)
	shape[axis] = 0
	for _, x := range xs {
		if len(x.shape) != len(shape) {
			panic(fmt.Sprintf("tensor: Concat: shapes %v and %v differ in rank", xs[0].shape, x.shape))
		}
		for i, d := range x.shape {
			if i != axis && d != shape[i] {
				panic(fmt.Sprintf("tensor: Concat: shapes %v and %v differ off axis %d", xs[0].shape, x.shape, axis))
			}
		}
		shape[axis] += x.shape[axis]
	}
	out := newOut(shape, xs...)
	outer, inner := splitAt(shape, axis)
	rowOut := shape[axis] * inner
	at := 0
	offs := make([]int, len(xs))
	for i, x := range xs {
		offs[i] = at
		w := x.shape[axis] * inner
		copyBlocks(out.data, x.data, outer, w, rowOut, at, true)
		at += w
	}
	if out.requiresGrad {
		out.back = func() {
			for i, x := range xs {
				if x.requiresGrad {
					addBigToSmall(x.gradBuf(), out.grad, outer, x.shape[axis]*inner, rowOut, offs[i])
				}
			}
		}
	}
	return out
}

// splitAt returns the product of the dims before axis and after it.
func splitAt(shape []int, axis int) (outer, inner int) {
	outer, inner = 1, 1
	for i, d := range shape {
		if i < axis {
			outer *= d
		} else if i > axis {
			inner *= d
		}
	}
	return
}

// copyBlocks copies outer blocks of w values between a small buffer (rows
// of w) and a big one (rows of rowBig, at offset off in each row). scatter
// false copies big→small (dst small), true copies small→big (dst big).
func copyBlocks(dst, src []float32, outer, w, rowBig, off int, scatter bool) {
	if scatter && deviceBlocks(dst, src, outer, w, rowBig, off, w, 0, false) ||
		!scatter && deviceBlocks(dst, src, outer, w, w, 0, rowBig, off, false) {
		return
	}
	for o := 0; o < outer; o++ {
		if scatter {
			copy(dst[o*rowBig+off:o*rowBig+off+w], src[o*w:(o+1)*w])
		} else {
			copy(dst[o*w:(o+1)*w], src[o*rowBig+off:o*rowBig+off+w])
		}
	}
}

// addSmallToBig adds outer rows of w values from small into big's rows of
// rowBig at offset off (Slice backward).
func addSmallToBig(big, small []float32, outer, w, rowBig, off int) {
	if deviceBlocks(big, small, outer, w, rowBig, off, w, 0, true) {
		return
	}
	for o := 0; o < outer; o++ {
		d := big[o*rowBig+off : o*rowBig+off+w]
		for i, v := range small[o*w : (o+1)*w] {
			d[i] += v
		}
	}
}

// addBigToSmall adds the w values at offset off of each of big's rows into
// small's rows (Concat backward).
func addBigToSmall(small, big []float32, outer, w, rowBig, off int) {
	if deviceBlocks(small, big, outer, w, w, 0, rowBig, off, true) {
		return
	}
	for o := 0; o < outer; o++ {
		d := small[o*w : (o+1)*w]
		for i, v := range big[o*rowBig+off : o*rowBig+off+w] {
			d[i] += v
		}
	}
}
