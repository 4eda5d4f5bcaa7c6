package asm

import (
	"fmt"
	"unsafe"
)

// SgemmBF16StoredT computes C = A·Sᵀ + beta·C (beta 0 or 1) for A (m×k,
// lda apart) and S (n×k) stored in bfloat16 (row-major, lds values apart:
// a weight matrix that keeps only its bfloat16 values), with SgemmBF16's
// products, reading S where it lies: bit for bit what SgemmBF16(false,
// true, m, n, k, 1, a, lda, S widened to float32, lds, beta, c, ldc)
// gives. It computes C only where that call would take the dot form of
// the bfloat16 kernel (at most 128 rows of A, n·k at least 2^17, on a CPU
// with AVX512_BF16), with k a multiple of 32 and lds even, and reports
// whether it did; otherwise it leaves C alone, and the caller widens S
// and calls SgemmBF16 (the dot form converts B to bfloat16 pairs for
// every product: a widened S is converted back). It panics as Sgemm does
// when an operand is too short.
func SgemmBF16StoredT(m, n, k int, a []float32, lda int, s []uint16, lds int, beta float32, c []float32, ldc int) bool {
	if m <= 0 || n <= 0 || k <= 0 || beta != 0 && beta != 1 {
		return false
	}
	if lda < k || lds < k || ldc < n || len(a) < (m-1)*lda+k || len(s) < (n-1)*lds+k || len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("asm.SgemmBF16StoredT: m=%d n=%d k=%d lda=%d lds=%d ldc=%d: a %d, s %d, c %d", m, n, k, lda, lds, ldc, len(a), len(s), len(c)))
	}
	kn := bf16KernelFor(level)
	if !kn.takesDot(m, n, k) || kn.dotStored == nil || k%32 != 0 || lds%2 != 0 || uintptr(unsafe.Pointer(&s[0]))%4 != 0 {
		return false
	}
	kn.dotStored(procs(), m, n, k, a, lda, s, lds, beta, c, ldc)
	return true
}
