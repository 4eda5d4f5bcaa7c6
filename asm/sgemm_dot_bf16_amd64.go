//go:build !purego

package asm

import "unsafe"

// The bfloat16 dot form: SgemmBF16 of a few rows of A against B stored n×k
// (x·Wᵀ with float32 weights W: a batch-1 image's projections under
// --precision bf16). The packed bfloat16 GEMM converts and packs all of
// W's panel before multiplying, a pass bound by reading W from memory that
// the products cannot overlap; with 50 rows of A it took more time than
// the products. Here each goroutine converts W a few groups of 8 rows at a
// time into a bfloat16 copy that stays in cache, and multiplies each group
// with every row of A at once (sgemmDotTBF16AVX512, the float32 dot
// kernel's 3×8 tile on VDPBF16PS), so reading W overlaps the products of
// the groups before.

// sgemmDotTBF16AVX512 is the float32 dot kernel (sgemmDotTAVX512) on
// bfloat16 pairs: a and b hold pairs in 32-bit slots, lda, ldb and k count
// pairs, n is a multiple of 8.
//
//go:noescape
func sgemmDotTBF16AVX512(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, m, n, k, accum int)

// sgemmRowsToBF16 converts rows of floats to bfloat16 pairs (see the
// assembly).
//
//go:noescape
func sgemmRowsToBF16(dst, src *float32, lds, ldd, rows, chunks, tailLo, tailHi int)

// bf16DotMaxM is the most rows of A that take the bfloat16 dot form, and
// bf16DotMinNK the least elements of B (512 KiB of float32: a B that
// stays in cache costs little to pack); bf16DotKC bounds the floats of k
// per block (a group of 8 rows of B, converted, is 8·bf16DotKC·2 bytes:
// 12 KiB in L1), and bf16DotRows is how many rows of B a goroutine
// converts at once (96 KiB in L2).
const bf16DotMaxM, bf16DotMinNK, bf16DotKC, bf16DotRows = 128, 1 << 17, 768, 64

// dotBF16Workspace is one goroutine's converted rows of B and edge tile.
type dotBF16Workspace struct{ b, c []float32 }

var dotBF16Workspaces freeList[dotBF16Workspace]

// bf16Rows converts rows rows of k floats of src (lds apart) into bfloat16
// pairs in dst (ldd slots apart, ldd ≥ pairSlots(k)), zero past k.
func bf16Rows(dst, src []float32, lds, ldd, rows, k int) {
	if rows == 0 {
		return
	}
	r := k % 32
	lo, hi := 0, 0
	if r > 0 {
		lo = 1<<min(r, 16) - 1
		hi = 1<<max(r-16, 0) - 1
	}
	_ = dst[(rows-1)*ldd+pairSlots(k)-1]
	_ = src[(rows-1)*lds+k-1]
	sgemmRowsToBF16(&dst[0], &src[0], lds, ldd, rows, k/32, lo, hi)
}

// pairSlots is the slots a row of k floats takes as bfloat16 pairs, whole
// blocks of 16.
func pairSlots(k int) int { return (k + 31) / 32 * 16 }

// sgemmDotBF16 computes C = alpha·op(A)·Bᵀ + beta·C (with a bias, beta 0:
// + bias in every row) for B stored n×k, in bfloat16 products, on at most
// threads goroutines. m ≤ bf16DotMaxM, n, k ≥ 1, alpha != 0.
func sgemmDotBF16(threads int, transA bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	if bias != nil {
		fillRows(c, ldc, bias, m, n)
		beta = 1
	}
	dotBF16(threads, transA, m, n, k, alpha, a, lda, dotB{f: b, ld: ldb}, beta, c, ldc)
}

