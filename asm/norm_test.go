package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestLayerNormRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	const eps = 1e-5
	forLevels(t, func(t *testing.T, l Level) {
		for _, n := range testSizes() {
			for _, off := range offsetsFor(n) {
				where := fmt.Sprintf("%v n=%d off=%d", l, n, off)
				shift := float32(rng.NormFloat64() * 3)
				x := newRegion(n, off).fill(func(int) float32 { return shift + randn(rng)*2 })
				g := newRegion(n, (off+1)%16).fill(func(int) float32 { return 1 + randn(rng)/4 })
				b := newRegion(n, (off+2)%16).fill(func(int) float32 { return randn(rng) / 4 })
				y := newRegion(n, (off+3)%16)
				mean, rstd := LayerNormRow(y.s, x.s, g.s, b.s, eps)
				if n == 0 {
					continue
				}
				var m, v, amag float64
				for _, xv := range x.s {
					m += float64(xv)
					amag += math.Abs(float64(xv))
				}
				m /= float64(n)
				for _, xv := range x.s {
					v += (float64(xv) - m) * (float64(xv) - m)
				}
				v /= float64(n)
				r := 1 / math.Sqrt(v+eps)
				// mean: error of an n-term sum; rstd: the variance sum's error is
				// relative (non-negative terms) plus the effect of the mean error.
				mtol := reductionTol(n, amag) / float64(n)
				if math.Abs(float64(mean)-m) > mtol {
					t.Fatalf("LayerNormRow %s mean = %v, want %v", where, mean, m)
				}
				rtol := reductionTol(n, 1) + 4*0x1p-24 + mtol*mtol/(v+eps)
				if math.Abs(float64(rstd)-r) > rtol*r {
					t.Fatalf("LayerNormRow %s rstd = %v, want %v", where, rstd, r)
				}
				for i, yv := range y.s {
					xh := (float64(x.s[i]) - m) * r
					want := xh*float64(g.s[i]) + float64(b.s[i])
					xtol := (mtol+4*0x1p-24*math.Abs(float64(x.s[i])-m))*r + math.Abs(xh)*rtol
					tol := xtol*math.Abs(float64(g.s[i])) + 4*0x1p-24*(math.Abs(xh*float64(g.s[i]))+math.Abs(float64(b.s[i])))
					if math.Abs(float64(yv)-want) > tol {
						t.Fatalf("LayerNormRow %s y[%d] = %v, want %v (tol %g)", where, i, yv, want, tol)
					}
				}
				y.checkGuards(t, where)
				x.checkUnchanged(t, where)
				g.checkUnchanged(t, where)
				b.checkUnchanged(t, where)
			}
		}
	})
}

func TestLayerNormRowBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	forLevels(t, func(t *testing.T, l Level) {
		for _, n := range testSizes() {
			for _, off := range offsetsFor(n) {
				where := fmt.Sprintf("%v n=%d off=%d", l, n, off)
				x := newRegion(n, off).fill(func(int) float32 { return 1 + randn(rng)*2 })
				g := newRegion(n, (off+1)%16).fill(func(int) float32 { return 1 + randn(rng)/4 })
				dy := newRegion(n, (off+2)%16).fill(func(int) float32 { return randn(rng) })
				dg0 := make([]float32, n)
				db0 := make([]float32, n)
				for i := range dg0 {
					dg0[i], db0[i] = randn(rng), randn(rng)
				}
				dg := newRegion(n, (off+3)%16).fill(func(i int) float32 { return dg0[i] })
				db := newRegion(n, (off+4)%16).fill(func(i int) float32 { return db0[i] })
				dx := newRegion(n, (off+5)%16)
				mean, rstd := float32(1)+float32(rng.Float64()), float32(0.5+rng.Float64())
				LayerNormRowBackward(dx.s, dg.s, db.s, dy.s, x.s, g.s, mean, rstd)
				if n == 0 {
					continue
				}
				// float64 reference from the same mean and rstd.
				xh := make([]float64, n)
				var a, bb, amag, bmag float64
				for i := range xh {
					xh[i] = (float64(x.s[i]) - float64(mean)) * float64(rstd)
					gi := float64(dy.s[i]) * float64(g.s[i])
					a += gi
					bb += gi * xh[i]
					amag += math.Abs(gi)
					bmag += math.Abs(gi * xh[i])
				}
				a /= float64(n)
				bb /= float64(n)
				atol := reductionTol(n, amag)/float64(n) + 4*0x1p-24*amag/float64(n)
				btol := reductionTol(n, bmag)/float64(n) + 6*0x1p-24*bmag/float64(n)
				for i := range xh {
					d := float64(dy.s[i])
					wg := float64(dg0[i]) + d*xh[i]
					if math.Abs(float64(dg.s[i])-wg) > 4*0x1p-24*(math.Abs(float64(dg0[i]))+math.Abs(d*xh[i])) {
						t.Fatalf("LayerNormRowBackward %s dgamma[%d] = %v, want %v", where, i, dg.s[i], wg)
					}
					if float64(db.s[i]) != float64(db0[i]+dy.s[i]) {
						t.Fatalf("LayerNormRowBackward %s dbeta[%d] = %v, want %v", where, i, db.s[i], db0[i]+dy.s[i])
					}
					gi := d * float64(g.s[i])
					want := float64(rstd) * (gi - a - xh[i]*bb)
					tol := float64(rstd) * (atol + math.Abs(xh[i])*btol + 6*0x1p-24*(math.Abs(gi)+math.Abs(a)+math.Abs(xh[i]*bb)))
					if math.Abs(float64(dx.s[i])-want) > tol {
						t.Fatalf("LayerNormRowBackward %s dx[%d] = %v, want %v (tol %g)", where, i, dx.s[i], want, tol)
					}
				}
				dx.checkGuards(t, where)
				dg.checkGuards(t, where)
				db.checkGuards(t, where)
				x.checkUnchanged(t, where)
				g.checkUnchanged(t, where)
				dy.checkUnchanged(t, where)
			}
		}
	})
}

