package asm

import "fmt"

// A right operand packed ahead for SgemmBF16. Training computes a
// Linear's weight gradient dW = dYᵀ·X long after the forward pass made X:
// by then X has left the caches, and packing it (float32 rounded to
// bfloat16 pairs) reads it back from memory at a fraction of the speed
// it packs from cache. PackBF16B packs X while the forward pass still
// has it in cache, into half its size, and SgemmBF16PackedB then takes
// the packed operand as the product would have packed it, block for
// block, so the product computes the same values (the same kernel and
// the same blocking of k) without reading X again; X itself can go back
// to the caller's memory pool right after the forward pass.

// PackedBF16BLen returns the length (in float32 slots) of op(B) = B
// (k×n, not transposed) packed by PackBF16B for SgemmBF16's products of
// m rows, or 0 where SgemmBF16 has no bfloat16 kernel at the current
// level (the products then run on rounded float32 copies).
func PackedBF16BLen(m, n, k int) int {
	kn := bf16KernelFor(level)
	if kn == nil || m <= 0 || n <= 0 || k <= 0 {
		return 0
	}
	kcStep, ncStep := kn.prepackSteps(m, n, k)
	total := 0
	for jc := 0; jc < n; jc += ncStep {
		nc := min(ncStep, n-jc)
		for pc := 0; pc < k; pc += kcStep {
			total += gemmRoundUp(nc, kn.nr) * kn.depth(min(kcStep, k-pc))
		}
	}
	return total
}

// prepackSteps returns the k and n blocking of an m×n×k product with a
// packed B: kc as every path of sgemmParallel blocks k for m rows (the
// blocking that decides the values), nc as the serial GEMM blocks n.
func (kn *gemmKernel) prepackSteps(m, n, k int) (kcStep, ncStep int) {
	kcMax, ncMax := kn.blocking(m)
	return blockSize(k, kcMax, 1), blockSize(n, ncMax, kn.nr)
}

// PackBF16B packs B (k×n, row stride ldb, not transposed) into dst
// (PackedBF16BLen(m, n, k) slots) as the right operand of
// SgemmBF16PackedB's products of m rows. It panics where PackedBF16BLen
// is 0 or a slice is too short.
func PackBF16B(dst []float32, m, n, k int, b []float32, ldb int) {
	size := PackedBF16BLen(m, n, k)
	if size == 0 {
		panic(fmt.Sprintf("asm.PackBF16B: no bfloat16 kernel at level %v (or an empty product: m=%d n=%d k=%d)", level, m, n, k))
	}
	if len(dst) < size || ldb < n || len(b) < (k-1)*ldb+n {
		panic(fmt.Sprintf("asm.PackBF16B: m=%d n=%d k=%d ldb=%d: dst %d of %d, b %d", m, n, k, ldb, len(dst), size, len(b)))
	}
	kn := bf16KernelFor(level)
	kcStep, ncStep := kn.prepackSteps(m, n, k)
	threads := min(procs(), gemmThreads(m, n, k)/2+1)
	off := 0
	for jc := 0; jc < n; jc += ncStep {
		nc := min(ncStep, n-jc)
		panels := (nc + kn.nr - 1) / kn.nr
		for pc := 0; pc < k; pc += kcStep {
			kc := min(kcStep, k-pc)
			kd := kn.depth(kc)
			bp := dst[off : off+panels*kn.nr*kd]
			off += len(bp)
			if threads == 1 { // no closure: a training step packs many inputs
				kn.packB(bp, false, b, ldb, pc, jc, kc, nc)
				continue
			}
			ParallelFor(panels, 1, threads, func(_, p0, p1 int) {
				kn.packB(bp[p0*kn.nr*kd:], false, b, ldb, pc, jc+p0*kn.nr, kc, min(nc, p1*kn.nr)-p0*kn.nr)
			})
		}
	}
}

