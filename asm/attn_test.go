package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

type attnCase struct {
	b, h, lq, lk, d int
	causal          bool
	mask            string // "", "per" (per batch element) or "shared" (stride 0)
	kvBlock         int    // 0: default
}

func (c attnCase) String() string {
	return fmt.Sprintf("B%dH%dLq%dLk%dD%d causal=%v mask=%q kv=%d", c.b, c.h, c.lq, c.lk, c.d, c.causal, c.mask, c.kvBlock)
}

var attnCases = []attnCase{
	{1, 1, 1, 1, 1, false, "", 0},
	{2, 3, 7, 7, 5, true, "", 0},
	{2, 2, 5, 9, 3, true, "per", 0},
	{1, 2, 9, 4, 8, true, "", 0}, // Lq > Lk: the first rows see no key
	{2, 2, 37, 50, 33, false, "per", 0},
	{3, 1, 33, 20, 64, false, "shared", 0},
	{1, 2, 70, 45, 16, true, "per", 16}, // several key blocks: online softmax
	{2, 1, 40, 77, 7, false, "per", 32},
	{1, 1, 5, 600, 17, false, "", 0}, // two default key blocks
	{2, 3, 50, 50, 64, true, "", 0},
	{1, 2, 3, 0, 4, false, "", 0}, // no keys at all
	{3, 4, 2, 3, 1, true, "per", 0},
	{2, 4, 26, 26, 16, false, "per", 0}, // coca_shapes: image tower, operands in place
	{2, 4, 16, 26, 16, true, "", 0},     // pooler-like, causal across unequal lengths
	{2, 2, 31, 26, 16, false, "", 0},    // odd query count: copied q blocks, V in place
	// The small-head path (attn_small.go, AVX-512): odd Lq and Lk (copied
	// K and V, outputs through scratch), rows with no key, three keys,
	// wider heads at a whole column block of queries, at its fewest
	// queries and one fewer, fewer queries than a column block with four
	// keys per query and with more (tiled), one query (a decoding step:
	// tiled), its largest size, and the tiled path just past it.
	{2, 4, 17, 17, 16, false, "per", 0}, // text tower, CLS mask
	{2, 4, 13, 13, 16, false, "per", 0}, // coca_shapes: text tower, CLS mask
	{2, 4, 11, 11, 16, true, "", 0},     // coca_shapes: multimodal tower
	{2, 4, 11, 16, 16, false, "", 0},    // coca_shapes: its cross-attention
	{2, 3, 20, 12, 32, true, "shared", 0},
	{2, 2, 32, 3, 16, false, "per", 0},
	{1, 2, 16, 9, 48, false, "", 0},
	{1, 2, 8, 9, 48, false, "", 0},
	{1, 2, 7, 9, 48, false, "", 0},
	{1, 2, 9, 36, 16, true, "per", 0},
	{1, 2, 9, 37, 16, true, "per", 0},
	{3, 2, 1, 32, 16, true, "", 0},
	{1, 2, 64, 64, 32, true, "per", 0},
	{1, 2, 65, 64, 16, true, "per", 0},
	{1, 2, 64, 65, 16, false, "", 0},
}

type attnData struct {
	c          attnCase
	q, k, v    []float32
	mask       []float32
	maskStride int
	scale      float32
}

func newAttnData(c attnCase, rng *rand.Rand) *attnData {
	a := &attnData{c: c, scale: float32(1 / math.Sqrt(float64(c.d)))}
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = randn(rng)
		}
		return s
	}
	a.q = fill(c.b * c.h * c.lq * c.d)
	a.k = fill(c.b * c.h * c.lk * c.d)
	a.v = fill(c.b * c.h * c.lk * c.d)
	nm := 0
	switch c.mask {
	case "per":
		nm, a.maskStride = c.b, c.lq*c.lk
	case "shared":
		nm, a.maskStride = 1, 0
	}
	if nm > 0 {
		a.mask = make([]float32, nm*c.lq*c.lk)
		for bi := range nm {
			for i := range c.lq {
				row := a.mask[bi*c.lq*c.lk+i*c.lk : bi*c.lq*c.lk+(i+1)*c.lk]
				allMasked := i%5 == 2 // some fully masked rows
				for j := range row {
					switch {
					case allMasked || rng.IntN(5) == 0:
						row[j] = float32(math.Inf(-1))
					default:
						row[j] = float32(rng.NormFloat64())
					}
				}
			}
		}
	}
	return a
}

