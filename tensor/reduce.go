package tensor

import "fmt"

// Sum sums x over the given axes (all axes when none are given). With
// keepDims the reduced axes stay as size 1.
func Sum(x *Tensor, keepDims bool, axes ...int) *Tensor {
	return reduce("Sum", x, keepDims, 1, axes)
}

// Mean averages x over the given axes (all axes when none are given).
func Mean(x *Tensor, keepDims bool, axes ...int) *Tensor {
	return reduce("Mean", x, keepDims, 0, axes)
}

func reduce(op string, x *Tensor, keepDims bool, scale float32, axes []int) *Tensor {
	r := len(x.shape)
	reduced := make([]bool, r)
	if len(axes) == 0 {
		for i := range reduced {
			reduced[i] = true
		}
	}
	for _, a := range axes {
		a = x.axis(op, a)
		if reduced[a] {
			panic(fmt.Sprintf("tensor: %s: axis %d repeated for shape %v", op, a, x.shape))
		}
		reduced[a] = true
	}
	kept := make([]int, r) // x's shape with reduced axes set to 1
	var outShape []int
	count := 1
	for i, d := range x.shape {
		if reduced[i] {
			kept[i] = 1
			count *= d
			if keepDims {
				outShape = append(outShape, 1)
			}
		} else {
			kept[i] = d
			outShape = append(outShape, d)
		}
	}
	if outShape == nil {
		outShape = []int{}
	}
	if scale == 0 { // mean
		scale = 1 / float32(max(count, 1))
	}
	out := newOut(outShape, x)
	zero(out.data)
	sd := broadcastStrides(kept, x.shape)
	cs := contiguousStrides(x.shape)
	backend.Strided(x.shape, out.data, sd, x.data, cs, true)
	if scale != 1 {
		backend.Scale(scale, out.data, out.data)
	}
	if out.requiresGrad {
		out.back = func() {
			g := out.grad
			if scale != 1 {
				tmp := pool.get(len(g))
				backend.Scale(scale, tmp, g)
				backend.Strided(x.shape, x.gradBuf(), cs, tmp, sd, true)
				pool.put(tmp)
				return
			}
			backend.Strided(x.shape, x.gradBuf(), cs, g, sd, true)
		}
	}
	return out
}
