package asm

// Small-M SGEMM. With at most smallMaxM rows in op(A) every element of B
// takes part in only m multiply-adds, so the GEMM is bound by reading B
// from memory (the decoding step of a transformer: x·Wᵀ with one row per
// sequence, and the vocabulary projection). Packing B would read and write
// it once more than the product needs; the small path instead streams B
// once, in place, and splits N across goroutines in large contiguous
// chunks, each goroutine reading its own rows (transB) or columns of B.
//
// Two kernels, both computing C = op(A)·op(B) (+ C) for a row-major A of m
// rows (alpha and transA are folded into a copy of A, which is small):
//
//   - dot form, B stored n×k (transB, y = x·Wᵀ): each C element is the dot
//     product of a row of A with a row of B; the kernel walks groups of
//     smallTN rows of B and, for each, every row of A, so the group is
//     read from memory once and stays in L1 while the rows of A pass;
//   - axpy form, B stored k×n: the kernel walks strips of smallNN columns
//     of B and, for each, every row of A, accumulating the m×smallNN block
//     of C in registers over all of k, so each strip is read from memory
//     once.

// smallMaxM is the largest m that takes the small path. Measured on Zen 3
// (1 and 2 threads, B from 1.5 to 100 MB, both layouts), the small path
// was faster than the packed one at every m up to 16, by 1.05-1.5× at 12
// to 16 rows and 1.5-5× at 1 to 8.
const smallMaxM = 16

// smallNN is the N granule of the axpy kernels (B columns per strip), and
// smallTN that of the pure-Go and 4-row dot kernels (B rows per group; a
// kernel's own is smallKernel.tn). Kernels are called with n a multiple of
// their granule; the driver pads the last partial group or strip.
const smallTN, smallNN = 4, 32

// smallMinBytes is the least B data (bytes) worth a goroutine of its own
// (a variable for tests).
var smallMinBytes = 1 << 17

// smallKernel is one SIMD level's pair of small-M kernels. Both take a
// row-major A (m×k, row stride lda) and write C (m×n, row stride ldc),
// adding to C when accum is set; k ≥ 1, m ≥ 1.
type smallKernel struct {
	name string

	// tn is dotT's granule: the B rows of a group (smallTN when 0).
	tn int

	// dotMaxM is the largest m for which a GEMM with B stored n×k takes
	// the dot form (smallMaxM when 0); dotKC, when set, bounds the k of
	// one dotT call, so that the group of B rows stays in L1 (longer dot
	// products are summed over several calls, accumulating into C).
	dotMaxM, dotKC int

	// dotT: B is n×k (row stride ldb), n a multiple of smallTN:
	//
	//	for j := 0; j < n; j++ {
	//		for i := 0; i < m; i++ {
	//			var s float32
	//			for p := 0; p < k; p++ { s += a[i*lda+p] * b[j*ldb+p] }
	//			c[i*ldc+j] = s (+ c[i*ldc+j] if accum)
	//		}
	//	}
	dotT func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int, m, n, k int, accum bool)

	// axpyN: B is k×n (row stride ldb), n a multiple of smallNN:
	//
	//	for j := 0; j < n; j += smallNN {
	//		for i := 0; i < m; i++ {
	//			acc := c[i*ldc+j:][:smallNN] if accum, else zeros
	//			for p := 0; p < k; p++ { acc += a[i*lda+p] * b[p*ldb+j:][:smallNN] }
	//			c[i*ldc+j:][:smallNN] = acc
	//		}
	//	}
	axpyN func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int, m, n, k int, accum bool)
}

// smallKernelFor returns level l's small-M kernels, or nil for the generic
// level (whose reference GEMM does not pack anyway).
func smallKernelFor(l Level) *smallKernel {
	if l == Generic {
		return nil
	}
	return archSmallKernel(l)
}

// smallWorkspace holds the scratch of one small-M GEMM: the scaled copy of
// A and the zero-padded last group or strip of B with its C tile.
type smallWorkspace struct {
	a, b, c []float32
	ab      []float32 // A's k blocks (dotBlocksOfA), or its bfloat16 pairs (sgemmDotBF16)
}