// attnRef is the naive float64 attention of one problem: probabilities,
// outputs and log-sum-exp, plus each row's largest |score| term sum.
type attnRef struct {
	p    [][]float64 // [bh*lq+i][j]
	out  []float64
	lse  []float64
	smag []float64 // per row: max_j (scale·Σ|q||k| + |mask|)
}

func (a *attnData) visible(bi, i, j int) (bool, float64) {
	c := a.c
	if c.causal && j > i+c.lk-c.lq {
		return false, 0
	}
	if a.mask != nil {
		m := float64(a.mask[bi*a.maskStride+i*c.lk+j])
		if math.IsInf(m, -1) {
			return false, 0
		}
		return true, m
	}
	return true, 0
}

func (a *attnData) reference() *attnRef {
	c := a.c
	r := &attnRef{out: make([]float64, len(a.q)), lse: make([]float64, c.b*c.h*c.lq), smag: make([]float64, c.b*c.h*c.lq)}
	for bh := range c.b * c.h {
		bi := bh / c.h
		for i := range c.lq {
			row := bh*c.lq + i
			qi := a.q[row*c.d : (row+1)*c.d]
			s := make([]float64, c.lk)
			mx := math.Inf(-1)
			for j := range c.lk {
				ok, m := a.visible(bi, i, j)
				if !ok {
					s[j] = math.Inf(-1)
					continue
				}
				kj := a.k[(bh*c.lk+j)*c.d : (bh*c.lk+j+1)*c.d]
				dotv, mag := 0.0, 0.0
				for t := range qi {
					dotv += float64(qi[t]) * float64(kj[t])
					mag += math.Abs(float64(qi[t]) * float64(kj[t]))
				}
				s[j] = float64(a.scale)*dotv + m
				r.smag[row] = math.Max(r.smag[row], float64(a.scale)*mag+math.Abs(m))
				mx = math.Max(mx, s[j])
			}
			p := make([]float64, c.lk)
			if math.IsInf(mx, -1) {
				r.lse[row] = mx
				r.p = append(r.p, p)
				continue
			}
			sum := 0.0
			for j := range s {
				p[j] = math.Exp(s[j] - mx)
				sum += p[j]
			}
			r.lse[row] = mx + math.Log(sum)
			for j := range p {
				p[j] /= sum
				vj := a.v[(bh*c.lk+j)*c.d : (bh*c.lk+j+1)*c.d]
				for t := range vj {
					r.out[row*c.d+t] += p[j] * float64(vj[t])
				}
			}
			r.p = append(r.p, p)
		}
	}
	return r
}

// refBackward is the naive float64 analytic backward given dout.
func (a *attnData) refBackward(r *attnRef, dout []float32) (dq, dk, dv []float64) {
	c := a.c
	dq = make([]float64, len(a.q))
	dk = make([]float64, len(a.k))
	dv = make([]float64, len(a.v))
	for bh := range c.b * c.h {
		for i := range c.lq {
			row := bh*c.lq + i
			do := dout[row*c.d : (row+1)*c.d]
			D := 0.0
			for t := range do {
				D += float64(do[t]) * r.out[row*c.d+t]
			}
			for j := range c.lk {
				p := r.p[row][j]
				if p == 0 {
					continue
				}
				vj := a.v[(bh*c.lk+j)*c.d : (bh*c.lk+j+1)*c.d]
				dp := 0.0
				for t := range vj {
					dp += float64(do[t]) * float64(vj[t])
					dv[(bh*c.lk+j)*c.d+t] += p * float64(do[t])
				}
				ds := p * (dp - D) * float64(a.scale)
				for t := range c.d {
					dq[row*c.d+t] += ds * float64(a.k[(bh*c.lk+j)*c.d+t])
					dk[(bh*c.lk+j)*c.d+t] += ds * float64(a.q[row*c.d+t])
				}
			}
		}
	}
	return dq, dk, dv
}

