package asm

// Packed SGEMM (Goto/BLIS). For each kc×nc panel of op(B) (loops jc, pc)
// the panel is packed into nr-wide micro-panels; for each mc×kc block of
// alpha·op(A) (loop ic) the block is packed into mr-tall micro-panels; one
// assembly call then runs the jr and ir loops over a chunk of the block,
// keeping an mr×nr tile of C in registers for kc rank-1 updates. Transposes
// and alpha are absorbed by the packing, so every transpose combination
// runs the same kernel. Packs are zero-padded to whole tiles; partial C
// tiles go through a small buffer, so assembly never touches memory outside
// the slices. Goroutines share each packed B panel and split the rows of C.

import (
	"fmt"
)

// gemmKernel is one SIMD micro-kernel with its register tile (mr×nr) and
// cache blocking (mc×kc block of A in L2, kc×nr micro-panel of B in L1,
// kc×nc panel of B in L3).
type gemmKernel struct {
	name       string
	mr, nr     int
	mc, kc, nc int

	// block runs the jr and ir loops of one packed block in assembly:
	//
	//	for jr := 0; jr < nTiles; jr++ {
	//		for ir := 0; ir < mTiles; ir++ {
	//			// tile = Ã[ir] · B̃[jr], an mr×nr tile
	//			for i < mr, j < nr:
	//				C[ir*mr+i][jr*nr+j] = tile[i][j] + (accum == 1 ? C[ir*mr+i][jr*nr+j] : 0)
	//				                                 + (accum == 2 ? bias[jr*nr+j] : 0)
	//		}
	//	}
	//
	// Ã[ir] is the packed micro-panel a[ir*kc*mr:], element (i,p) at
	// p*mr+i. B̃[jr] starts at b[jr*bstep:] with element (p,j) at p*ldb+j:
	// a packed micro-panel has ldb = nr and bstep = kc*nr; an unpacked
	// row-major B has its own ldb and bstep = nr. c points at C's top-left
	// element, row stride ldc. Only whole tiles are written. accum 2 (the
	// bias of SgemmBias, nTiles·nr floats; C not read) only where biasAdd.
	block func(a, b, c *float32, kc, ldb, bstep, ldc, mTiles, nTiles, accum int, bias *float32)

	// blockA, if set, is block with A read unpacked from a row-major
	// matrix of row stride lda: row tile ir starts at a[ir*mr*lda:] and
	// element (i,p) of it is a[(ir*mr+i)*lda+p]. The driver uses it when A
	// is not transposed and alpha is 1, and packs no A.
	blockA func(a, b, c *float32, kc, ldb, bstep, ldc, mTiles, nTiles, accum, lda int, bias *float32)

	// biasAdd reports that block and blockA take accum 2. Without it the
	// driver fills C's rows with the bias and adds (accum 1).
	biasAdd bool

	// packBAsm, if set, packs rows of whole micro-panels of a row-major B
	// (see gemmKernel.packB): for p < rows, jp < nPanels, row p of panel jp
	// (nr floats at dst[(jp*kc+p)*nr:]) = src[p*ldb+jp*nr:][:nr].
	packBAsm func(dst, src *float32, kc, ldb, nPanels, rows int)

	// packBTAsm, if set, transposes bt rows of a stored n×k B into bt
	// columns of a packed panel, bt×bt at a time: for q < kBlocks, r < bt,
	// j < bt: dst[(bt*q+r)*ldd+j] = src[j*ldb+bt*q+r]. nr%bt == 0.
	packBTAsm func(dst, src *float32, ldb, ldd, kBlocks int)
	bt        int

	// packAAsm, if set, packs packACols·kBlocks columns of mr whole rows
	// of a row-major A (not transposed) into one micro-panel, scaled by
	// alpha: dst[p*mr+i] = alpha*src[i*lda+p].
	packAAsm  func(dst, src *float32, lda, kBlocks int, alpha float32)
	packACols int // 8 when 0

	// packATAsm, if set, packs rows of nPanels whole micro-panels of a
	// transposed A (stored k×m): for p < rows, ip < nPanels, i < mr:
	// dst[ip*kc*mr+p*mr+i] = alpha*src[p*lda+ip*mr+i].
	packATAsm func(dst, src *float32, kc, lda, nPanels, rows int, alpha float32)

	// edge, if set, returns a kernel that computes the first rows of a
	// one-row-tile call of block with accum = 0 (C tile = Ã·B̃ for rows
	// rows at least), bit for bit as block does, at less cost; or nil
	// when it has none for that many rows. It runs the bottom edge tile of
	// a block whose row count is not a multiple of mr.
	edge func(rows int) func(a, b, c *float32, kc, ldb, bstep, ldc, nTiles int)

	// directBMaxM, when set, is the most rows of C for which the serial
	// GEMM reads a row-major B in place (see directB) instead of packing it.
	directBMaxM int

	// pairs marks a bfloat16 kernel: its packed operands hold pairs of
	// bfloat16 values of consecutive k in 32-bit slots (packAPairs,
	// packBPairs), and block gets the number of pairs, ⌈kc/2⌉, for kc.
	pairs bool

	// packAPairsAsm, if set, converts and transposes 16-pair blocks:
	// for q < 16·qBlocks, r < rows (≤ 16): dst[q*ldd+r] = the pair of
	// src[r*lds+2q] and src[r*lds+2q+1] rounded to bfloat16 (A rows into
	// a micro-panel, or rows of a stored n×k B into a panel).
	packAPairsAsm func(dst, src *float32, lds, ldd, rows, qBlocks int)

	// packBPairsAsm, if set, packs pairs of rows of a row-major B into
	// whole micro-panels: for q < qRows, jp < nPanels, j < nr:
	// dst[(jp*kp+q)*nr+j] = the pair of src[2q*ldb+jp*nr+j] and
	// src[(2q+1)*ldb+jp*nr+j].
	packBPairsAsm func(dst, src *float32, kp, ldb, nPanels, qRows int)

	// packATPairsAsm, if set, packs pairs of rows of a transposed A
	// (stored k×m) into whole micro-panels: for q < qRows, ip < nPanels,
	// i < mr: dst[(ip*kp+q)*mr+i] = the pair of src[2q*lda+ip*mr+i] and
	// src[(2q+1)*lda+ip*mr+i] (the weight gradients' dW = dYᵀ·X); with
	// rows < mr only the first rows elements of each panel row are read
	// and the pairs of the others are zero (a short last panel).
	packATPairsAsm func(dst, src *float32, kp, lda, nPanels, qRows, rows int)

	// dotT, when set, computes the product of at most dotMaxM rows of
	// alpha·op(A) with B stored n×k, n·k at least dotMinNK, instead of the
	// packed GEMM (with a bias, beta 0: + bias in every row), on at most
	// threads goroutines: the bfloat16 kernel's dot form (sgemmDotBF16).
	dotT              func(threads int, transA bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32)
	dotMaxM, dotMinNK int

	// dotStored, when set, is dotT (alpha 1, no bias) for B stored n×k in
	// bfloat16, read in place (SgemmBF16StoredT); k a multiple of 32.
	dotStored func(threads int, m, n, k int, a []float32, lda int, s []uint16, lds int, beta float32, c []float32, ldc int)

	// stored, when set, is this kernel packing op(B) = Sᵀ from S (n×k)
	// stored in bfloat16 (SgemmBF16StoredT): its packBPairs takes B
	// transposed as S's 32-bit slots, two bfloat16 values of consecutive
	// k each, and ldb in slots (storedB), so every path of sgemmParallel
	// runs on S unchanged, with the same blocking and kernel as on the
	// widened S.
	stored  *gemmKernel
	storedB bool
}