var smallWorkspaces freeList[smallWorkspace]

// sgemmAuto runs one GEMM on at most threads goroutines: the small-M path
// when op(A) has few rows and level l has small kernels, else the packed
// (or, for the generic level, the reference) GEMM.
// With a bias (SgemmBias; beta 0) C = product + bias.
func sgemmAuto(l Level, kern *gemmKernel, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	if m == 0 || n == 0 {
		return
	}
	if m <= dotMaxM && k > 0 && alpha != 0 {
		if sk := smallKernelFor(l); sk != nil && (m <= smallMaxM || transB && m <= sk.maxDotM()) {
			sgemmSmall(sk, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
			return
		}
	}
	sgemmParallel(kern, min(threads, gemmThreads(m, n, k)), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
}

// dotMaxM bounds every kernel's dotMaxM.
const dotMaxM = 256

func (sk *smallKernel) maxDotM() int {
	if sk.dotMaxM > 0 {
		return sk.dotMaxM
	}
	return smallMaxM
}

// granule returns dotT's granule.
func (sk *smallKernel) granule() int {
	if sk.tn > 0 {
		return sk.tn
	}
	return smallTN
}

// sgemmSmall is the small-M GEMM (see the comment at the top of this file)
// on at most threads goroutines. m, n, k ≥ 1, alpha != 0; the slices have
// been checked. With a bias (beta 0) C = product + bias: each range of
// columns is set to its bias just before its products add to it, on the
// goroutine that computes it (the sums are those of filling all of C
// first, as every other path does).
func sgemmSmall(sk *smallKernel, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	if threads <= 0 {
		threads = procs() // as ParallelFor reads it; sizes the per-goroutine copies
	}
	ws := smallWorkspaces.get()
	defer smallWorkspaces.put(ws)
	a, lda = scaledA(ws, transA, m, k, alpha, a, lda)
	if beta != 0 && beta != 1 {
		scaleC(m, n, beta, c, ldc)
	}
	accum := beta != 0 || bias != nil
	unit, kern := smallNN, sk.axpyN
	var blocked *dotBlocks
	if transB {
		unit, kern = sk.granule(), sk.dotT
		if kc := sk.dotKC; kc > 0 && k > kc {
			// Dot products summed over k blocks of at most kc, reading
			// A in place or, with enough rows, from a copy of its
			// blocks (dotBlocksOfA) that each goroutine makes for itself.
			step := blockSize(k, kc, 16)
			if m >= dotBlocksMinM {
				blocked = &dotBlocks{dotT: sk.dotT, step: step, a: a, lda: lda, m: m, k: k, per: make([]dotWorker, threads)}
				blocked.per[0].ws = ws
				defer blocked.release()
			} else {
				kern = blockedDot(sk.dotT, step, nil)
			}
		}
	}
	units := n / unit // whole groups or strips; the padded rest is one more
	total := units
	if n > units*unit {
		total++
	}
	// chunk computes units [u0, u1) on goroutine w; unit index units is
	// the padded rest.
	chunk := func(w, u0, u1 int) {
		kern := kern
		if blocked != nil {
			kern = blocked.kernel(w)
		}
		if full := min(u1, units); full > u0 {
			j := u0 * unit
			bb := b[j:]
			if transB {
				bb = b[j*ldb:]
			}
			if bias != nil {
				fillRows(c[j:], ldc, bias[j:], m, (full-u0)*unit)
			}
			kern(a, lda, bb, ldb, c[j:], ldc, m, (full-u0)*unit, k, accum)
		}
		if u1 > units {
			if bias != nil {
				fillRows(c[units*unit:], ldc, bias[units*unit:], m, n-units*unit)
			}
			smallEdge(sk, kern, transB, a, lda, b, ldb, c, ldc, m, n, k, units*unit, accum)
		}
	}
	// Ranges of at least smallMinBytes of B each, claimed as goroutines
	// become free (a goroutine whose CPU is taken holds up one range).
	grain := max(1, smallMinBytes/(unit*k*4))
	ParallelFor(total, grain, threads, chunk)
}

// smallGemm is the signature of smallKernel's dotT and axpyN.
type smallGemm = func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int, m, n, k int, accum bool)

// blockedDot returns dotT summed over k blocks of step, accumulating into
// C after the first, reading A in place or, with ab non-nil, from ab, the
// copy of its blocks (dotBlocksOfA: the a of every call, chunks and
// smallEdge alike, is the A copied).
func blockedDot(dotT smallGemm, step int, ab []float32) smallGemm {
	return func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int, m, n, k int, accum bool) {
		for p := 0; p < k; p += step {
			s := min(step, k-p)
			ap, ldap := a[p:], lda
			if ab != nil {
				ap, ldap = ab[m*p:], s
			}
			dotT(ap, ldap, b[p:], ldb, c, ldc, m, n, s, accum || p > 0)
		}
	}
}