// TestAttentionReferenceBackward checks the naive analytic backward used
// below against central finite differences of the naive forward.
func TestAttentionReferenceBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	c := attnCase{1, 2, 4, 6, 3, true, "per", 0}
	a := newAttnData(c, rng)
	w := make([]float32, len(a.q))
	for i := range w {
		w[i] = randn(rng)
	}
	loss := func() float64 {
		s := 0.0
		for i, o := range a.reference().out {
			s += o * float64(w[i])
		}
		return s
	}
	dq, dk, dv := a.refBackward(a.reference(), w)
	for _, x := range []struct {
		name string
		in   []float32
		g    []float64
	}{{"q", a.q, dq}, {"k", a.k, dk}, {"v", a.v, dv}} {
		for i := range x.in {
			old := x.in[i]
			const h = 1e-3
			x.in[i] = old + h
			lp := loss()
			x.in[i] = old - h
			lm := loss()
			x.in[i] = old
			fd := (lp - lm) / (float64(old+h) - float64(old-h))
			if math.Abs(fd-x.g[i]) > 1e-4*(1+math.Abs(fd)) {
				t.Errorf("d%s[%d] = %v, finite difference %v", x.name, i, x.g[i], fd)
			}
		}
	}
}

const eps32 = 0x1p-24

func TestAttention(t *testing.T) {
	forLevels(t, func(t *testing.T, l Level) {
		rng := rand.New(rand.NewPCG(43, 44))
		for _, c := range attnCases {
			t.Run(c.String(), func(t *testing.T) {
				if c.kvBlock > 0 {
					old := attnKVBlock
					attnKVBlock = c.kvBlock
					defer func() { attnKVBlock = old }()
				}
				a := newAttnData(c, rng)
				r := a.reference()
				qs, ks, vs := append([]float32(nil), a.q...), append([]float32(nil), a.k...), append([]float32(nil), a.v...)
				out := make([]float32, len(a.q))
				lse := make([]float32, c.b*c.h*c.lq)
				for i := range out {
					out[i] = float32(math.NaN())
				}
				AttentionForward(out, lse, a.q, a.k, a.v, c.b, c.h, c.lq, c.lk, c.d, a.scale, c.causal, a.mask, a.maskStride)
				for row := range lse {
					// Score error (float32 dot products, scaling and mask add)
					// moves p by a relative smag·(d+3)·eps; exp, sums and the
					// normalisation add (Lk+8)·eps.
					erel := (2*float64(c.d+3)*r.smag[row] + float64(c.lk+8)) * eps32
					if math.IsInf(r.lse[row], -1) {
						if !math.IsInf(float64(lse[row]), -1) {
							t.Fatalf("row %d: lse %v, want -Inf", row, lse[row])
						}
					} else if math.Abs(float64(lse[row])-r.lse[row]) > erel+4*eps32*math.Abs(r.lse[row]) {
						t.Fatalf("row %d: lse %v, want %v", row, lse[row], r.lse[row])
					}
					for tt := range c.d {
						mag := 0.0
						for j, p := range r.p[row] {
							mag += p * math.Abs(float64(a.v[((row/c.lq)*c.lk+j)*c.d+tt]))
						}
						got, want := float64(out[row*c.d+tt]), r.out[row*c.d+tt]
						if !(math.Abs(got-want) <= (erel+float64(c.lk+4)*eps32)*mag) {
							t.Fatalf("row %d col %d: out %v, want %v (tol %g)", row, tt, got, want, (erel+float64(c.lk+4)*eps32)*mag)
						}
					}
				}
				for i := range qs {
					if math.Float32bits(qs[i]) != math.Float32bits(a.q[i]) {
						t.Fatal("q changed")
					}
				}
				for i := range ks {
					if math.Float32bits(ks[i]) != math.Float32bits(a.k[i]) || math.Float32bits(vs[i]) != math.Float32bits(a.v[i]) {
						t.Fatal("k or v changed")
					}
				}

				// Backward.
				dout := make([]float32, len(out))
				for i := range dout {
					dout[i] = randn(rng)
				}
				rq, rk, rv := a.refBackward(r, dout)
				dq := make([]float32, len(a.q))
				dk := make([]float32, len(a.k))
				dv := make([]float32, len(a.v))
				for _, g := range [][]float32{dq, dk, dv} {
					for i := range g {
						g[i] = float32(math.NaN())
					}
				}
				snap := func(xs ...[]float32) []float32 {
					var all []float32
					for _, x := range xs {
						all = append(all, x...)
					}
					return all
				}
				before := snap(dout, out, lse, a.q, a.k, a.v, a.mask)
				AttentionBackward(dq, dk, dv, dout, a.q, a.k, a.v, out, lse, c.b, c.h, c.lq, c.lk, c.d, a.scale, c.causal, a.mask, a.maskStride)
				for i, x := range snap(dout, out, lse, a.q, a.k, a.v, a.mask) {
					if math.Float32bits(x) != math.Float32bits(before[i]) {
						t.Fatalf("AttentionBackward changed an input (element %d of dout|out|lse|q|k|v|mask)", i)
					}
				}
				checkGrad(t, "dq", dq, rq, a, r, dout)
				checkGrad(t, "dk", dk, rk, a, r, dout)
				checkGrad(t, "dv", dv, rv, a, r, dout)
			})
		}
	})
}