// TestLayerNormRoundTrip checks the backward against central finite
// differences of the forward in float64 terms of a scalar loss Σ y·w.
func TestLayerNormRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	const n, eps = 37, 1e-5
	x := make([]float32, n)
	g := make([]float32, n)
	b := make([]float32, n)
	w := make([]float32, n)
	for i := range x {
		x[i], g[i], b[i], w[i] = randn(rng), 1+randn(rng)/4, randn(rng)/4, randn(rng)
	}
	loss := func(x []float32) float64 {
		y := make([]float32, n)
		LayerNormRow(y, x, g, b, eps)
		s := 0.0
		for i := range y {
			s += float64(y[i]) * float64(w[i])
		}
		return s
	}
	forLevels(t, func(t *testing.T, l Level) {
		y := make([]float32, n)
		mean, rstd := LayerNormRow(y, x, g, b, eps)
		dx := make([]float32, n)
		dg := make([]float32, n)
		db := make([]float32, n)
		LayerNormRowBackward(dx, dg, db, w, x, g, mean, rstd)
		for i := range x {
			const h = 1e-2
			xp := append([]float32(nil), x...)
			xm := append([]float32(nil), x...)
			xp[i] += h
			xm[i] -= h
			fd := (loss(xp) - loss(xm)) / (float64(xp[i]) - float64(xm[i]))
			if math.Abs(fd-float64(dx[i])) > 2e-3*(1+math.Abs(fd)) {
				t.Errorf("%v dx[%d] = %v, finite difference %v", l, i, dx[i], fd)
			}
		}
	})
}

// TestLayerNormRows checks LayerNormRows and LayerNormRowsBackward against
// LayerNormRow and LayerNormRowBackward (plus Axpy into dx) row by row, bit
// for bit: the row lengths that take the one-call assembly loop (multiples
// of 32) and some that do not, with y aliasing x.
func TestLayerNormRows(t *testing.T) {
	forLevels(t, func(t *testing.T, l Level) {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, n := range []int{32, 64, 96, 768, 50, 1} {
			for _, rows := range []int{1, 3, 17} {
				rnd := func(k int, mean float64) []float32 {
					s := make([]float32, k)
					for i := range s {
						s[i] = float32(mean + 3*rng.NormFloat64())
					}
					return s
				}
				x, gamma, beta := rnd(rows*n, 5), rnd(n, 1), rnd(n, 0)
				const eps = 1e-5
				wantY, wantM, wantR := make([]float32, rows*n), make([]float32, rows), make([]float32, rows)
				for r := range rows {
					wantM[r], wantR[r] = LayerNormRow(wantY[r*n:(r+1)*n], x[r*n:(r+1)*n], gamma, beta, eps)
				}
				y, m, rs := make([]float32, rows*n), make([]float32, rows), make([]float32, rows)
				LayerNormRows(y, m, rs, x, gamma, beta, rows, n, eps)
				rowsSame(t, fmt.Sprintf("n=%d rows=%d y", n, rows), y, wantY)
				rowsSame(t, "mean", m, wantM)
				rowsSame(t, "rstd", rs, wantR)
				inPlace := append([]float32(nil), x...)
				LayerNormRows(inPlace, m, rs, inPlace, gamma, beta, rows, n, eps)
				rowsSame(t, "y aliasing x", inPlace, wantY)

				dy, dx0 := rnd(rows*n, 0), rnd(rows*n, 0)
				wantDx, wantDg, wantDb := append([]float32(nil), dx0...), rnd(n, 0), rnd(n, 0)
				dg, db := append([]float32(nil), wantDg...), append([]float32(nil), wantDb...)
				tmp := make([]float32, n)
				for r := range rows {
					LayerNormRowBackward(tmp, wantDg, wantDb, dy[r*n:(r+1)*n], x[r*n:(r+1)*n], gamma, m[r], rs[r])
					Axpy(1, tmp, wantDx[r*n:(r+1)*n])
				}
				dx := append([]float32(nil), dx0...)
				LayerNormRowsBackward(dx, dg, db, dy, x, gamma, m, rs, rows, n, make([]float32, n))
				rowsSame(t, fmt.Sprintf("n=%d rows=%d dx", n, rows), dx, wantDx)
				rowsSame(t, "dgamma", dg, wantDg)
				rowsSame(t, "dbeta", db, wantDb)
			}
		}
	})
}
