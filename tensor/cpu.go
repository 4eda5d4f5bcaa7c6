package tensor

import (
	"fmt"
	"math"
)

// cpuBackend runs every kernel on host memory, split across GOMAXPROCS
// goroutines for the large ones.
type cpuBackend struct{}

func (cpuBackend) Name() string { return "cpu" }

func (cpuBackend) Gemm(transA, transB bool, m, n, k int, alpha float32,
	a []float32, lda, strideA int, b []float32, ldb, strideB int,
	beta float32, c []float32, ldc, strideC, batch int) {
	gemm(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch)
}

func (cpuBackend) Map(f MapOp, dst, x []float32) {
	parallelFor(len(x), 16, func(lo, hi int) { mapRange(f, dst[lo:hi], x[lo:hi]) })
}

func mapRange(f MapOp, dst, x []float32) {
	switch f {
	case OpExp:
		for i, v := range x {
			dst[i] = float32(math.Exp(float64(v)))
		}
	case OpGELU:
		for i, v := range x {
			dst[i] = float32(0.5 * float64(v) * (1 + math.Erf(float64(v)/math.Sqrt2)))
		}
	case OpQuickGELU:
		for i, v := range x {
			dst[i] = v * sigmoid32(1.702*v)
		}
	case OpGELUTanh:
		for i, v := range x {
			x := float64(v)
			dst[i] = float32(0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x))))
		}
	case OpSigmoid:
		for i, v := range x {
			dst[i] = sigmoid32(v)
		}
	case OpTanh:
		for i, v := range x {
			dst[i] = float32(math.Tanh(float64(v)))
		}
	case OpNeg:
		for i, v := range x {
			dst[i] = -v
		}
	default:
		panic(fmt.Sprintf("tensor: Map: unknown op %d", f))
	}
}

func sigmoid32(v float32) float32 {
	return float32(1 / (1 + math.Exp(-float64(v))))
}

func (cpuBackend) MapBackward(f MapOp, dx, x, y, dy []float32) {
	parallelFor(len(x), 24, func(lo, hi int) { mapBackRange(f, dx[lo:hi], x[lo:hi], y[lo:hi], dy[lo:hi]) })
}

func mapBackRange(f MapOp, dx, x, y, dy []float32) {
	const invSqrt2Pi = 0.3989422804014327
	switch f {
	case OpExp:
		for i := range dx {
			dx[i] += dy[i] * y[i]
		}
	case OpGELU:
		for i, v := range x {
			x := float64(v)
			cdf := 0.5 * (1 + math.Erf(x/math.Sqrt2))
			pdf := invSqrt2Pi * math.Exp(-0.5*x*x)
			dx[i] += dy[i] * float32(cdf+x*pdf)
		}
	case OpQuickGELU:
		for i, v := range x {
			s := float64(sigmoid32(1.702 * v))
			x := float64(v)
			dx[i] += dy[i] * float32(s+1.702*x*s*(1-s))
		}
	case OpGELUTanh:
		const c = 0.7978845608028654 // sqrt(2/pi)
		for i, v := range x {
			x := float64(v)
			u := c * (x + 0.044715*x*x*x)
			t := math.Tanh(u)
			du := c * (1 + 3*0.044715*x*x)
			dx[i] += dy[i] * float32(0.5*(1+t)+0.5*x*(1-t*t)*du)
		}
	case OpSigmoid:
		for i := range dx {
			dx[i] += dy[i] * y[i] * (1 - y[i])
		}
	case OpTanh:
		for i := range dx {
			dx[i] += dy[i] * (1 - y[i]*y[i])
		}
	case OpNeg:
		for i := range dx {
			dx[i] -= dy[i]
		}
	default:
		panic(fmt.Sprintf("tensor: MapBackward: unknown op %d", f))
	}
}