// checkGrad compares a gradient with the float64 reference. The tolerance
// is relative to the gradient tensor's largest reference magnitude, scaled
// by the reduction lengths and the score magnitude (p carries a relative
// error ~ smag·d·eps into every gradient).
func checkGrad(t *testing.T, name string, got []float32, want []float64, a *attnData, r *attnRef, dout []float32) {
	t.Helper()
	c := a.c
	gmax, smax := 0.0, 0.0
	for _, w := range want {
		gmax = math.Max(gmax, math.Abs(w))
	}
	for _, s := range r.smag {
		smax = math.Max(smax, s)
	}
	tol := (4*float64(c.d+3)*(smax+1) + 4*float64(c.lk+c.lq+c.d)) * eps32 * (gmax + 1e-3)
	worst := 0.0
	for i, g := range got {
		if !(math.Abs(float64(g)-want[i]) <= tol) {
			t.Fatalf("%s[%d] = %v, want %v (tol %g)", name, i, g, want[i], tol)
		}
		worst = math.Max(worst, math.Abs(float64(g)-want[i]))
	}
}

func TestAttentionPanics(t *testing.T) {
	mustPanic(t, "AttentionForward", func() {
		AttentionForward(make([]float32, 4), nil, make([]float32, 4), make([]float32, 5), make([]float32, 6), 1, 1, 2, 3, 2, 1, false, nil, 0)
	})
	mustPanic(t, "AttentionForward mask", func() {
		AttentionForward(make([]float32, 4), nil, make([]float32, 4), make([]float32, 6), make([]float32, 6), 1, 1, 2, 3, 2, 1, false, make([]float32, 5), 6)
	})
}