// dotBlocks is the k-blocked dot form of one small GEMM reading A from a
// copy of its blocks per goroutine (dotBlocksOfA): goroutine w makes its
// copy in per[w].ws (per[0].ws is the caller's workspace) and its kernel
// per[w].kern on its first range. Each goroutine reads the copy it wrote,
// from its own core's cache: one copy shared by two cores cost more than
// it saved (see dotBlocksOfA).
type dotBlocks struct {
	dotT      smallGemm
	step      int
	a         []float32
	lda, m, k int
	per       []dotWorker
}

// dotWorker is one goroutine's workspace and kernel in a dotBlocks.
type dotWorker struct {
	ws   *smallWorkspace
	kern smallGemm
}

// kernel returns goroutine w's kernel, copying A's blocks on its first
// call.
func (d *dotBlocks) kernel(w int) smallGemm {
	p := &d.per[w]
	if p.kern == nil {
		if p.ws == nil {
			p.ws = smallWorkspaces.get()
		}
		p.ws.ab = dotBlocksOfA(p.ws.ab, d.m, d.k, d.step, d.a, d.lda)
		p.kern = blockedDot(d.dotT, d.step, p.ws.ab)
	}
	return p.kern
}

// release hands back the helpers' workspaces (per[0]'s is the caller's).
func (d *dotBlocks) release() {
	for _, p := range d.per[1:] {
		if p.ws != nil {
			smallWorkspaces.put(p.ws)
		}
	}
}

// scaledA returns alpha·op(A) as row-major m×k values and their row
// stride: a and lda themselves, or a contiguous copy in ws.a (m·k ≪ n·k).
func scaledA(ws *smallWorkspace, transA bool, m, k int, alpha float32, a []float32, lda int) ([]float32, int) {
	if !transA && alpha == 1 {
		return a, lda
	}
	ws.a = growTo(ws.a, m*k)
	for i := 0; i < m; i++ {
		row := ws.a[i*k : (i+1)*k]
		if transA {
			for p := range row {
				row[p] = alpha * a[p*lda+i]
			}
		} else {
			for p, v := range a[i*lda : i*lda+k] {
				row[p] = alpha * v
			}
		}
	}
	return ws.a, k
}

// smallEdge computes columns j0..n-1 of C (fewer than one unit) through a
// zero-padded copy of that part of op(B) and a tile buffer, in a workspace
// of its own.
func smallEdge(sk *smallKernel, kern smallGemm, transB bool, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, m, n, k, j0 int, accum bool) {
	ws := smallWorkspaces.get()
	defer smallWorkspaces.put(ws)
	w := n - j0
	if transB {
		// Rows j0..n-1 of B (each k long), then zero rows.
		tn := sk.granule()
		ws.b = growTo(ws.b, tn*k)
		for r := 0; r < tn; r++ {
			d := ws.b[r*k : (r+1)*k]
			if r < w {
				copy(d, b[(j0+r)*ldb:])
			} else {
				clear(d)
			}
		}
		ws.c = growTo(ws.c, m*tn)
		kern(a, lda, ws.b, k, ws.c, tn, m, tn, k, false)
		addTile(c[j0:], ldc, ws.c, tn, m, w, accum, nil)
		return
	}
	// Columns j0..n-1 of each of the k rows of B, zero padded to smallNN.
	ws.b = growTo(ws.b, k*smallNN)
	for p := 0; p < k; p++ {
		d := ws.b[p*smallNN : (p+1)*smallNN]
		copy(d, b[p*ldb+j0:p*ldb+n])
		clear(d[w:])
	}
	ws.c = growTo(ws.c, m*smallNN)
	kern(a, lda, ws.b, smallNN, ws.c, smallNN, m, smallNN, k, false)
	addTile(c[j0:], ldc, ws.c, smallNN, m, w, accum, nil)
}

