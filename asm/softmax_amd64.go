//go:build !purego

package asm

func expSubSum(dst, x []float32, m float32) float32 {
	if level == AVX512 {
		return expSubSumAVX512(dst, x, m)
	}
	if avx2() {
		return expSubSumAVX2(dst, x, m)
	}
	return expSubSumGeneric(dst, x, m)
}

func expSubSumNoStore(x []float32, m float32) float32 {
	if avx2() {
		return expSubSumNoStoreAVX2(x, m)
	}
	return expSubSumNoStoreGeneric(x, m)
}

func addScalar(dst, x []float32, c float32) {
	if avx2() {
		addScalarAVX2(dst, x, c)
		return
	}
	addScalarGeneric(dst, x, c)
}

func mulSub(dx, y, dy []float32, d float32) {
	if avx2() {
		mulSubAVX2(dx, y, dy, d)
		return
	}
	mulSubGeneric(dx, y, dy, d)
}

func logSoftmaxBwd(dx, y, dy []float32, s float32) {
	if avx2() {
		logSoftmaxBwdAVX2(dx, y, dy, s)
		return
	}
	logSoftmaxBwdGeneric(dx, y, dy, s)
}

//go:noescape
func expSubSumAVX2(dst, x []float32, m float32) float32

//go:noescape
func expSubSumAVX512(dst, x []float32, m float32) float32

//go:noescape
func expSubSumNoStoreAVX2(x []float32, m float32) float32

//go:noescape
func addScalarAVX2(dst, x []float32, c float32)

//go:noescape
func mulSubAVX2(dx, y, dy []float32, d float32)

//go:noescape
func logSoftmaxBwdAVX2(dx, y, dy []float32, s float32)
