package tensor

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/gococa/gococa/tensor/safetensors"
)

// TestMulBF16Stored checks that a product of a bfloat16 weight with 33 to
// 128 rows whose products are bfloat16 (PrecisionBF16 on the CPU backend,
// any precision on CPUBF16), which reads the weight in place where the
// kernel can (asm.SgemmBF16StoredT), stores what widening the weight
// block by block stores (mulWidened without it), bit for bit: with and
// without a bias, and with widening blocks whose boundary splits a group
// of 8 columns and whose last block is too small for the in-place form.
func TestMulBF16Stored(t *testing.T) {
	cases := []struct {
		rows, n, k int
		block      int // bf16WidenBlock in rows of S (0: the default)
		bias       bool
	}{
		{50, 1536, 512, 0, true},
		{77, 2051, 768, 0, false},
		{33, 2051, 768, 1002, true}, // blocks of 1002, 1002 and 47 rows
		{128, 4100, 64, 0, true},
	}
	for _, be := range []struct {
		name string
		b    Backend
		p    Precision
	}{{"cpu/bf16", cpuBackend{}, PrecisionBF16}, {"cpubf16/f32", CPUBF16(), PrecisionF32}} {
		for i, c := range cases {
			t.Run(fmt.Sprintf("%s/%d", be.name, i), func(t *testing.T) {
				defer SetBackend(SetBackend(be.b))
				if c.block > 0 {
					defer func(n int) { bf16WidenBlock = n }(bf16WidenBlock)
					bf16WidenBlock = c.block * c.k
				}
				rng := rand.New(rand.NewSource(int64(i)))
				x := make([]float32, c.rows*c.k)
				for j := range x {
					x[j] = float32(rng.NormFloat64())
				}
				s := make([]uint16, c.n*c.k)
				for j := range s {
					s[j] = safetensors.Float32ToBF16(float32(rng.NormFloat64()))
				}
				var bias []float32
				if c.bias {
					bias = make([]float32, c.n)
					for j := range bias {
						bias[j] = float32(rng.NormFloat64())
					}
				}
				got, want := make([]float32, c.rows*c.n), make([]float32, c.rows*c.n)
				mulBF16(be.p, got, x, s, bias, c.rows, c.n, c.k)
				mulWidened(be.p, want, x, bias, c.rows, c.n, c.k, func(dst []float32, o0, o1 int) { widenBF16(dst, s[o0*c.k:o1*c.k]) }, nil)
				for j := range want {
					if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
						t.Fatalf("out[%d][%d] = %v, widened %v", j/c.n, j%c.n, got[j], want[j])
					}
				}
			})
		}
	}
}
