package tensor

import (
	"fmt"
	"runtime"

	"github.com/gococa/gococa/asm"
)

func maxProcs() int { return runtime.GOMAXPROCS(0) }

// gemm checks the operands' lengths and runs the batched product.
func gemm(transA, transB bool, m, n, k int, alpha float32,
	a []float32, lda, strideA int, b []float32, ldb, strideB int,
	beta float32, c []float32, ldc, strideC, batch int) {
	if m == 0 || n == 0 || batch == 0 {
		return
	}
	checkGemm(transA, transB, m, n, k, a, lda, strideA, b, ldb, strideB, c, ldc, strideC, batch)
	asm.SgemmStrided(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch)
}

// checkGemm panics unless the operands of a batched product are long
// enough.
func checkGemm(transA, transB bool, m, n, k int, a []float32, lda, strideA int,
	b []float32, ldb, strideB int, c []float32, ldc, strideC, batch int) {
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	need := func(rows, cols, ld, stride int) int {
		if rows == 0 || cols == 0 {
			return 0
		}
		return (batch-1)*stride + (rows-1)*ld + cols
	}
	if lda < ac || ldb < bc || ldc < n || len(a) < need(ar, ac, lda, strideA) ||
		len(b) < need(br, bc, ldb, strideB) || len(c) < need(m, n, ldc, strideC) {
		panic(fmt.Sprintf("tensor: Gemm: operands too short for m=%d n=%d k=%d batch=%d (len a=%d lda=%d, b=%d ldb=%d, c=%d ldc=%d)",
			m, n, k, batch, len(a), lda, len(b), ldb, len(c), ldc))
	}
}
