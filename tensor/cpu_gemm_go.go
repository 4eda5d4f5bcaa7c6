package tensor

// sgemmStrided is a plain blocked GEMM, parallel over the batch and rows of C.
func sgemmStrided(transA, transB bool, m, n, k int, alpha float32,
	a []float32, lda, strideA int, b []float32, ldb, strideB int,
	beta float32, c []float32, ldc, strideC, batch int) {
	parallelFor(batch*m, 2*n*k+1, func(lo, hi int) {
		row := pool.get(k)
		defer pool.put(row)
		for idx := lo; idx < hi; idx++ {
			bi, i := idx/m, idx%m
			ab, bb, cb := a[bi*strideA:], b[bi*strideB:], c[bi*strideC:]
			for p := 0; p < k; p++ {
				if transA {
					row[p] = ab[p*lda+i]
				} else {
					row[p] = ab[i*lda+p]
				}
			}
			crow := cb[i*ldc : i*ldc+n]
			if beta == 0 {
				clear(crow)
			} else if beta != 1 {
				for j := range crow {
					crow[j] *= beta
				}
			}
			if transB {
				for j := range crow {
					bj := bb[j*ldb : j*ldb+k]
					var s float32
					for p, v := range row {
						s += v * bj[p]
					}
					crow[j] += alpha * s
				}
				continue
			}
			for p, v := range row {
				av := alpha * v
				if av == 0 {
					continue
				}
				bp := bb[p*ldb : p*ldb+n]
				for j := range crow {
					crow[j] += av * bp[j]
				}
			}
		}
	})
}