// TestAttnGemm checks the tile product kernels directly against a float64
// product: shapes on and off the SIMD kernels' 4×16 grid, k = 0, padded
// strides whose gaps hold guard NaNs, and both overwrite and accumulate.
func TestAttnGemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	forLevels(t, func(t *testing.T, l Level) {
		for _, m := range []int{1, 2, 3, 4, 6, 8, 10, 12, 14, 36} {
			for _, n := range []int{1, 8, 15, 16, 24, 32, 40, 80} {
				for _, k := range []int{0, 1, 5, 64, 67} {
					for _, acc := range []bool{false, true} {
						lda, ldb, ldc := k+3, n+5, n+7
						a := make([]float32, m*lda)
						b := make([]float32, max(k, 1)*ldb)
						c := make([]float32, m*ldc)
						for i := range a {
							a[i] = randn(rng)
						}
						for i := range b {
							b[i] = randn(rng)
						}
						c0 := make([]float32, len(c))
						for i := range c {
							c[i] = float32(math.NaN())
							if i%ldc < n {
								c[i] = randn(rng)
							}
							c0[i] = c[i]
						}
						attnGemm(l, c, ldc, a, lda, b, ldb, m, n, k, acc)
						for i := range m {
							for j := range ldc {
								got := c[i*ldc+j]
								if j >= n {
									if got == got {
										t.Fatalf("m%d n%d k%d: stride gap C[%d][%d] written", m, n, k, i, j)
									}
									continue
								}
								want, mag := 0.0, 0.0
								if acc {
									want, mag = float64(c0[i*ldc+j]), math.Abs(float64(c0[i*ldc+j]))
								}
								for p := range k {
									pr := float64(a[i*lda+p]) * float64(b[p*ldb+j])
									want += pr
									mag += math.Abs(pr)
								}
								if math.Abs(float64(got)-want) > reductionTol(k+1, mag) {
									t.Fatalf("%v m%d n%d k%d acc=%v: C[%d][%d] = %v, want %v", l, m, n, k, acc, i, j, got, want)
								}
							}
						}
					}
				}
			}
		}
	})
}

