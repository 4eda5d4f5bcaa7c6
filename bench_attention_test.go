package gococa_test

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/gococa/gococa/asm"
)

// attentionBenchSizes are B×H×Lq×Lk×D: CoCa's text decoder (77 tokens),
// a ViT-B/32 image encoder (50 tokens) and a ViT-B/16 one (197 tokens).
var attentionBenchSizes = [][5]int{
	{8, 12, 50, 50, 64}, {8, 12, 77, 77, 64}, {8, 12, 197, 197, 64},
}

// BenchmarkAttention times asm.AttentionForward and asm.AttentionBackward
// (no mask, not causal) for every SIMD level this machine runs and reports
// GFLOP/s counting the matrix products: 4·B·H·Lq·Lk·D for the forward
// (QKᵀ and PV) and 10·B·H·Lq·Lk·D for the backward (QKᵀ recomputed, dP, dV,
// dQ and dK).
func BenchmarkAttention(b *testing.B) {
	for _, pass := range []string{"forward", "backward"} {
		for _, l := range []asm.Level{asm.Generic, asm.AVX2, asm.AVX512, asm.NEON} {
			for _, s := range attentionBenchSizes {
				bb, h, lq, lk, d := s[0], s[1], s[2], s[3], s[4]
				name := fmt.Sprintf("pass=%s/impl=%v/size=%dx%dx%dx%dx%d", pass, l, bb, h, lq, lk, d)
				b.Run(name, func(b *testing.B) {
					if !asm.Supported(l) {
						b.Skipf("%v is not available on this CPU/build", l)
					}
					old := asm.SetLevel(l)
					defer asm.SetLevel(old)
					rng := rand.New(rand.NewSource(1))
					rnd := func(n int) []float32 {
						x := make([]float32, n)
						for i := range x {
							x[i] = float32(rng.NormFloat64())
						}
						return x
					}
					q, k, v := rnd(bb*h*lq*d), rnd(bb*h*lk*d), rnd(bb*h*lk*d)
					out, lse := make([]float32, len(q)), make([]float32, bb*h*lq)
					scale := float32(1 / math.Sqrt(float64(d)))
					flop := 4.0 * float64(bb*h*lq*lk*d)
					if pass == "forward" {
						b.ResetTimer()
						for b.Loop() {
							asm.AttentionForward(out, lse, q, k, v, bb, h, lq, lk, d, scale, false, nil, 0)
						}
					} else {
						asm.AttentionForward(out, lse, q, k, v, bb, h, lq, lk, d, scale, false, nil, 0)
						dout := rnd(len(out))
						dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
						flop = 10.0 * float64(bb*h*lq*lk*d)
						b.ResetTimer()
						for b.Loop() {
							asm.AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, bb, h, lq, lk, d, scale, false, nil, 0)
						}
					}
					b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
