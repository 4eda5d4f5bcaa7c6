//go:build !purego

package asm

// sgemmSmallTNEON and sgemmSmallNNEON are smallKernel.dotT and axpyN for
// NEON (sgemm_small_arm64.s); accum is 0 or 1, k ≥ 1. sgemmSmallTNEON
// sums only the first k&^3 products of each dot product.
//
//go:noescape
func sgemmSmallTNEON(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, m, n, k, accum int)

//go:noescape
func sgemmSmallNNEON(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, m, n, k, accum int)

func accumFlag(b bool) int {
	if b {
		return 1
	}
	return 0
}

var neonSmall = &smallKernel{
	name: "neon",
	dotT: func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int, m, n, k int, accum bool) {
		sgemmSmallTNEON(&a[0], lda, &b[0], ldb, &c[0], ldc, m, n, k, accumFlag(accum))
		if k4 := k &^ 3; k4 < k {
			// The last k mod 4 products of each dot product.
			for j := 0; j < n; j++ {
				bt := b[j*ldb+k4 : j*ldb+k]
				for i := 0; i < m; i++ {
					c[i*ldc+j] += dotGeneric(a[i*lda+k4:i*lda+k], bt)
				}
			}
		}
	},
	axpyN: func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int, m, n, k int, accum bool) {
		sgemmSmallNNEON(&a[0], lda, &b[0], ldb, &c[0], ldc, m, n, k, accumFlag(accum))
	},
}

func archSmallKernel(l Level) *smallKernel {
	if l == NEON {
		return neonSmall
	}
	return nil
}