// sgemmDotStoredBF16 is sgemmDotBF16 (alpha 1, no bias) for B stored n×k
// in bfloat16, s (lds values apart, lds even), whose rows it reads in
// place instead of converting them; k is a multiple of 32, so that every
// block of k is whole 16-pair vectors and starts on a pair.
func sgemmDotStoredBF16(threads int, m, n, k int, a []float32, lda int, s []uint16, lds int, beta float32, c []float32, ldc int) {
	dotBF16(threads, false, m, n, k, 1, a, lda, dotB{h: s, ld: lds}, beta, c, ldc)
}

// dotB is the right operand of the dot form, stored n×k: float32 values
// f, converted a group of rows at a time, or bfloat16 values h, read in
// place (pairs of adjacent values are the kernel's 32-bit slots); ld
// values apart.
type dotB struct {
	f  []float32
	h  []uint16
	ld int
}

// dotBF16 is the dot form of sgemmDotBF16 and sgemmDotStoredBF16 (no bias).
func dotBF16(threads int, transA bool, m, n, k int, alpha float32, a []float32, lda int, b dotB, beta float32, c []float32, ldc int) {
	if beta != 0 && beta != 1 {
		scaleC(m, n, beta, c, ldc)
	}
	accum := beta != 0
	ws := smallWorkspaces.get()
	defer smallWorkspaces.put(ws)
	a, lda = scaledA(ws, transA, m, k, alpha, a, lda)
	// A in bfloat16 pairs, each row pairSlots(k) slots (k blocks of
	// bf16DotKC floats start at slot p/2).
	lap := pairSlots(k)
	ws.ab = growTo(ws.ab, m*lap)
	ap := ws.ab
	bf16Rows(ap, a, lda, lap, m, k)
	step := blockSize(k, bf16DotKC, 32)
	groups := (n + 7) / 8
	chunk := func(_, g0, g1 int) {
		w := dotBF16Workspaces.get()
		defer dotBF16Workspaces.put(w)
		ldw := pairSlots(step)
		w.b = growTo(w.b, bf16DotRows*ldw)
		for g := g0; g < g1; g += bf16DotRows / 8 {
			j0 := g * 8
			rows := min(bf16DotRows, g1*8-j0, n-j0)
			full := rows / 8 * 8 // columns written in place
			for p := 0; p < k; p += step {
				s := min(step, k-p)
				// The group's rows of B for this block of k in bfloat16
				// pairs: converted into w.b, or read where they lie.
				bp, ldb := &w.b[0], ldw
				if b.h == nil {
					bf16Rows(w.b, b.f[j0*b.ld+p:], b.ld, ldw, rows, s)
				} else if full > 0 {
					bp, ldb = (*float32)(unsafe.Pointer(&b.h[j0*b.ld+p])), b.ld/2
				}
				if full > 0 {
					sgemmDotTBF16AVX512(&ap[p/2], lap, bp, ldb, &c[j0], ldc, m, full, (s+1)/2, accumFlag(accum || p > 0))
				}
				if rows > full {
					// The last columns (fewer than 8) through a tile: the
					// converted rows past n zeroed.
					e := w.b[full*ldw : (full+8)*ldw]
					if b.h != nil {
						// s is a multiple of 32: s/2 slots per row.
						e16 := unsafe.Slice((*uint16)(unsafe.Pointer(&e[0])), 2*len(e))
						for r := range rows - full {
							o := (j0 + full + r) * b.ld
							copy(e16[2*r*ldw:2*r*ldw+s], b.h[o+p:o+p+s])
						}
					}
					clear(e[(rows-full)*ldw:])
					w.c = growTo(w.c, m*8)
					sgemmDotTBF16AVX512(&ap[p/2], lap, &e[0], ldw, &w.c[0], 8, m, 8, (s+1)/2, accumFlag(p > 0))
				}
			}
			if rows > full {
				addTile(c[j0+full:], ldc, w.c, 8, m, rows-full, accum, nil)
			}
		}
	}
	grain := max(1, smallMinBytes/(8*k*4))
	ParallelFor(groups, grain, threads, chunk)
}