// SgemmBF16PackedB is SgemmBF16(transA, false, m, n, k, alpha, a, lda, B,
// ldb, beta, c, ldc) with B packed by PackBF16B(pb, m, n, k, B, ldb): bit
// for bit the same C, on as many goroutines as SgemmBF16 would take. It
// panics as SgemmBF16 does, where PackedBF16BLen(m, n, k) is 0, or where
// pb is shorter than that.
func SgemmBF16PackedB(transA bool, m, n, k int, alpha float32, a []float32, lda int, pb []float32, beta float32, c []float32, ldc int) {
	size := PackedBF16BLen(m, n, k)
	if size == 0 {
		panic(fmt.Sprintf("asm.SgemmBF16PackedB: no bfloat16 kernel at level %v (or an empty product: m=%d n=%d k=%d)", level, m, n, k))
	}
	if len(pb) < size {
		panic(fmt.Sprintf("asm.SgemmBF16PackedB: m=%d n=%d k=%d: packed B %d of %d", m, n, k, len(pb), size))
	}
	// SgemmBF16's checks of A and C (B's were PackBF16B's).
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	if lda < ac || ldc < n || len(a) < matLen(ar, ac, lda) || len(c) < matLen(m, n, ldc) {
		panic(fmt.Sprintf("asm.SgemmBF16PackedB: transA=%v m=%d n=%d k=%d lda=%d ldc=%d: a %d, c %d", transA, m, n, k, lda, ldc, len(a), len(c)))
	}
	if alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	kn := bf16KernelFor(level)
	if beta != 0 && beta != 1 {
		scaleC(m, n, beta, c, ldc)
	}
	mr, nr := kn.mr, kn.nr
	kcStep, ncStep := kn.prepackSteps(m, n, k)
	tiles := (m + mr - 1) / mr
	threads := min(procs(), gemmThreads(m, n, k)/2+1, tiles)
	grain := balancedGrain(tiles, max(1, min(kn.mc/mr, (tiles+threads-1)/threads)), threads)
	mcStep := grain * mr
	ws0 := getWorkspaceSized(kn, mcStep, gemmRoundUp(ncStep, nr), kcStep, false)
	if threads == 1 {
		// On the calling goroutine, without closures.
		kn.packedProduct(ws0, transA, n, k, kcStep, ncStep, mcStep, alpha, a, lda, pb, beta, c, ldc, 0, m)
		workspaces.put(ws0)
		return
	}
	// Each goroutine takes whole row ranges through every block of B:
	// the rows of C are its own, so no block waits for another.
	wss := make([]*gemmWorkspace, threads)
	wss[0] = ws0
	for t := 1; t < threads; t++ {
		wss[t] = getWorkspaceSized(kn, mcStep, gemmRoundUp(ncStep, nr), kcStep, false)
	}
	ParallelFor(tiles, grain, threads, func(w, t0, t1 int) {
		kn.packedProduct(wss[w], transA, n, k, kcStep, ncStep, mcStep, alpha, a, lda, pb, beta, c, ldc, t0*mr, min(t1*mr, m))
	})
	for _, ws := range wss {
		workspaces.put(ws)
	}
}

// packedProduct is SgemmBF16PackedB's loops over the blocks of the
// packed B for the rows lo..hi of C (row blocks of mcStep), on the
// calling goroutine.
func (kn *gemmKernel) packedProduct(ws *gemmWorkspace, transA bool, n, k, kcStep, ncStep, mcStep int, alpha float32, a []float32, lda int, pb []float32, beta float32, c []float32, ldc, lo, hi int) {
	nr := kn.nr
	off := 0
	for jc := 0; jc < n; jc += ncStep {
		nc := min(ncStep, n-jc)
		for pc := 0; pc < k; pc += kcStep {
			kc := min(kcStep, k-pc)
			kd := kn.depth(kc)
			bp := pb[off : off+gemmRoundUp(nc, nr)*kd]
			off += len(bp)
			bs := gemmB{b: bp, ldb: nr, step: kd * nr}
			if nc%nr != 0 {
				bs.edge = bp[nc/nr*kd*nr:]
			}
			for ic := lo; ic < hi; ic += mcStep {
				mc := min(mcStep, hi-ic)
				kn.packA(ws.ap, transA, a, lda, ic, pc, mc, kc, alpha)
				kn.macro(ws, mc, nc, kd, bs, c[ic*ldc+jc:], ldc, pc > 0 || beta != 0, nil)
			}
		}
	}
}