// TestAttentionStrided runs the strided entry points on operands scattered
// into head-interleaved layouts (rows of several heads side by side, gaps
// between heads, rows and batch elements, filled with NaN) and checks that
// they give the contiguous entry points' results bit for bit, write nothing
// but the addressed positions of out, dq, dk and dv, and leave their inputs
// unchanged. One case packs q, k and v into a single (B, L, 3·H·D) buffer
// with one packed gradient buffer, as a self-attention layer does.
func TestAttentionStrided(t *testing.T) {
	nan := float32(math.NaN())
	// layout picks strides for an operand of (b, h, l, d): heads interleaved
	// within a row, with gaps.
	layout := func(rng *rand.Rand, b, h, l, d int) (AttnStrides, int) {
		head := d + rng.IntN(3)
		row := h*head + rng.IntN(4)
		batch := l*row + rng.IntN(5)
		off := rng.IntN(7)
		s := AttnStrides{Batch: batch, Head: head, Row: row}
		return s, off + s.span(b, h, l, d) + rng.IntN(4)
	}
	scatter := func(dst []float32, off int, s AttnStrides, src []float32, b, h, l, d int) {
		for bi := range b {
			for hi := range h {
				for i := range l {
					copy(dst[off+bi*s.Batch+hi*s.Head+i*s.Row:][:d], src[((bi*h+hi)*l+i)*d:][:d])
				}
			}
		}
	}
	gather := func(src []float32, off int, s AttnStrides, b, h, l, d int) []float32 {
		out := make([]float32, b*h*l*d)
		for bi := range b {
			for hi := range h {
				for i := range l {
					copy(out[((bi*h+hi)*l+i)*d:][:d], src[off+bi*s.Batch+hi*s.Head+i*s.Row:][:d])
				}
			}
		}
		return out
	}
	nanBuf := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = nan
		}
		return x
	}
	same := func(t *testing.T, what string, got, want []float32) {
		t.Helper()
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s[%d] = %v, contiguous %v", what, i, got[i], want[i])
			}
		}
	}
	// onlyAddressed checks that buf is NaN everywhere but the addressed
	// positions of the given operands.
	type region struct {
		off  int
		s    AttnStrides
		l, d int
	}
	onlyAddressed := func(t *testing.T, what string, buf []float32, b, h int, rs ...region) {
		t.Helper()
		hit := make([]bool, len(buf))
		for _, r := range rs {
			for bi := range b {
				for hi := range h {
					for i := range r.l {
						o := r.off + bi*r.s.Batch + hi*r.s.Head + i*r.s.Row
						for c := range r.d {
							hit[o+c] = true
						}
					}
				}
			}
		}
		for i, x := range buf {
			if !hit[i] && !math.IsNaN(float64(x)) {
				t.Fatalf("%s: element %d outside the operand was written (%v)", what, i, x)
			}
		}
	}
	forLevels(t, func(t *testing.T, l Level) {
		rng := rand.New(rand.NewPCG(45, 46))
		for ci, c := range attnCases {
			packed := c.lq == c.lk && ci%2 == 1
			t.Run(fmt.Sprintf("%v packed=%v", c, packed), func(t *testing.T) {
				if c.kvBlock > 0 {
					old := attnKVBlock
					attnKVBlock = c.kvBlock
					defer func() { attnKVBlock = old }()
				}
				a := newAttnData(c, rng)
				b, h, lq, lk, d := c.b, c.h, c.lq, c.lk, c.d
				out, lse := make([]float32, len(a.q)), make([]float32, b*h*lq)
				AttentionForward(out, lse, a.q, a.k, a.v, b, h, lq, lk, d, a.scale, c.causal, a.mask, a.maskStride)
				dout := make([]float32, len(out))
				for i := range dout {
					dout[i] = randn(rng)
				}
				dq, dk, dv := make([]float32, len(a.q)), make([]float32, len(a.k)), make([]float32, len(a.v))
				AttentionBackward(dq, dk, dv, dout, a.q, a.k, a.v, out, lse, b, h, lq, lk, d, a.scale, c.causal, a.mask, a.maskStride)

				var o, g AttnOperands
				var qOff, kOff, vOff int
				var gq, gk, gv []float32 // gradient buffers (gq == gk == gv when packed)
				if packed {
					// (B, L, 3, H, D): q, k, v at column offsets 0, HD, 2HD.
					hd := h * d
					s := AttnStrides{Batch: lq * 3 * hd, Head: d, Row: 3 * hd}
					buf := nanBuf(b * lq * 3 * hd)
					qOff, kOff, vOff = 0, hd, 2*hd
					scatter(buf, qOff, s, a.q, b, h, lq, d)
					scatter(buf, kOff, s, a.k, b, h, lk, d)
					scatter(buf, vOff, s, a.v, b, h, lk, d)
					o.Q, o.K, o.V = buf[qOff:], buf[kOff:], buf[vOff:]
					o.QS, o.KS, o.VS = s, s, s
					gbuf := nanBuf(len(buf))
					gq, gk, gv = gbuf, gbuf, gbuf
					g.Q, g.K, g.V = gbuf[qOff:], gbuf[kOff:], gbuf[vOff:]
					g.QS, g.KS, g.VS = s, s, s
				} else {
					var nq, nk, nv int
					o.QS, nq = layout(rng, b, h, lq, d)
					o.KS, nk = layout(rng, b, h, lk, d)
					o.VS, nv = layout(rng, b, h, lk, d)
					qOff, kOff, vOff = rng.IntN(3), rng.IntN(3), rng.IntN(3)
					qb, kb, vb := nanBuf(nq+qOff), nanBuf(nk+kOff), nanBuf(nv+vOff)
					scatter(qb, qOff, o.QS, a.q, b, h, lq, d)
					scatter(kb, kOff, o.KS, a.k, b, h, lk, d)
					scatter(vb, vOff, o.VS, a.v, b, h, lk, d)
					o.Q, o.K, o.V = qb[qOff:], kb[kOff:], vb[vOff:]
					// Gradients in layouts of their own.
					g.QS, nq = layout(rng, b, h, lq, d)
					g.KS, nk = layout(rng, b, h, lk, d)
					g.VS, nv = layout(rng, b, h, lk, d)
					gq, gk, gv = nanBuf(nq+qOff), nanBuf(nk+kOff), nanBuf(nv+vOff)
					g.Q, g.K, g.V = gq[qOff:], gk[kOff:], gv[vOff:]
				}
				var nOut, nDout int
				o.OS, nOut = layout(rng, b, h, lq, d)
				g.OS, nDout = layout(rng, b, h, lq, d)
				outBuf := nanBuf(nOut)
				o.Out = outBuf
				doutBuf := nanBuf(nDout)
				scatter(doutBuf, 0, g.OS, dout, b, h, lq, d)
				g.Out = doutBuf
				inputs := append(append(append([]float32(nil), o.Q...), o.K...), o.V...)

				lse2 := make([]float32, len(lse))
				AttentionForwardStrided(o, lse2, b, h, lq, lk, d, a.scale, c.causal, a.mask, a.maskStride)
				same(t, "out", gather(outBuf, 0, o.OS, b, h, lq, d), out)
				same(t, "lse", lse2, lse)
				onlyAddressed(t, "out", outBuf, b, h, region{0, o.OS, lq, d})

				AttentionBackwardStrided(o, g, lse2, b, h, lq, lk, d, a.scale, c.causal, a.mask, a.maskStride)
				same(t, "dq", gather(gq, qOff, g.QS, b, h, lq, d), dq)
				same(t, "dk", gather(gk, kOff, g.KS, b, h, lk, d), dk)
				same(t, "dv", gather(gv, vOff, g.VS, b, h, lk, d), dv)
				if packed {
					onlyAddressed(t, "packed dqkv", gq, b, h, region{qOff, g.QS, lq, d}, region{kOff, g.KS, lk, d}, region{vOff, g.VS, lk, d})
				} else {
					onlyAddressed(t, "dq", gq, b, h, region{qOff, g.QS, lq, d})
					onlyAddressed(t, "dk", gk, b, h, region{kOff, g.KS, lk, d})
					onlyAddressed(t, "dv", gv, b, h, region{vOff, g.VS, lk, d})
				}
				same(t, "inputs", append(append(append([]float32(nil), o.Q...), o.K...), o.V...), inputs)
				same(t, "dout", gather(doutBuf, 0, g.OS, b, h, lq, d), dout)
			})
		}
	})
}

