package asm

import (
	"fmt"
)

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices.
//
// op(A) is m×k: A is m×k with lda ≥ k, or, when transA, A is k×m with
// lda ≥ m. op(B) is k×n: B is k×n with ldb ≥ n, or, when transB, B is n×k
// with ldb ≥ k. C is m×n with ldc ≥ n. beta == 0 means C is not read (NaN
// in C is overwritten); alpha == 0 or k == 0 means A and B are not read.
// Work is split across GOMAXPROCS goroutines (their share while goroutines
// run SideBySide) when it is large enough. With
// at most 16 rows in op(A) (decoding steps) B is read once, in place,
// without packing (see sgemm_small.go).
//
// It panics, naming Sgemm and the dimensions, when a dimension is negative,
// a leading dimension is too small or a slice is too short.
//
// The loop it computes (with op applied to the indices) is:
//
//	for i := 0; i < m; i++ {
//		for j := 0; j < n; j++ {
//			var s float32
//			for p := 0; p < k; p++ {
//				s += A[i][p] * B[p][j]
//			}
//			C[i][j] = alpha*s + beta*C[i][j]
//		}
//	}
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmLevel(level, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmBias computes C = alpha·op(A)·op(B) + bias, bias (n values) added
// to every row of C; C is not read. The result is Sgemm's with beta 1
// after each row of C is set to bias, bit for bit: the sums start from
// the same values in the same order. Where the kernel can (AVX-512) it
// adds the bias in its registers, so C is written once instead of filled
// and then read back.
func SgemmBias(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int) {
	SgemmBiasLevel(level, transA, transB, m, n, k, alpha, a, lda, b, ldb, bias, c, ldc)
}

// SgemmBiasLevel is SgemmBias run with the kernels of level l.
func SgemmBiasLevel(l Level, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int) {
	checkSgemm("SgemmBias", transA, transB, m, n, k, a, lda, 0, b, ldb, 0, c, ldc, 0, 1)
	checkBias("SgemmBias", bias, n)
	sgemmAuto(l, gemmKernelFor(l), procs(), transA, transB, m, n, k, alpha, a, lda, b, ldb, 0, c, ldc, bias[:n])
}

// checkBias panics unless bias holds n values.
func checkBias(fn string, bias []float32, n int) {
	if len(bias) < n {
		panic(fmt.Sprintf("asm.%s: len(bias)=%d < n=%d", fn, len(bias), n))
	}
}

// SgemmLevel is Sgemm run with the kernels of level l, for tests and
// benchmarks. It panics if l is not supported here (see Supported).
func SgemmLevel(l Level, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkSgemm("Sgemm", transA, transB, m, n, k, a, lda, 0, b, ldb, 0, c, ldc, 0, 1)
	sgemmAuto(l, gemmKernelFor(l), procs(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
}

// SgemmStrided runs batch GEMMs (see Sgemm); matrix i uses a[i*strideA:],
// b[i*strideB:] and c[i*strideC:]. A stride of 0 broadcasts that operand
// over the batch. The work is parallel over the batch and/or within each
// GEMM. If the C matrices overlap (strideC smaller than one C, e.g. 0 to
// accumulate all products into one C with beta = 1), the GEMMs run in
// batch order, each parallel within.
func SgemmStrided(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int, batch int) {
	SgemmStridedLevel(level, transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch)
}

// SgemmStridedLevel is SgemmStrided run with the kernels of level l.
func SgemmStridedLevel(l Level, transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int, batch int) {
	checkSgemm("SgemmStrided", transA, transB, m, n, k, a, lda, strideA, b, ldb, strideB, c, ldc, strideC, batch)
	if batch == 0 || m == 0 || n == 0 {
		return
	}
	kern := gemmKernelFor(l)
	threads := procs()
	one := func(i, threads int) {
		aa, bb := a, b
		if k > 0 {
			aa, bb = a[i*strideA:], b[i*strideB:]
		}
		sgemmAuto(l, kern, threads, transA, transB, m, n, k, alpha, aa, lda, bb, ldb, beta, c[i*strideC:], ldc, nil)
	}
	flops := 2 * float64(m) * float64(n) * float64(k)
	if threads <= 1 || batch == 1 || batch < threads && flops >= 4*minFlopsPerThread ||
		strideC < matLen(m, n, ldc) {
		// Few large GEMMs, or outputs that overlap (strideC == 0
		// accumulates every product into one C): in order, each GEMM
		// parallel within.
		for i := 0; i < batch; i++ {
			one(i, threads)
		}
		return
	}
	// Parallel over the batch, each GEMM single-threaded, claimed as
	// goroutines become free.
	ParallelFor(batch, 1, threads, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			one(i, 1)
		}
	})
}

// matLen is the number of elements a rows×cols row-major matrix with
// leading dimension ld spans.
func matLen(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

func checkSgemm(fn string, transA, transB bool, m, n, k int, a []float32, lda, strideA int, b []float32, ldb, strideB int, c []float32, ldc, strideC, batch int) {
	dims := func() string {
		return fmt.Sprintf("transA=%v transB=%v m=%d n=%d k=%d lda=%d ldb=%d ldc=%d", transA, transB, m, n, k, lda, ldb, ldc)
	}
	if m < 0 || n < 0 || k < 0 || batch < 0 || strideA < 0 || strideB < 0 || strideC < 0 {
		panic(fmt.Sprintf("asm.%s: negative dimension or stride (%s strideA=%d strideB=%d strideC=%d batch=%d)",
			fn, dims(), strideA, strideB, strideC, batch))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if lda < ac || ldb < bc || ldc < n {
		panic(fmt.Sprintf("asm.%s: leading dimension too small (%s)", fn, dims()))
	}
	if batch == 0 || m == 0 || n == 0 {
		return
	}
	need := func(name string, have, rows, cols, ld, stride int) {
		nl := matLen(rows, cols, ld)
		if nl > 0 {
			nl += (batch - 1) * stride
		}
		if have < nl {
			panic(fmt.Sprintf("asm.%s: len(%s)=%d < %d (%s batch=%d stride=%d)", fn, name, have, nl, dims(), batch, stride))
		}
	}
	if k > 0 {
		need("a", len(a), ar, ac, lda, strideA)
		need("b", len(b), br, bc, ldb, strideB)
	}
	need("c", len(c), m, n, ldc, strideC)
}

// minFlopsPerThread is the least work (2·m·n·k) worth a goroutine.
const minFlopsPerThread = 1 << 21

// gemmThreads is how many goroutines an m×n×k GEMM uses: GOMAXPROCS, fewer
// when the work is small.
func gemmThreads(m, n, k int) int {
	flops := 2 * float64(m) * float64(n) * float64(k)
	return max(1, min(procs(), int(flops/minFlopsPerThread)))
}

// sgemmParallel runs a GEMM on at most threads goroutines. A large GEMM
// (see halves) is split into one independent strip of C per goroutine.
// Otherwise, with a packed kernel and enough rows, the goroutines share
// each packed B panel (gemmShared); else C is split into independent
// column (or row) strips, each a whole GEMM with its own packing buffers,
// claimed as goroutines become free (ParallelFor). Strips are multiples of
// the micro-tile so only the last one has edge tiles. Every path computes
// each element of C with the same kernel and the same blocking of k, so
// the results do not depend on the path or the number of goroutines.
func sgemmParallel(kern *gemmKernel, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	if m == 0 || n == 0 {
		return
	}
	mr, nr := 1, 1
	if kern != nil {
		mr, nr = kern.mr, kern.nr
	}
	halves := kern != nil && kern.halves(threads, m, n)
	if !halves && kern != nil && threads > 1 && m/mr >= 2*threads && k > 0 && alpha != 0 {
		// Enough row tiles: pack each B panel once, together, and split
		// the rows.
		kern.gemmShared(threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
		return
	}
	// Independent strips: split N (each goroutine packs its columns of B
	// and all of A) unless there are more row tiles than column tiles;
	// halves choose by what the strips repeat (halvesSplitN).
	splitN := n/nr >= m/mr
	if halves {
		splitN = kern.halvesSplitN(threads, transA, alpha, m, n, lda)
	}
	unit, total := mr, m
	if splitN {
		unit, total = nr, n
	}
	tiles := (total + unit - 1) / unit
	if threads > tiles {
		threads = tiles
	}
	if threads <= 1 {
		sgemmSerial(kern, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
		return
	}
	// Strips of at least minFlopsPerThread/2 of work, and at most a
	// 2·threads-th of the tiles, so that a goroutine whose CPU is taken
	// holds up little.
	other := m
	if !splitN {
		other = n
	}
	grain := max(1, min(tiles/(2*threads), int(minFlopsPerThread/2/(2*float64(unit)*float64(other)*float64(max(k, 1))))))
	if halves {
		grain = (tiles + threads - 1) / threads
	}
	ParallelFor(tiles, grain, threads, func(_, t0, t1 int) {
		lo, hi := t0*unit, min(t1*unit, total)
		if splitN {
			bb := b
			if k > 0 {
				if transB {
					bb = b[lo*ldb:]
				} else {
					bb = b[lo:]
				}
			}
			sgemmSerial(kern, transA, transB, m, hi-lo, k, alpha, a, lda, bb, ldb, beta, c[lo:], ldc, biasAt(bias, lo))
		} else {
			aa := a
			if k > 0 {
				if transA {
					aa = a[lo:]
				} else {
					aa = a[lo*lda:]
				}
			}
			sgemmSerial(kern, transA, transB, hi-lo, n, k, alpha, aa, lda, b, ldb, beta, c[lo*ldc:], ldc, bias)
		}
	})
}

// Independent strips, one per goroutine (halves), for GEMMs of at least
// halvesMinRows rows and halvesMinTiles·threads column tiles.
const halvesMinRows, halvesMinTiles = 192, 8

// halves reports whether an m×n GEMM on threads goroutines runs as one
// independent strip of C per goroutine (each packing its own operands,
// meeting only at the end) rather than sharing each packed B panel.
// Sharing packs B once but meets at every kc×nc panel, twice, and each
// goroutine reads the half of the panel the other packed from the other
// core's cache; for large products the strips' duplicated packing costs
// less. Measured on 2 cores of a Zen 5 (AVX-512, interleaved, GFLOP/s,
// shared → strips): 400×768×3072 277 → 343, 600×2048×512 306 → 359,
// 2048³ 354 → 386, 1024³ 341 → 355, x·Wᵀ 400×3072×768 294 → 331; at
// 50 rows the strips lose (50×3072×768 308 → 289), hence halvesMinRows.
// A goroutine that claims its strip and loses its CPU holds up half the
// work, once: the wait marks the process contended and the next products
// run on the caller alone (see Workers). Only measured on two cores, so
// only up to four goroutines: with more, duplicating the packing of the
// operands costs more.
func (kn *gemmKernel) halves(threads, m, n int) bool {
	return threads > 1 && threads <= 4 && m >= halvesMinRows && n >= halvesMinTiles*threads*kn.nr
}

// halvesSplitN reports whether halves split N (column strips) rather than
// M. Each strip packs the whole of one operand: column strips repeat A
// (m×k) unless they read it in place (directA: A not transposed, alpha 1,
// strips at most directMaxNC wide), row strips repeat B (k×n). So split N
// when A is the smaller operand or the column strips read it in place.
// Measured on 2 cores of a Zen 5 (AVX-512, interleaved, medians of 25,
// GFLOP/s, row strips → column strips): 600×512×2048 x·Wᵀ 371 → 381,
// x·W 335 → 369; 600×1536×512 354 → 386; 400×768×3072 330 → 346, x·Wᵀ
// 350 → 367 (m×n×k); the GEMMs that keep their direction ran as before.
// Since then an A whose rows lie a multiple of 4 KiB apart is packed (see
// directA), so 600×512×2048 (x·W, lda 2048) takes row strips again: on a
// Zen 4 at 2 threads, 197-201 GFLOP/s in row strips, 201 in column strips
// with A packed, 175-198 in column strips reading it in place.
func (kn *gemmKernel) halvesSplitN(threads int, transA bool, alpha float32, m, n, lda int) bool {
	w := ((n+kn.nr-1)/kn.nr + threads - 1) / threads * kn.nr
	return m < n || kn.directA(transA, alpha, w, lda)
}

// sgemmSerial runs one GEMM on the calling goroutine: the generic reference
// when kern is nil, else the packed blocked algorithm.
// With a bias (beta 0) C = product + bias.
func sgemmSerial(kern *gemmKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	if m == 0 || n == 0 {
		return
	}
	if bias != nil && (kern == nil || k == 0 || alpha == 0) {
		fillRows(c, ldc, bias, m, n)
		bias, beta = nil, 1
	}
	if kern == nil {
		sgemmGeneric(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	ws := getWorkspace(kern, m, n, k)
	kern.gemm(ws, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
	workspaces.put(ws)
}

// fillRows sets each of the m rows of C to bias[:n].
func fillRows(c []float32, ldc int, bias []float32, m, n int) {
	for i := 0; i < m; i++ {
		copy(c[i*ldc:i*ldc+n], bias[:n])
	}
}

// scaleC sets C = beta*C, writing zeros (not reading C) when beta == 0.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}
