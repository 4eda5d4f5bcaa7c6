package asm

// sgemmGeneric is the pure-Go reference for Sgemm (same arguments and
// semantics, single goroutine, no packing). For each row of C it scales the
// row by beta and then, for the NN and TN cases, adds alpha·A(i,p) times row
// p of B (unit-stride inner loop); for NT and TT it takes dot products with
// the rows of the stored B.
func sgemmGeneric(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	for i := 0; i < m; i++ {
		crow := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(crow)
		} else if beta != 1 {
			for j := range crow {
				crow[j] *= beta
			}
		}
		if k == 0 || alpha == 0 {
			continue
		}
		aip := func(p int) float32 {
			if transA {
				return a[p*lda+i]
			}
			return a[i*lda+p]
		}
		if !transB {
			for p := 0; p < k; p++ {
				s := alpha * aip(p)
				brow := b[p*ldb : p*ldb+n]
				for j, v := range brow {
					crow[j] += s * v
				}
			}
			continue
		}
		for j := range crow {
			brow := b[j*ldb : j*ldb+k]
			var s float32
			for p, v := range brow {
				s += aip(p) * v
			}
			crow[j] += alpha * s
		}
	}
}
