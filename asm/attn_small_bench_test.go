package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// BenchmarkAttentionSmall times the forward and backward of strided
// attention at the main job's (coca train, coca_shapes) shapes, heads read
// from a packed (B, L, 3·H·D) projection as the transformer blocks do: the
// image tower's self-attention (26 tokens), a causal self-attention of 16
// tokens, the attentional pooler's cross-attention (16 queries over 26
// image tokens), and at a rank's batch of 32 the text towers' heads of
// the default data: the unimodal tower's 13 tokens (12 and the CLS; the
// benchmark makes it causal, the model masks), the multimodal tower's
// causal 11, and its cross-attention of 11 queries over the 16 the
// caption pooler makes.
func BenchmarkAttentionSmall(b *testing.B) {
	for _, c := range []struct {
		name           string
		bb, h, lq, lk  int
		d              int
		causal, packed bool
	}{
		{"vision", 64, 4, 26, 26, 16, false, true},
		{"text", 64, 4, 16, 16, 16, true, true},
		{"text13", 32, 4, 13, 13, 16, true, true},
		{"text11", 32, 4, 11, 11, 16, true, true},
		{"cross11", 32, 4, 11, 16, 16, false, false},
		{"pool", 64, 4, 16, 26, 16, false, false},
	} {
		for _, pass := range []string{"forward", "backward"} {
			b.Run(fmt.Sprintf("%s/%s", c.name, pass), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				rnd := func(n int) []float32 {
					x := make([]float32, n)
					for i := range x {
						x[i] = float32(rng.NormFloat64())
					}
					return x
				}
				hd := c.h * c.d
				var o, g AttnOperands
				if c.packed {
					s := AttnStrides{Batch: c.lq * 3 * hd, Head: c.d, Row: 3 * hd}
					buf := rnd(c.bb * c.lq * 3 * hd)
					o.Q, o.K, o.V = buf, buf[hd:], buf[2*hd:]
					o.QS, o.KS, o.VS = s, s, s
					gbuf := make([]float32, len(buf))
					g.Q, g.K, g.V = gbuf, gbuf[hd:], gbuf[2*hd:]
					g.QS, g.KS, g.VS = s, s, s
				} else {
					qs := AttnStrides{Batch: c.lq * hd, Head: c.d, Row: hd}
					kvs := AttnStrides{Batch: c.lk * 2 * hd, Head: c.d, Row: 2 * hd}
					kv := rnd(c.bb * c.lk * 2 * hd)
					o.Q, o.K, o.V = rnd(c.bb*c.lq*hd), kv, kv[hd:]
					o.QS, o.KS, o.VS = qs, kvs, kvs
					gkv := make([]float32, len(kv))
					g.Q, g.K, g.V = make([]float32, len(o.Q)), gkv, gkv[hd:]
					g.QS, g.KS, g.VS = qs, kvs, kvs
				}
				os := AttnStrides{Batch: c.lq * hd, Head: c.d, Row: hd}
				o.Out, o.OS = make([]float32, c.bb*c.lq*hd), os
				g.Out, g.OS = rnd(c.bb*c.lq*hd), os
				lse := make([]float32, c.bb*c.h*c.lq)
				scale := float32(1 / math.Sqrt(float64(c.d)))
				AttentionForwardStrided(o, lse, c.bb, c.h, c.lq, c.lk, c.d, scale, c.causal, nil, 0)
				for b.Loop() {
					if pass == "forward" {
						AttentionForwardStrided(o, lse, c.bb, c.h, c.lq, c.lk, c.d, scale, c.causal, nil, 0)
					} else {
						AttentionBackwardStrided(o, g, lse, c.bb, c.h, c.lq, c.lk, c.d, scale, c.causal, nil, 0)
					}
				}
			})
		}
	}
}
