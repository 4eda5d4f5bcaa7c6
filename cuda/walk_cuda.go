//go:build cuda && cgo

package cuda

// maxDims is the rank a kernel's Dims walk holds (MAXD in kernelSource).
const maxDims = 8

// walk is a walk over shape with up to three operands' element strides
// (st[k][i] for operand k and axis i).
type walk struct {
	shape []int64
	st    [3][]int64
}

func newWalk(shape []int, st ...[]int) walk {
	w := walk{shape: make([]int64, len(shape))}
	for i, d := range shape {
		w.shape[i] = int64(d)
	}
	for k := range 3 {
		w.st[k] = make([]int64, len(shape))
		if k < len(st) {
			for i, s := range st[k] {
				w.st[k][i] = int64(s)
			}
		}
	}
	return w
}

func (w *walk) numel() int64 {
	n := int64(1)
	for _, d := range w.shape {
		n *= d
	}
	return n
}

// collapse drops size-1 axes and merges each axis into the next when
// every operand's strides compose (s[i] = s[i+1]·shape[i+1]), which leaves
// the order of the walk and every offset unchanged.
func (w walk) collapse() walk {
	var out walk
	for i, d := range w.shape {
		if d == 1 {
			continue
		}
		if n := len(out.shape); n > 0 {
			merge := true
			for k := range 3 {
				if out.st[k][n-1] != w.st[k][i]*d {
					merge = false
				}
			}
			if merge {
				out.shape[n-1] *= d
				for k := range 3 {
					out.st[k][n-1] = w.st[k][i]
				}
				continue
			}
		}
		out.shape = append(out.shape, d)
		for k := range 3 {
			out.st[k] = append(out.st[k], w.st[k][i])
		}
	}
	return out
}

// split calls fn for each index of the axes before the last maxDims (all
// of them when the rank is at most maxDims) with the inner walk and the
// operands' element offsets of that index.
func (w walk) split(fn func(inner *walk, off [3]int64)) {
	if len(w.shape) <= maxDims {
		fn(&w, [3]int64{})
		return
	}
	lead := len(w.shape) - maxDims
	inner := walk{shape: w.shape[lead:]}
	for k := range 3 {
		inner.st[k] = w.st[k][lead:]
	}
	outer := walk{shape: w.shape[:lead]}
	n := outer.numel()
	for o := int64(0); o < n; o++ {
		var off [3]int64
		r := o
		for i := lead - 1; i >= 0; i-- {
			c := r % w.shape[i]
			r /= w.shape[i]
			for k := range 3 {
				off[k] += c * w.st[k][i]
			}
		}
		fn(&inner, off)
	}
}

// at offsets a device address by off float32 elements.
func at(p uint64, off int64) uint64 {
	if p == 0 {
		return 0
	}
	return p + uint64(4*off)
}
