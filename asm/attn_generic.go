package asm

// attnGemmGeneric computes the (m, n) tile
//
//	for i < m, j < n: c[i*ldc+j] (+)= Σ_{p<k} a[i*lda+p]·b[p*ldb+j]
//
// accumulating into c when acc is set and overwriting it otherwise.
func attnGemmGeneric(c []float32, ldc int, a []float32, lda int, b []float32, ldb int, m, n, k int, acc bool) {
	for i := range m {
		crow := c[i*ldc : i*ldc+n]
		if !acc {
			clear(crow)
		}
		arow := a[i*lda : i*lda+k]
		for p, av := range arow {
			axpyGeneric(av, b[p*ldb:p*ldb+n], crow)
		}
	}
}
