//go:build !purego

package asm

import "github.com/klauspost/cpuid/v2"

// sgemmBlockBF16AVX512 is the AVX512_BF16 12×32 block kernel (see
// gemmKernel.block, with kp pairs of k for kc).
//
//go:noescape
func sgemmBlockBF16AVX512(a, b, c *float32, kp, ldb, bstep, ldc, mTiles, nTiles, accum int, bias *float32)

// sgemmPackPairsT16BF16 is gemmKernel.packAPairsAsm (AVX512_BF16,
// AVX512BW).
//
//go:noescape
func sgemmPackPairsT16BF16(dst, src *float32, lds, ldd, rows, qBlocks int)

// sgemmPackBPairs32BF16 is gemmKernel.packBPairsAsm for nr = 32
// (AVX512_BF16, AVX512BW).
//
//go:noescape
func sgemmPackBPairs32BF16(dst, src *float32, kp, ldb, nPanels, qRows int)

// sgemmPackATPairs12BF16 is gemmKernel.packATPairsAsm for mr = 12
// (AVX512_BF16, AVX512BW).
//
//go:noescape
func sgemmPackATPairs12BF16(dst, src *float32, kp, lda, nPanels, qRows, rows int)

// hasAVX512BF16 reports whether the bfloat16 kernels can run: VDPBF16PS and
// VCVTNE2PS2BF16 (AVX512_BF16) and VPERMW (AVX512BW).
var hasAVX512BF16 = cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512BF16)

// The bfloat16 kernel has the float32 one's tile and L1 footprint: 192
// pairs (384 values of k) × 32 columns of B pairs is 24 KiB.
var bf16Gemm = &gemmKernel{
	name: "avx512bf16", mr: 12, nr: 32, mc: 144, kc: 384, nc: 4096, pairs: true,
	block:          sgemmBlockBF16AVX512,
	biasAdd:        true,
	packAPairsAsm:  sgemmPackPairsT16BF16,
	packBPairsAsm:  sgemmPackBPairs32BF16,
	packATPairsAsm: sgemmPackATPairs12BF16,
	dotT:           sgemmDotBF16,
	dotStored:      sgemmDotStoredBF16,
	dotMaxM:        bf16DotMaxM,
	dotMinNK:       bf16DotMinNK,
}

// bf16GemmStored is bf16Gemm packing B from bfloat16 pairs in place
// (gemmKernel.stored), transposing them in the float32 kernels' 8×8
// blocks.
var bf16GemmStored = &gemmKernel{}

func init() {
	*bf16GemmStored = *bf16Gemm
	bf16GemmStored.storedB = true
	bf16GemmStored.packBTAsm, bf16GemmStored.bt = sgemmPackBT8AVX2, 8
	bf16Gemm.stored = bf16GemmStored
}

// bf16KernelFor returns the bfloat16 kernel of level l, or nil where l has
// none on this CPU.
func bf16KernelFor(l Level) *gemmKernel {
	if l == AVX512 && hasAVX512BF16 {
		return bf16Gemm
	}
	return nil
}
