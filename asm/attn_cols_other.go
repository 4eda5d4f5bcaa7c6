//go:build !amd64 || purego

package asm

// Only the AVX-512 level has the column passes of the small-head
// attention path; elsewhere attention runs the tiled path.

func attnColsArch(Level) bool { return false }

func attnColsFwd([]float32, int, int, int, int, float32, []float32, int, []float32) {
	panic("asm: attnColsFwd without AVX-512")
}

func attnColsBwd([]float32, []float32, int, int, int, int, float32, []float32, int, []float32) {
	panic("asm: attnColsBwd without AVX-512")
}
