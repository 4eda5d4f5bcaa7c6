//go:build !purego

package asm

// sgemmBlockNEON is the NEON 8×12 block kernel (see gemmKernel.block).
//
//go:noescape
func sgemmBlockNEON(a, b, c *float32, kc, ldb, bstep, ldc, mTiles, nTiles, accum int, bias *float32)

// sgemmPackB12NEON is gemmKernel.packBAsm for nr = 12.
//
//go:noescape
func sgemmPackB12NEON(dst, src *float32, kc, ldb, nPanels, rows int)

// sgemmPackBT4NEON is gemmKernel.packBTAsm (4×4 NEON transposes).
//
//go:noescape
func sgemmPackBT4NEON(dst, src *float32, ldb, ldd, kBlocks int)

// Blocking from BLIS's Cortex-A57 configuration: the 640×12 B micro-panel
// (30 KiB) fits a 32 KiB L1d, the 120×640 A block a 1 MiB L2 with room.
var neonGemm = &gemmKernel{
	name: "neon", mr: 8, nr: 12, mc: 120, kc: 640, nc: 3072,
	block: sgemmBlockNEON, packBAsm: sgemmPackB12NEON,
	packBTAsm: sgemmPackBT4NEON, bt: 4,
}

func archGemmKernel(l Level) *gemmKernel {
	if l == NEON {
		return neonGemm
	}
	return nil
}
