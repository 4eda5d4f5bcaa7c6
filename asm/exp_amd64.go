//go:build !purego

package asm

func expVec(dst, x []float32) {
	if level == AVX512 {
		expAVX512(dst, x)
		return
	}
	if level == AVX2 {
		expAVX2(dst, x)
		return
	}
	expGeneric(dst, x)
}

func sigmoidVec(dst, x []float32) {
	if level == AVX2 || level == AVX512 {
		sigmoidAVX2(dst, x)
		return
	}
	sigmoidGeneric(dst, x)
}

//go:noescape
func expAVX2(dst, x []float32)

//go:noescape
func sigmoidAVX2(dst, x []float32)

//go:noescape
func expAVX512(dst, x []float32)