// takesDot reports whether a product of m rows against B stored n×k takes
// the kernel's dot form (dotT) instead of the packed GEMM: SgemmBF16
// decides by it, and SgemmBF16StoredT, which must decide as SgemmBF16 does
// to store the same values, too. kn may be nil.
func (kn *gemmKernel) takesDot(m, n, k int) bool {
	return kn != nil && kn.dotT != nil && m <= kn.dotMaxM && n*k >= kn.dotMinNK
}

// depth returns the packed depth of a kc-deep block: kc, or the number of
// bfloat16 pairs.
func (kn *gemmKernel) depth(kc int) int {
	if kn.pairs {
		return (kc + 1) / 2
	}
	return kc
}

// callFlops bounds the work of one assembly call (about 50 µs), because
// assembly is never preempted.
const callFlops = 4 << 20

// gemmKernelFor returns the packed kernel of level l, or nil (the generic
// reference) for Generic or a level without a GEMM kernel.
func gemmKernelFor(l Level) *gemmKernel {
	if !Supported(l) {
		panic(fmt.Sprintf("asm.Sgemm: level %v not supported on this CPU/build", l))
	}
	if l == Generic {
		return nil
	}
	return archGemmKernel(l)
}

// gemmWorkspace holds one goroutine's packing buffers.
type gemmWorkspace struct {
	ap, bp, tile []float32
}

// workspaces holds idle packing buffers across calls and collections.
var workspaces freeList[gemmWorkspace]

