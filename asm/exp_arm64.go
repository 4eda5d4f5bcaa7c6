//go:build !purego

package asm

func expVec(dst, x []float32) {
	if neon() {
		n4 := len(dst) &^ 3
		expNEON(dst[:n4], x[:n4])
		expGeneric(dst[n4:], x[n4:])
		return
	}
	expGeneric(dst, x)
}

func sigmoidVec(dst, x []float32) {
	if neon() {
		n4 := len(dst) &^ 3
		sigmoidNEON(dst[:n4], x[:n4])
		sigmoidGeneric(dst[n4:], x[n4:])
		return
	}
	sigmoidGeneric(dst, x)
}

//go:noescape
func expNEON(dst, x []float32)

//go:noescape
func sigmoidNEON(dst, x []float32)
