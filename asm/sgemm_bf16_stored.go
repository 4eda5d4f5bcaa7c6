package asm

import (
	"fmt"
	"unsafe"
)

// SgemmBF16StoredT computes C = A·Sᵀ + beta·C (beta 0 or 1), or with a
// bias (n values, beta 0) C = A·Sᵀ + bias in every row, for A (m×k, lda
// apart) and S (n×k) stored in bfloat16 (row-major, lds values apart: a
// weight matrix that keeps only its bfloat16 values), with SgemmBF16's
// products, reading S where it lies: bit for bit what SgemmBF16(false,
// true, m, n, k, 1, a, lda, S widened to float32, lds, beta, c, ldc), or
// SgemmBF16Bias with the bias, gives. Where that call takes the dot form
// of the bfloat16 kernel (at most 128 rows of A, n·k at least 2^17) it
// runs the dot form on S's pairs (k a multiple of 32); where it takes the
// packed GEMM, it packs S's pairs into the GEMM's panels of B as they lie
// (a transposition of 32-bit slots, where the widened S would be
// converted back to pairs), with the same blocking and kernel (every
// block of k even). Either needs a CPU with AVX512_BF16, lds even and S
// on a 4-byte boundary. It reports whether it computed C; otherwise it
// leaves C alone, and the caller widens S and calls SgemmBF16. It panics
// as Sgemm does when an operand is too short, and for a bias with beta
// other than 0.
func SgemmBF16StoredT(m, n, k int, a []float32, lda int, s []uint16, lds int, bias []float32, beta float32, c []float32, ldc int) bool {
	if bias != nil && (beta != 0 || len(bias) < n) {
		panic(fmt.Sprintf("asm.SgemmBF16StoredT: a bias of %d values for %d columns with beta %v", len(bias), n, beta))
	}
	if m <= 0 || n <= 0 || k <= 0 || beta != 0 && beta != 1 {
		return false
	}
	if lda < k || lds < k || ldc < n || len(a) < (m-1)*lda+k || len(s) < (n-1)*lds+k || len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("asm.SgemmBF16StoredT: m=%d n=%d k=%d lda=%d lds=%d ldc=%d: a %d, s %d, c %d", m, n, k, lda, lds, ldc, len(a), len(s), len(c)))
	}
	if bias != nil {
		bias = bias[:n]
	}
	kn := bf16KernelFor(level)
	if kn == nil || lds%2 != 0 || uintptr(unsafe.Pointer(&s[0]))%4 != 0 {
		return false
	}
	if kn.takesDot(m, n, k) {
		if kn.dotStored == nil || k%32 != 0 {
			return false
		}
		if bias != nil { // as sgemmDotBF16 adds it
			fillRows(c, ldc, bias, m, n)
			beta = 1
		}
		kn.dotStored(procs(), m, n, k, a, lda, s, lds, beta, c, ldc)
		return true
	}
	// The packed GEMM on S's pairs: every k block even (the few-row
	// blocking's and the other), so that no pair straddles two.
	if kn.stored == nil || k%2 != 0 || blockSize(k, kn.kc, 1)%2 != 0 || blockSize(k, min(kn.kc, gemmSmallKC), 1)%2 != 0 {
		return false
	}
	s32 := unsafe.Slice((*float32)(unsafe.Pointer(&s[0])), ((n-1)*lds+k)/2)
	sgemmParallel(kn.stored, min(procs(), gemmThreads(m, n, k)/2+1), false, true, m, n, k, 1, a, lda, s32, lds/2, beta, c, ldc, bias)
	return true
}