func gemmRoundUp(x, m int) int { return (x + m - 1) / m * m }

func growTo(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// blockSize splits total into equal steps of at most max, rounded up to a
// multiple of unit, so that the last block is not a sliver.
func blockSize(total, maxStep, unit int) int {
	nb := (total + maxStep - 1) / maxStep
	return min(gemmRoundUp((total+nb-1)/nb, unit), maxStep)
}

func getWorkspace(kn *gemmKernel, m, n, k int) *gemmWorkspace {
	kcMax, ncMax := kn.blocking(m)
	kc := blockSize(k, kcMax, 1)
	mc := gemmRoundUp(blockSize(m, kn.mc, kn.mr), kn.mr)
	nc := gemmRoundUp(blockSize(n, ncMax, kn.nr), kn.nr)
	return getWorkspaceSized(kn, mc, nc, kc, true)
}

// getWorkspaceSized sizes a workspace for mc×kc A blocks, kc×nc B panels
// (if withB) and the edge tiles of an mc×nc macro-kernel call.
// It takes an idle workspace whose buffers are already large enough where
// there is one: GEMMs of different sizes (and the strips of a split one)
// return their workspaces in no fixed order, and growing a small one
// while a large one sits idle would allocate on every product.
func getWorkspaceSized(kn *gemmKernel, mc, nc, kc int, withB bool) *gemmWorkspace {
	na, nb, nt := mc*kc, nc*kc, max(kn.mr*nc, mc*kn.nr)
	ws := workspaces.getFit(func(w *gemmWorkspace) bool {
		return cap(w.ap) >= na && (!withB || cap(w.bp) >= nb) && cap(w.tile) >= nt
	})
	ws.ap = growTo(ws.ap, mc*kc)
	if withB {
		ws.bp = growTo(ws.bp, nc*kc)
	}
	ws.tile = growTo(ws.tile, max(kn.mr*nc, mc*kn.nr))
	return ws
}

// gemmShared is gemm on several goroutines sharing each packed B panel:
// for every (jc, pc) they pack the micro-panels of the B panel, then
// compute the row tiles of C against it, each phase a ParallelFor whose
// ranges (micro-panels, groups of row tiles) go to whichever goroutine is
// free, so a goroutine whose CPU is taken holds up only the range it has
// claimed. Each goroutine packs the A rows of its ranges into its own
// workspace. m/mr ≥ threads, k > 0, alpha != 0.
func (kn *gemmKernel) gemmShared(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	mr, nr := kn.mr, kn.nr
	kcMax, ncMax := kn.blocking(m)
	kcStep := blockSize(k, kcMax, 1)
	ncStep := blockSize(n, ncMax, nr)
	tiles := (m + mr - 1) / mr
	// Row ranges are claimed in grains of at most kn.mc rows (one packed
	// A block) and at most a 2·threads-th of the tiles, sized so that the
	// goroutines end together.
	grain := balancedGrain(tiles, max(1, min(kn.mc/mr, tiles/(2*threads))), threads)
	mcStep := grain * mr
	panelLen := gemmRoundUp(ncStep, nr) * kcStep
	shared := workspaces.getFit(func(w *gemmWorkspace) bool { return cap(w.bp) >= panelLen })
	shared.bp = growTo(shared.bp, panelLen)
	wss := make([]*gemmWorkspace, threads)
	for t := range wss {
		wss[t] = getWorkspaceSized(kn, mcStep, gemmRoundUp(ncStep, nr), kcStep, false)
	}
	direct := kn.directA(transA, alpha, ncStep, lda)
	bp := shared.bp
	for jc := 0; jc < n; jc += ncStep {
		nc := min(ncStep, n-jc)
		panels := (nc + nr - 1) / nr
		for pc := 0; pc < k; pc += kcStep {
			kc := min(kcStep, k-pc)
			kd := kn.depth(kc)
			ParallelFor(panels, 1, threads, func(_, p0, p1 int) {
				kn.packB(bp[p0*nr*kd:], transB, b, ldb, pc, jc+p0*nr, kc, min(nc, p1*nr)-p0*nr)
			})
			bs := gemmB{b: bp, ldb: nr, step: kd * nr}
			if nc%nr != 0 {
				bs.edge = bp[nc/nr*kd*nr:]
			}
			accum := pc > 0 || beta != 0
			bb := firstBias(bias, pc, jc)
			ParallelFor(tiles, grain, threads, func(w, t0, t1 int) {
				ws := wss[w]
				lo, hi := t0*mr, min(t1*mr, m)
				if pc == 0 && beta != 0 && beta != 1 {
					scaleC(hi-lo, nc, beta, c[lo*ldc+jc:], ldc)
				}
				for ic := lo; ic < hi; ic += mcStep {
					mc := min(mcStep, hi-ic)
					if direct {
						kn.macroA(ws, a[ic*lda+pc:], lda, mc, nc, kc, bs, c[ic*ldc+jc:], ldc, accum, bb)
						continue
					}
					kn.packA(ws.ap, transA, a, lda, ic, pc, mc, kc, alpha)
					kn.macro(ws, mc, nc, kd, bs, c[ic*ldc+jc:], ldc, accum, bb)
				}
			})
		}
	}
	workspaces.put(shared)
	for _, ws := range wss {
		workspaces.put(ws)
	}
}

// blocking returns the largest kc and nc for an m-row GEMM. With few row
// tiles each packed B micro-panel is used only a few times, right after it
// is packed, and the GEMM is bound by reading B from memory: the B panel is
// then kept small enough (256 KiB) to stay in L2 between packing and use.
func (kn *gemmKernel) blocking(m int) (kc, nc int) {
	if m > 4*kn.mr {
		return kn.kc, kn.nc
	}
	kc = min(kn.kc, gemmSmallKC)
	return kc, max(kn.nr, min(kn.nc, gemmSmallPanel/(4*kc)/kn.nr*kn.nr))
}

// Few-row blocking: kc at most 256, a 256 KiB B panel.
const gemmSmallKC, gemmSmallPanel = 256, 1 << 18

// gemm is the five-loop packed GEMM on one goroutine. m, n, k > 0 and
// alpha != 0; the slices have been checked.
func (kn *gemmKernel) gemm(ws *gemmWorkspace, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	if beta != 0 && beta != 1 {
		scaleC(m, n, beta, c, ldc)
	}
	mr, nr := kn.mr, kn.nr
	kcMax, ncMax := kn.blocking(m)
	kcStep := blockSize(k, kcMax, 1)
	mcStep := blockSize(m, kn.mc, mr)
	ncStep := blockSize(n, ncMax, nr)
	direct := kn.directA(transA, alpha, ncStep, lda)
	directB := kn.directB(transB, m, ldb)
	for jc := 0; jc < n; jc += ncStep {
		nc := min(ncStep, n-jc)
		for pc := 0; pc < k; pc += kcStep {
			kc := min(kcStep, k-pc)
			kd := kn.depth(kc)
			var bs gemmB
			if directB {
				// Whole micro-panels in place; the right edge packed.
				bs = gemmB{b: b[pc*ldb+jc:], ldb: ldb, step: nr}
				if nc%nr != 0 {
					kn.packB(ws.bp, false, b, ldb, pc, jc+nc/nr*nr, kc, nc%nr)
					bs.edge = ws.bp[:kd*nr]
				}
			} else {
				kn.packB(ws.bp, transB, b, ldb, pc, jc, kc, nc)
				bs = gemmB{b: ws.bp, ldb: nr, step: kd * nr}
				if nc%nr != 0 {
					bs.edge = ws.bp[nc/nr*kd*nr:]
				}
			}
			accum := pc > 0 || beta != 0
			bb := firstBias(bias, pc, jc)
			for ic := 0; ic < m; ic += mcStep {
				mc := min(mcStep, m-ic)
				if direct {
					kn.macroA(ws, a[ic*lda+pc:], lda, mc, nc, kc, bs, c[ic*ldc+jc:], ldc, accum, bb)
					continue
				}
				kn.packA(ws.ap, transA, a, lda, ic, pc, mc, kc, alpha)
				kn.macro(ws, mc, nc, kd, bs, c[ic*ldc+jc:], ldc, accum, bb)
			}
		}
	}
}

// firstBias returns the bias of the columns from jc for the first k block
// (pc 0), whose products store into C, or nil: later blocks add to C.
func firstBias(bias []float32, pc, jc int) []float32 {
	if bias == nil || pc > 0 {
		return nil
	}
	return bias[jc:]
}

// gemmB locates the B operand of one macro-kernel call: whole micro-panels
// at b[jr*step:] with row stride ldb, and the packed, zero-padded right edge
// micro-panel (nil when nc is a multiple of nr).
type gemmB struct {
	b         []float32
	ldb, step int
	edge      []float32
}

// macro computes the mc×nc block of C from the packed mc×kc block of A in
// ws.ap and the B operand bs (kc is the packed depth, see depth). Whole tiles go straight to C; edge tiles go
// through ws.tile so the kernel never writes past C. With a bias (the
// first k block of SgemmBias; accum false) C = product + bias.
func (kn *gemmKernel) macro(ws *gemmWorkspace, mc, nc, kc int, bs gemmB, c []float32, ldc int, accum bool, bias []float32) {
	mr, nr := kn.mr, kn.nr
	ap := ws.ap
	mFull, mRem := mc/mr, mc%mr
	nFull, nRem := nc/nr, nc%nr
	acc := 0
	if accum {
		acc = 1
	}
	tileFlops := 2 * mr * nr * kc
	chunk := max(1, callFlops/(tileFlops*max(mFull, 1)))
	for j0 := 0; j0 < nFull; j0 += chunk {
		cnt := min(chunk, nFull-j0)
		if mFull > 0 {
			acc, bp := kn.tileBias(acc, bias, j0*nr, c[j0*nr:], ldc, mFull*mr, cnt*nr)
			kn.block(&ap[0], &bs.b[j0*bs.step], &c[j0*nr], kc, bs.ldb, bs.step, ldc, mFull, cnt, acc, bp)
		}
		if mRem > 0 {
			// Bottom edge: rows mFull*mr.. of these panels, via the tile buffer.
			t := ws.tile[:mr*cnt*nr]
			if e := kn.edgeKernel(mRem); e != nil {
				e(&ap[mFull*mr*kc], &bs.b[j0*bs.step], &t[0], kc, bs.ldb, bs.step, cnt*nr, cnt)
			} else {
				kn.block(&ap[mFull*mr*kc], &bs.b[j0*bs.step], &t[0], kc, bs.ldb, bs.step, cnt*nr, 1, cnt, 0, nil)
			}
			addTile(c[mFull*mr*ldc+j0*nr:], ldc, t, cnt*nr, mRem, cnt*nr, accum, biasAt(bias, j0*nr))
		}
	}
	if nRem > 0 {
		// Right edge micro-panel for all row tiles (the last one partial).
		mTiles := (mc + mr - 1) / mr
		chunk := max(1, callFlops/tileFlops)
		for i0 := 0; i0 < mTiles; i0 += chunk {
			cnt := min(chunk, mTiles-i0)
			t := ws.tile[:cnt*mr*nr]
			kn.block(&ap[i0*mr*kc], &bs.edge[0], &t[0], kc, nr, kc*nr, nr, cnt, 1, 0, nil)
			addTile(c[i0*mr*ldc+nFull*nr:], ldc, t, nr, min(cnt*mr, mc-i0*mr), nRem, accum, biasAt(bias, nFull*nr))
		}
	}
}

// tileBias returns the accum and bias arguments of a block call over the
// rows×cols of C at c whose bias (if any) starts at bias[j:]: the kernel
// adds the bias (accum 2) where it can, else C's rows are filled with it
// and the kernel adds C (accum 1). Without a bias, acc and nil.
func (kn *gemmKernel) tileBias(acc int, bias []float32, j int, c []float32, ldc, rows, cols int) (int, *float32) {
	if bias == nil {
		return acc, nil
	}
	if kn.biasAdd {
		return 2, &bias[j]
	}
	fillRows(c, ldc, bias[j:], rows, cols)
	return 1, nil
}

// biasAt returns bias[j:], or nil.
func biasAt(bias []float32, j int) []float32 {
	if bias == nil {
		return nil
	}
	return bias[j:]
}

// edgeKernel returns kn.edge(rows), or nil.
func (kn *gemmKernel) edgeKernel(rows int) func(a, b, c *float32, kc, ldb, bstep, ldc, nTiles int) {
	if kn.edge == nil {
		return nil
	}
	return kn.edge(rows)
}

// directA reports whether the kernel reads A unpacked (blockA) for these
// arguments, panels of B at most nc wide and A's row stride lda. Each A
// row tile is read once per micro-panel of the B panel: for a narrow panel
// packing A costs more than it saves, for a wide one (many passes) packing
// pays. A stride of a multiple of 1024 floats (4 KiB) puts every row of a
// tile in one set of a 64-set L1d (Zen 3/4/5: 32 or 48 KiB), more rows
// than it has ways, so such an A is packed whatever the panel. Measured on
// a Zen 4 core (AVX-512, interleaved, 1 thread, GFLOP/s, in place →
// packed, m×k×n): 600×2048×512 101-102 → 107-109, 832×1024×256 (x·Wᵀ)
// 100-104 → 109-110, 600×3072×512 101-103 → 108-109, 832×2048×256
// 103 → 107-109; with lda 256, 512 or 768 in place ran level or faster
// (600×512×512 112.5 → 111.5, 832×512×256 x·Wᵀ 109-110 → 106-108).
func (kn *gemmKernel) directA(transA bool, alpha float32, nc, lda int) bool {
	return !transA && alpha == 1 && kn.blockA != nil && nc <= directMaxNC && lda%1024 != 0
}

// directMaxNC is the widest B panel for which A is read unpacked.
const directMaxNC = 512

// directB reports whether the serial GEMM reads B in place: B not
// transposed, at most kn.directBMaxM rows of C, and a row stride that is
// not a multiple of 512 floats. Each packed element of B serves m rows of
// C, so with few rows packing B costs a large share of the product (the
// weight gradients dW = dYᵀ·X of a small model: 64×256 from 832 rows);
// read in place, a micro-panel's rows lie ldb apart, and a stride of a
// multiple of 2 KiB would crowd them into a few sets of L2. Measured on a
// Zen 5 core (AVX-512, interleaved, medians of 30, GFLOP/s, packed → in
// place, m×n×k, A transposed): 64×256×832 146 → 165, 64×64×832 124 →
// 141, 64×256×352 149 → 176, 192×64×832 158 → 167, 256×64×832 152 → 157;
// with 832 rows it ran 0-3% slower (209 → 203-211), hence the bound.
func (kn *gemmKernel) directB(transB bool, m, ldb int) bool {
	return !transB && !kn.pairs && m <= kn.directBMaxM && ldb%512 != 0
}

// macroA is macro with A read unpacked: a is the mc×kc block of a
// row-major A (row stride lda). Whole row tiles go to blockA; the last,
// partial one is packed (zero padded) into ws.ap and goes through block.
func (kn *gemmKernel) macroA(ws *gemmWorkspace, a []float32, lda, mc, nc, kc int, bs gemmB, c []float32, ldc int, accum bool, bias []float32) {
	mr, nr := kn.mr, kn.nr
	mFull, mRem := mc/mr, mc%mr
	nFull, nRem := nc/nr, nc%nr
	if mRem > 0 {
		kn.packA(ws.ap, false, a, lda, mFull*mr, 0, mRem, kc, 1)
	}
	acc := 0
	if accum {
		acc = 1
	}
	tileFlops := 2 * mr * nr * kc
	chunk := max(1, callFlops/(tileFlops*max(mFull, 1)))
	for j0 := 0; j0 < nFull; j0 += chunk {
		cnt := min(chunk, nFull-j0)
		if mFull > 0 {
			acc, bp := kn.tileBias(acc, bias, j0*nr, c[j0*nr:], ldc, mFull*mr, cnt*nr)
			kn.blockA(&a[0], &bs.b[j0*bs.step], &c[j0*nr], kc, bs.ldb, bs.step, ldc, mFull, cnt, acc, lda, bp)
		}
		if mRem > 0 {
			t := ws.tile[:mr*cnt*nr]
			kn.block(&ws.ap[0], &bs.b[j0*bs.step], &t[0], kc, bs.ldb, bs.step, cnt*nr, 1, cnt, 0, nil)
			addTile(c[mFull*mr*ldc+j0*nr:], ldc, t, cnt*nr, mRem, cnt*nr, accum, biasAt(bias, j0*nr))
		}
	}
	if nRem > 0 {
		// Right edge micro-panel: whole row tiles, then the partial one,
		// through the tile buffer.
		chunk := max(1, callFlops/tileFlops)
		for i0 := 0; i0 < mFull; i0 += chunk {
			cnt := min(chunk, mFull-i0)
			t := ws.tile[:cnt*mr*nr]
			kn.blockA(&a[i0*mr*lda], &bs.edge[0], &t[0], kc, nr, kc*nr, nr, cnt, 1, 0, lda, nil)
			addTile(c[i0*mr*ldc+nFull*nr:], ldc, t, nr, cnt*mr, nRem, accum, biasAt(bias, nFull*nr))
		}
		if mRem > 0 {
			t := ws.tile[:mr*nr]
			kn.block(&ws.ap[0], &bs.edge[0], &t[0], kc, nr, kc*nr, nr, 1, 1, 0, nil)
			addTile(c[mFull*mr*ldc+nFull*nr:], ldc, t, nr, mRem, nRem, accum, biasAt(bias, nFull*nr))
		}
	}
}

// addTile stores (accum false) or adds (accum true) the rows×cols top-left
// part of tile t (row stride ldt) into C; with a bias (accum false) it
// stores t + bias in every row.
func addTile(c []float32, ldc int, t []float32, ldt, rows, cols int, accum bool, bias []float32) {
	for i := 0; i < rows; i++ {
		cr := c[i*ldc : i*ldc+cols]
		tr := t[i*ldt : i*ldt+cols]
		if bias != nil {
			for j, v := range tr {
				cr[j] = v + bias[j]
			}
			continue
		}
		if !accum {
			copy(cr, tr)
			continue
		}
		for j, v := range tr {
			cr[j] += v
		}
	}
}

// packA packs the mc×kc block of alpha·op(A) at (ic, pc) into mr-row
// micro-panels: panel ip/mr holds element (i,p) at ip*kc + p*mr + i, and
// rows past mc are zero.
func (kn *gemmKernel) packA(dst []float32, transA bool, a []float32, lda, ic, pc, mc, kc int, alpha float32) {
	if kn.pairs {
		kn.packAPairs(dst, transA, a, lda, ic, pc, mc, kc, alpha)
		return
	}
	mr := kn.mr
	full := mc / mr // whole micro-panels
	if transA {
		// op(A)(i,p) = a[p*lda+i]: each source row holds runs of mr
		// contiguous elements, one per micro-panel. Walk the source rows
		// in order (a panel-by-panel walk reads with stride lda, which
		// thrashes one cache set when lda is a power of two).
		ip0 := 0
		if kn.packATAsm != nil && full > 0 && kc > 0 {
			kn.packATAsm(&dst[0], &a[pc*lda+ic], kc, lda, full, kc, alpha)
			ip0 = full * mr
		}
		for p := 0; p < kc; p++ {
			off := (pc+p)*lda + ic
			for ip := ip0; ip < mc; ip += mr {
				rows := min(mr, mc-ip)
				src := a[off+ip : off+ip+rows]
				dd := dst[ip*kc+p*mr : ip*kc+p*mr+mr]
				for ii, v := range src {
					dd[ii] = alpha * v
				}
				clear(dd[rows:])
			}
		}
		return
	}
	for ip := 0; ip < mc; ip += mr {
		rows := min(mr, mc-ip)
		d := dst[ip*kc : ip*kc+mr*kc]
		p0 := 0
		if cols := max(kn.packACols, 8); rows == mr && kn.packAAsm != nil && kc >= cols {
			// Whole column blocks in assembly, the rest in Go.
			p0 = kc / cols * cols
			kn.packAAsm(&d[0], &a[(ic+ip)*lda+pc], lda, kc/cols, alpha)
		}
		if rows == 6 && mr == 6 && p0 < kc {
			// op(A)(i,p) = a[i*lda+p], the 6-row AVX2 panel: six source
			// row streams, one sequential destination stream.
			off := (ic+ip)*lda + pc
			r0 := a[off+p0 : off+kc]
			r1 := a[off+lda+p0 : off+lda+kc]
			r2 := a[off+2*lda+p0 : off+2*lda+kc]
			r3 := a[off+3*lda+p0 : off+3*lda+kc]
			r4 := a[off+4*lda+p0 : off+4*lda+kc]
			r5 := a[off+5*lda+p0 : off+5*lda+kc]
			dp := d[p0*6:]
			for p := range r0 {
				dd := (*[6]float32)(dp[p*6 : p*6+6])
				dd[0], dd[1], dd[2] = alpha*r0[p], alpha*r1[p], alpha*r2[p]
				dd[3], dd[4], dd[5] = alpha*r3[p], alpha*r4[p], alpha*r5[p]
			}
			continue
		}
		if rows == 12 && mr == 12 {
			// The 12-row AVX-512 panel: twelve source row streams, one
			// sequential destination stream (a row-by-row scatter with
			// stride 12 is several times slower).
			off := (ic+ip)*lda + pc
			var r [12][]float32
			for ii := range r {
				r[ii] = a[off+ii*lda+p0 : off+ii*lda+kc]
			}
			dp := d[p0*12:]
			for p := range r[0] {
				dd := (*[12]float32)(dp[p*12 : p*12+12])
				dd[0], dd[1], dd[2], dd[3] = alpha*r[0][p], alpha*r[1][p], alpha*r[2][p], alpha*r[3][p]
				dd[4], dd[5], dd[6], dd[7] = alpha*r[4][p], alpha*r[5][p], alpha*r[6][p], alpha*r[7][p]
				dd[8], dd[9], dd[10], dd[11] = alpha*r[8][p], alpha*r[9][p], alpha*r[10][p], alpha*r[11][p]
			}
			continue
		}
		// op(A)(i,p) = a[i*lda+p]: each source row scatters with stride mr.
		for ii := 0; ii < rows; ii++ {
			off := (ic+ip+ii)*lda + pc
			src := a[off+p0 : off+kc]
			dp := d[p0*mr:]
			if alpha == 1 {
				for p, v := range src {
					dp[p*mr+ii] = v
				}
			} else {
				for p, v := range src {
					dp[p*mr+ii] = alpha * v
				}
			}
		}
		for ii := rows; ii < mr; ii++ {
			for p := p0; p < kc; p++ {
				d[p*mr+ii] = 0
			}
		}
	}
}

// packB packs the kc×nc panel of op(B) at (pc, jc) into nr-column
// micro-panels: panel jp/nr holds element (p,j) at jp*kc + p*nr + j, and
// columns past nc are zero.
func (kn *gemmKernel) packB(dst []float32, transB bool, b []float32, ldb, pc, jc, kc, nc int) {
	if kn.pairs {
		kn.packBPairs(dst, transB, b, ldb, pc, jc, kc, nc)
		return
	}
	nr := kn.nr
	nFull := nc / nr
	rem := nc - nFull*nr
	if !transB {
		// op(B)(p,j) = b[p*ldb+j]: read B row by row (sequential memory),
		// dealing each row's nr-runs out to the micro-panels.
		if kn.packBAsm != nil && nFull > 0 {
			// Whole panels in assembly, about 64K floats per call.
			rows := max(1, (1<<16)/(nFull*nr))
			for p0 := 0; p0 < kc; p0 += rows {
				kn.packBAsm(&dst[p0*nr], &b[(pc+p0)*ldb+jc], kc, ldb, nFull, min(rows, kc-p0))
			}
		}
		for p := 0; p < kc; p++ {
			off := (pc+p)*ldb + jc
			row := b[off : off+nc]
			if kn.packBAsm == nil {
				for jp := 0; jp < nFull; jp++ {
					copy(dst[(jp*kc+p)*nr:(jp*kc+p)*nr+nr], row[jp*nr:])
				}
			}
			if rem > 0 {
				d := dst[(nFull*kc+p)*nr : (nFull*kc+p)*nr+nr]
				copy(d, row[nFull*nr:])
				clear(d[rem:])
			}
		}
		return
	}
	// op(B)(p,j) = b[j*ldb+p]: a transpose.
	jp0 := 0
	if bt := kn.bt; kn.packBTAsm != nil && kc >= bt {
		// Whole panels: bt×bt blocks in assembly, the last kc%bt rows in Go.
		kFull := kc / bt * bt
		for ; jp0+nr <= nc; jp0 += nr {
			d := dst[jp0*kc : jp0*kc+nr*kc]
			for g := 0; g < nr; g += bt {
				kn.packBTAsm(&d[g], &b[(jc+jp0+g)*ldb+pc], ldb, nr, kFull/bt)
			}
			for jj := 0; jj < nr; jj++ {
				off := (jc+jp0+jj)*ldb + pc
				for p := kFull; p < kc; p++ {
					d[p*nr+jj] = b[off+p]
				}
			}
		}
	}
	// Go: each source row scatters with stride nr.
	for jp := jp0; jp < nc; jp += nr {
		cols := min(nr, nc-jp)
		d := dst[jp*kc : jp*kc+nr*kc]
		for jj := 0; jj < cols; jj++ {
			off := (jc+jp+jj)*ldb + pc
			src := b[off : off+kc]
			for p, v := range src {
				d[p*nr+jj] = v
			}
		}
		for jj := cols; jj < nr; jj++ {
			for p := 0; p < kc; p++ {
				d[p*nr+jj] = 0
			}
		}
	}
}

// balancedGrain returns the grain, at most maxGrain and at least half of
// it, whose chunks (ParallelFor's: equal, the last one shorter) finish
// soonest when each chunk goes to the goroutine with the least work so
// far, as dynamic claiming hands them out on idle CPUs; of equal
// finishes, the largest grain. With 86 row tiles on 2 goroutines, for
// example, grains of 12 end at 48 tiles (7 chunks of 12 and one of 2:
// 4 chunks on one goroutine), grains of 11 at 44: 2-thread 1024³ runs
// ~6% faster.
func balancedGrain(tiles, maxGrain, threads int) int {
	if threads <= 1 || maxGrain <= 1 {
		return max(1, maxGrain)
	}
	var loads [64]int
	if threads > len(loads) {
		return maxGrain
	}
	best, bestEnd := maxGrain, -1
	for g := maxGrain; g >= max(1, (maxGrain+1)/2); g-- {
		l := loads[:threads]
		clear(l)
		for lo := 0; lo < tiles; lo += g {
			i := 0
			for j := range l {
				if l[j] < l[i] {
					i = j
				}
			}
			l[i] += min(g, tiles-lo)
		}
		end := 0
		for _, v := range l {
			end = max(end, v)
		}
		if bestEnd < 0 || end < bestEnd {
			best, bestEnd = g, end
		}
	}
	return best
}
