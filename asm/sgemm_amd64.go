//go:build !purego

package asm

// sgemmBlockAVX2 is the AVX2+FMA 6×16 block kernel (see gemmKernel.block).
//
//go:noescape
func sgemmBlockAVX2(a, b, c *float32, kc, ldb, bstep, ldc, mTiles, nTiles, accum int, bias *float32)

// sgemmBlockAVX2A is the AVX2+FMA 6×16 kernel reading A unpacked (see
// gemmKernel.blockA).
//
//go:noescape
func sgemmBlockAVX2A(a, b, c *float32, kc, ldb, bstep, ldc, mTiles, nTiles, accum, lda int, bias *float32)

// sgemmBlockAVX512 is the AVX-512F 12×32 block kernel (see gemmKernel.block).
//
//go:noescape
func sgemmBlockAVX512(a, b, c *float32, kc, ldb, bstep, ldc, mTiles, nTiles, accum int, bias *float32)

// sgemmBlockAVX512A is sgemmBlockAVX512 with A read in place, row stride
// lda (see gemmKernel.blockA).
//
//go:noescape
func sgemmBlockAVX512A(a, b, c *float32, kc, ldb, bstep, ldc, mTiles, nTiles, accum, lda int, bias *float32)

// sgemmPackB16AVX2 and sgemmPackB32AVX2 are gemmKernel.packBAsm for
// nr = 16 and 32 (AVX only).
//
//go:noescape
func sgemmPackB16AVX2(dst, src *float32, kc, ldb, nPanels, rows int)

//go:noescape
func sgemmPackB32AVX2(dst, src *float32, kc, ldb, nPanels, rows int)

// sgemmPackA6AVX2 and sgemmPackAT6AVX2 are gemmKernel.packAAsm and
// packATAsm for mr = 6.
//
//go:noescape
func sgemmPackA6AVX2(dst, src *float32, lda, kBlocks int, alpha float32)

//go:noescape
func sgemmPackAT6AVX2(dst, src *float32, kc, lda, nPanels, rows int, alpha float32)

// sgemmPackA12AVX512 is gemmKernel.packAAsm for mr = 12 (16 columns per
// block).
//
//go:noescape
func sgemmPackA12AVX512(dst, src *float32, lda, kBlocks int, alpha float32)

// sgemmPackAT12AVX2 is gemmKernel.packATAsm for mr = 12 (AVX only).
//
//go:noescape
func sgemmPackAT12AVX2(dst, src *float32, kc, lda, nPanels, rows int, alpha float32)

// sgemmPackBT8AVX2 is gemmKernel.packBTAsm (8×8 AVX transposes).
//
//go:noescape
func sgemmPackBT8AVX2(dst, src *float32, ldb, ldd, kBlocks int)

// Blocking for Zen 3 (32 KiB L1d, 512 KiB L2 per core): the 256×16 B
// micro-panel fills half of L1, the 144×256 A block under a third of L2.
var avx2Gemm = &gemmKernel{
	name: "avx2", mr: 6, nr: 16, mc: 144, kc: 256, nc: 4080,
	block: sgemmBlockAVX2, blockA: sgemmBlockAVX2A, packBAsm: sgemmPackB16AVX2,
	packBTAsm: sgemmPackBT8AVX2, bt: 8,
	packAAsm: sgemmPackA6AVX2, packATAsm: sgemmPackAT6AVX2,
}

// The 256×32 B micro-panel (32 KiB) stays in a 48 KiB L1d (Zen 4/5,
// Sapphire Rapids); the 144×256 A block takes 144 KiB of L2.
var avx512Gemm = &gemmKernel{
	name: "avx512", mr: 12, nr: 32, mc: 144, kc: 256, nc: 4096,
	block: sgemmBlockAVX512, blockA: sgemmBlockAVX512A, biasAdd: true, edge: avx512Edge, packBAsm: sgemmPackB32AVX2,
	packBTAsm: sgemmPackBT8AVX2, bt: 8,
	packAAsm: sgemmPackA12AVX512, packACols: 16, packATAsm: sgemmPackAT12AVX2,
	directBMaxM: 256,
}

func archGemmKernel(l Level) *gemmKernel {
	switch l {
	case AVX2:
		return avx2Gemm
	case AVX512:
		return avx512Gemm
	}
	return nil
}

// sgemmEdge4AVX512 and sgemmEdge8AVX512 compute the first 4 or 8 rows of
// the 12×32 tiles of sgemmBlockAVX512 with one row tile and accum = 0,
// bit for bit (see sgemm_edge_amd64.s).
//
//go:noescape
func sgemmEdge4AVX512(a, b, c *float32, kc, ldb, bstep, ldc, nTiles int)

//go:noescape
func sgemmEdge8AVX512(a, b, c *float32, kc, ldb, bstep, ldc, nTiles int)

// avx512Edge is avx512Gemm's edge: the 4- and 8-row kernels, which cost
// about a third and two thirds of the 12-row one (a block of 50 rows, the
// image encoder's batch 1, has a 2-row edge tile: a fifth of its work on
// rows that are thrown away).
func avx512Edge(rows int) func(a, b, c *float32, kc, ldb, bstep, ldc, nTiles int) {
	switch {
	case rows <= 4:
		return sgemmEdge4AVX512
	case rows <= 8:
		return sgemmEdge8AVX512
	}
	return nil
}