func (cpuBackend) Binary(op BinOp, shape []int, dst, a []float32, sa []int, b []float32, sb []int) {
	n := len(shape)
	if n == 0 {
		dst[0] = binScalar(op, a[0], b[0])
		return
	}
	inner := shape[n-1]
	outer := len(dst) / max(inner, 1)
	if inner == 0 || outer == 0 {
		return
	}
	parallelFor(outer, inner, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			ao, bo := offsets(shape[:n-1], o, sa, sb)
			binRow(op, dst[o*inner:(o+1)*inner], a, ao, sa[n-1], b, bo, sb[n-1])
		}
	})
}

// offsets returns the element offsets of a and b for outer index o over
// shape (the axes before the last).
func offsets(shape []int, o int, sa, sb []int) (ao, bo int) {
	for i := len(shape) - 1; i >= 0; i-- {
		d := shape[i]
		c := o % d
		o /= d
		ao += c * sa[i]
		bo += c * sb[i]
	}
	return
}

func binScalar(op BinOp, x, y float32) float32 {
	switch op {
	case OpAdd:
		return x + y
	case OpSub:
		return x - y
	case OpMul:
		return x * y
	case OpDiv:
		return x / y
	}
	panic(fmt.Sprintf("tensor: Binary: unknown op %d", op))
}

func binRow(op BinOp, dst, a []float32, ao, as int, b []float32, bo, bs int) {
	n := len(dst)
	switch {
	case as == 1 && bs == 1:
		a, b := a[ao:ao+n], b[bo:bo+n]
		switch op {
		case OpAdd:
			for i := range dst {
				dst[i] = a[i] + b[i]
			}
		case OpSub:
			for i := range dst {
				dst[i] = a[i] - b[i]
			}
		case OpMul:
			for i := range dst {
				dst[i] = a[i] * b[i]
			}
		case OpDiv:
			for i := range dst {
				dst[i] = a[i] / b[i]
			}
		}
	default:
		for i := range dst {
			dst[i] = binScalar(op, a[ao+i*as], b[bo+i*bs])
		}
	}
}

func (cpuBackend) Strided(shape []int, dst []float32, sd []int, src []float32, ss []int, accumulate bool) {
	n := len(shape)
	if n == 0 {
		if accumulate {
			dst[0] += src[0]
		} else {
			dst[0] = src[0]
		}
		return
	}
	total := numel(shape)
	inner := shape[n-1]
	if total == 0 {
		return
	}
	outer := total / inner
	di, si := sd[n-1], ss[n-1]
	rowFn := func(o int) {
		do, so := offsets(shape[:n-1], o, sd, ss)
		if accumulate {
			if di == 0 {
				var s float32
				for i := 0; i < inner; i++ {
					s += src[so+i*si]
				}
				dst[do] += s
				return
			}
			for i := 0; i < inner; i++ {
				dst[do+i*di] += src[so+i*si]
			}
			return
		}
		if di == 1 && si == 1 {
			copy(dst[do:do+inner], src[so:so+inner])
			return
		}
		for i := 0; i < inner; i++ {
			dst[do+i*di] = src[so+i*si]
		}
	}
	// Parallel only when no two outer rows write the same destination.
	if !accumulate || !hasZero(sd) {
		parallelFor(outer, inner, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				rowFn(o)
			}
		})
		return
	}
	for o := 0; o < outer; o++ {
		rowFn(o)
	}
}

func hasZero(s []int) bool {
	for _, v := range s {
		if v == 0 {
			return true
		}
	}
	return false
}

func (cpuBackend) Axpy(alpha float32, x, y []float32) {
	parallelFor(len(x), 2, func(lo, hi int) {
		y := y[lo:hi]
		for i, v := range x[lo:hi] {
			y[i] += alpha * v
		}
	})
}

func (cpuBackend) Scale(alpha float32, dst, x []float32) {
	for i, v := range x {
		dst[i] = alpha * v
	}
}

func (cpuBackend) Sum(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	return s
}

