//go:build !purego

package asm

func adamwVec(w, g, m, v []float32, c *[7]float32) int {
	n := len(w) &^ 15
	if level != AVX512 || n == 0 {
		return 0
	}
	adamwAVX512(&w[0], &g[0], &m[0], &v[0], n, c)
	return n
}

// adamwAVX512 updates n values (a multiple of 16, n ≥ 16) as AdamW's
// documentation says.
//
//go:noescape
func adamwAVX512(w, grad, m, v *float32, n int, c *[7]float32)