// smallDotTGo is the pure-Go smallKernel.dotT (the reference for the
// assembly kernels).
func smallDotTGo(a []float32, lda int, b []float32, ldb int, c []float32, ldc int, m, n, k int, accum bool) {
	for j := 0; j < n; j++ {
		brow := b[j*ldb : j*ldb+k]
		for i := 0; i < m; i++ {
			s := dotGeneric(a[i*lda:i*lda+k], brow)
			if accum {
				s += c[i*ldc+j]
			}
			c[i*ldc+j] = s
		}
	}
}

// smallAxpyNGo is the pure-Go smallKernel.axpyN.
func smallAxpyNGo(a []float32, lda int, b []float32, ldb int, c []float32, ldc int, m, n, k int, accum bool) {
	var acc [smallNN]float32
	for j := 0; j < n; j += smallNN {
		for i := 0; i < m; i++ {
			crow := (*[smallNN]float32)(c[i*ldc+j:])
			if accum {
				acc = *crow
			} else {
				acc = [smallNN]float32{}
			}
			for p := 0; p < k; p++ {
				s := a[i*lda+p]
				for q, v := range (*[smallNN]float32)(b[p*ldb+j:]) {
					acc[q] += s * v
				}
			}
			*crow = acc
		}
	}
}

// dotBlocksMinM is the least m for which the k-blocked dot form reads A
// from a copy of its blocks (dotBlocksOfA; a variable for tests).
var dotBlocksMinM = smallMaxM + 1

// dotBlocksOfA copies A (m×k, row stride lda) into dst (grown to m·k) for
// the k-blocked dot form (B stored n×k, k > kc) and returns the copy:
// block p (columns p to p+step) at [m·p:], its rows contiguous. The rows of
// an A whose row length is a multiple of 4 KiB (the input of x·Wᵀ with k =
// 2048 or 3072: a batch-1 encoder's MLP output projection) map to the
// same sets of the L1 cache,
// those where the group of B rows the kernel holds lies (W's rows are as
// long), and evict it; in the copy the rows of a block follow each other.
// B is read in place: copying its rows too cost more than it saved. The
// sums are those of reading A in place: the same blocks through the same
// kernel. Measured on a Zen 4 (1 thread, GFLOP/s, in place → copy of A):
// 50×3072×768 70-84 → 87-95, 77×2048×512 71-89 → 101-105. At 2 threads
// one copy, written by one core and read by both, lost in the
// microbenchmark (77×2048×512 154-172 → 122-127), though coca_ViT-B-32's
// encoders at batch 1 gained (EncodeImage 0.0581 → 0.0535 s); so each
// goroutine copies A for itself, in parallel, and reads its own copy
// (dotBlocks): on 2 cores of a Zen 4, x·Wᵀ with a bias, 12 weights in
// turn, GFLOP/s, one copy → one per goroutine: 50×768×3072 138-143 →
// 156-168, 77×512×2048 131-136 → 171-177.
func dotBlocksOfA(dst []float32, m, k, step int, a []float32, lda int) []float32 {
	dst = growTo(dst, m*k)
	for p := 0; p < k; p += step {
		s := min(step, k-p)
		packRows(dst[m*p:m*(p+s)], a[p:], lda, m, s, m, s)
	}
	return dst
}