// TestTransposeInto checks transposeInto against a plain loop at every SIMD
// level, with dst prefilled with NaN so that any padding it fails to zero
// shows: whole 8×8 blocks, a partial last block of rows (padded through a
// buffer holding stale NaNs), columns beyond the blocks, and padding
// beyond the last block; on AVX512 16×16 blocks (16, 32 and 64 columns,
// ldd a multiple of 16), a short last block, whole blocks of padding and
// no rows at all.
func TestTransposeInto(t *testing.T) {
	for _, l := range Available() {
		for _, s := range [][4]int{ // rows, cols, lds, ldd
			{26, 16, 192, 32}, {26, 16, 16, 26}, {17, 16, 48, 32}, {16, 16, 16, 16}, {3, 16, 16, 16},
			{12, 20, 20, 16}, {9, 70, 70, 24}, {30, 64, 64, 48}, {31, 8, 9, 32}, {5, 3, 3, 8}, {7, 8, 8, 7},
			{40, 32, 40, 64}, {0, 16, 16, 16}, {9, 16, 16, 16}, {25, 16, 20, 32},
		} {
			rows, cols, lds, ldd := s[0], s[1], s[2], s[3]
			src := make([]float32, rows*lds)
			for i := range src {
				src[i] = float32(i%97) - 48
			}
			dst := make([]float32, cols*ldd)
			stale := make([]float32, 8*cols) // a reused buffer's old values
			for i := range stale {
				stale[i] = float32(math.NaN())
			}
			for _, tmp := range []*[]float32{nil, &stale} {
				for i := range dst {
					dst[i] = float32(math.NaN())
				}
				transposeInto(l, dst, ldd, src, lds, rows, cols, tmp)
				for c := range cols {
					for j := range ldd {
						want := float32(0)
						if j < rows {
							want = src[j*lds+c]
						}
						if got := dst[c*ldd+j]; got != want {
							t.Fatalf("%v rows=%d cols=%d lds=%d ldd=%d tmp=%v: dst[%d][%d] = %v, want %v", l, rows, cols, lds, ldd, tmp != nil, c, j, got, want)
						}
					}
				}
			}
		}
	}
}
