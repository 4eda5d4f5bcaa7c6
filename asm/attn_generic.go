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

// attnGemmT computes C (m×n) (+)= Aᵀ·B for A stored k×m (row stride ldat):
// attnGemm of the transpose of at. Levels with a kernel for it read at in
// place (the same products in the same order as on the copy); the others
// transpose it into tr (grown as needed and returned) first.
func attnGemmT(l Level, c []float32, ldc int, at []float32, ldat int, b []float32, ldb int, m, n, k int, acc bool, tr []float32) []float32 {
	if attnGemmTArch(l, c, ldc, at, ldat, b, ldb, m, n, k, acc) {
		return tr
	}
	tr = grow(tr, m*k)
	transposeInto(l, tr, k, at, ldat, k, m, nil)
	attnGemm(l, c, ldc, tr, k, b, ldb, m, n, k, acc)
	return tr
}