func (cpuBackend) Softmax(dst, x []float32, rows, n int, log bool) {
	parallelFor(rows, 4*n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			softmaxRow(dst[r*n:(r+1)*n], x[r*n:(r+1)*n], log)
		}
	})
}

func softmaxRow(y, x []float32, log bool) {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	if math.IsInf(float64(m), -1) { // every entry masked
		for i := range y {
			if log {
				y[i] = float32(math.Inf(-1))
			} else {
				y[i] = 0
			}
		}
		return
	}
	var s float64
	for i, v := range x {
		e := math.Exp(float64(v - m))
		s += e
		if !log {
			y[i] = float32(e)
		}
	}
	if log {
		ls := float32(math.Log(s))
		for i, v := range x {
			y[i] = v - m - ls
		}
		return
	}
	inv := float32(1 / s)
	for i := range y {
		y[i] *= inv
	}
}

func (cpuBackend) SoftmaxBackward(dx, y, dy []float32, rows, n int, log bool) {
	parallelFor(rows, 4*n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			y, dy, dx := y[r*n:(r+1)*n], dy[r*n:(r+1)*n], dx[r*n:(r+1)*n]
			if log {
				var s float64
				for _, g := range dy {
					s += float64(g)
				}
				for i := range dx {
					dx[i] += dy[i] - float32(math.Exp(float64(y[i]))*s)
				}
				continue
			}
			var d float64
			for i := range y {
				d += float64(y[i]) * float64(dy[i])
			}
			for i := range dx {
				dx[i] += y[i] * (dy[i] - float32(d))
			}
		}
	})
}

func (cpuBackend) LayerNorm(y, mean, rstd, x, gamma, beta []float32, rows, n int, eps float32) {
	parallelFor(rows, 8*n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			x, y := x[r*n:(r+1)*n], y[r*n:(r+1)*n]
			var s float64
			for _, v := range x {
				s += float64(v)
			}
			mu := s / float64(n)
			var ss float64
			for _, v := range x {
				d := float64(v) - mu
				ss += d * d
			}
			rs := 1 / math.Sqrt(ss/float64(n)+float64(eps))
			mean[r], rstd[r] = float32(mu), float32(rs)
			m32, r32 := float32(mu), float32(rs)
			for i, v := range x {
				y[i] = (v-m32)*r32*gamma[i] + beta[i]
			}
		}
	})
}

func (cpuBackend) LayerNormBackward(dx, dgamma, dbeta, dy, x, gamma, mean, rstd []float32, rows, n int) {
	// dgamma/dbeta are reductions over rows: each worker sums into its own
	// scratch, then the partial sums are added in a fixed order.
	parts := splitCount(rows, 8*n)
	scratch := pool.getZero(2 * n * parts)
	parallelChunks(rows, parts, func(w, lo, hi int) {
		dg, db := scratch[2*n*w:2*n*w+n], scratch[2*n*w+n:2*n*(w+1)]
		for r := lo; r < hi; r++ {
			x, dy := x[r*n:(r+1)*n], dy[r*n:(r+1)*n]
			mu, rs := mean[r], rstd[r]
			var sumG, sumGX float64
			for i := range x {
				xh := (x[i] - mu) * rs
				g := dy[i] * gamma[i]
				sumG += float64(g)
				sumGX += float64(g * xh)
				dg[i] += dy[i] * xh
				db[i] += dy[i]
			}
			if dx == nil {
				continue
			}
			dx := dx[r*n : (r+1)*n]
			mg, mgx := float32(sumG/float64(n)), float32(sumGX/float64(n))
			for i := range x {
				xh := (x[i] - mu) * rs
				dx[i] += rs * (dy[i]*gamma[i] - mg - xh*mgx)
			}
		}
	})
	for w := 0; w < parts; w++ {
		dg, db := scratch[2*n*w:2*n*w+n], scratch[2*n*w+n:2*n*(w+1)]
		if dgamma != nil {
			for i := range dg {
				dgamma[i] += dg[i]
			}
		}
		if dbeta != nil {
			for i := range db {
				dbeta[i] += db[i]
			}
		}
	}
	pool.put(scratch)
}

func (cpuBackend) Normalize(y, norms, x []float32, rows, n int, eps float32) {
	for r := 0; r < rows; r++ {
		x, y := x[r*n:(r+1)*n], y[r*n:(r+1)*n]
		var s float64
		for _, v := range x {
			s += float64(v) * float64(v)
		}
		nrm := math.Sqrt(s)
		norms[r] = float32(nrm)
		d := float32(math.Max(nrm, float64(eps)))
		for i, v := range x {
			y[i] = v / d
		}
	}
}

func (cpuBackend) NormalizeBackward(dx, dy, y, norms []float32, rows, n int, eps float32) {
	for r := 0; r < rows; r++ {
		dy, y, dx := dy[r*n:(r+1)*n], y[r*n:(r+1)*n], dx[r*n:(r+1)*n]
		nrm := norms[r]
		if nrm <= eps { // y = x/eps: linear
			for i := range dx {
				dx[i] += dy[i] / eps
			}
			continue
		}
		var d float64
		for i := range y {
			d += float64(y[i]) * float64(dy[i])
		}
		for i := range dx {
			dx[i] += (dy[i] - y[i]*float32(d)) / nrm
		}
	}
}

func (cpuBackend) Gather(dst, table []float32, ids []int32, dim int) {
	for i, id := range ids {
		copy(dst[i*dim:(i+1)*dim], table[int(id)*dim:int(id+1)*dim])
	}
}

func (cpuBackend) ScatterAdd(dtable, dy []float32, ids []int32, dim int) {
	for i, id := range ids {
		row := dtable[int(id)*dim : int(id+1)*dim]
		for j, g := range dy[i*dim : (i+1)*dim] {
			row[j] += g
		}
	}
}

func (cpuBackend) CrossEntropy(lse, logits []float32, targets []int32, rows, n int, ignore int32) (float64, int) {
	parallelFor(rows, 4*n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			x := logits[r*n : (r+1)*n]
			m := float32(math.Inf(-1))
			for _, v := range x {
				if v > m {
					m = v
				}
			}
			var s float64
			for _, v := range x {
				s += math.Exp(float64(v - m))
			}
			lse[r] = m + float32(math.Log(s))
		}
	})
	var sum float64
	count := 0
	for r, t := range targets {
		if t == ignore {
			continue
		}
		sum += float64(lse[r]) - float64(logits[r*n+int(t)])
		count++
	}
	return sum, count
}

func (cpuBackend) CrossEntropyBackward(dlogits, logits, lse []float32, targets []int32, rows, n int, ignore int32, g float32) {
	parallelFor(rows, 4*n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			t := targets[r]
			if t == ignore {
				continue
			}
			x, d := logits[r*n:(r+1)*n], dlogits[r*n:(r+1)*n]
			l := lse[r]
			for i, v := range x {
				d[i] += g * float32(math.Exp(float64(v-l)))
			}
			d[t] -= g
		}
	})
}

// splitCount picks how many workers a row loop of the given per-row cost
// should use.
func splitCount(rows, cost int) int {
	p := maxProcs()
	if rows*cost < 1<<16 || p < 2 {
		return 1
	}
	return min(p, rows)
}

// parallelChunks runs fn(w, lo, hi) for parts contiguous chunks of [0, n).
func parallelChunks(n, parts int, fn func(w, lo, hi int)) {
	if parts <= 1 {
		fn(0, 0, n)
		return
	}
	done := make(chan struct{}, parts)
	for w := 1; w < parts; w++ {
		go func(w int) {
			fn(w, w*n/parts, (w+1)*n/parts)
			done <- struct{}{}
		}(w)
	}
	fn(0, 0, n/parts)
	for w := 1; w < parts; w++ {
		<-done
	}
}
