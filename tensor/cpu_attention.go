package tensor

import "math"

// attnMasked reports the additive mask value for (b, i, j) and whether the
// key is hidden.
func attnBias(mask []float32, causal bool, b, i, j, lq, lk int) (float32, bool) {
	if causal && j > i+lk-lq {
		return 0, true
	}
	if mask != nil {
		v := mask[(b*lq+i)*lk+j]
		if math.IsInf(float64(v), -1) {
			return 0, true
		}
		return v, false
	}
	return 0, false
}

func (cpuBackend) Attention(out, lse, q, k, v []float32, b, h, lq, lk, d int, scale float32, causal bool, mask []float32) {
	parallelFor(b*h, 4*lq*lk*d, func(lo, hi int) {
		s := pool.get(lk)
		defer pool.put(s)
		for bh := lo; bh < hi; bh++ {
			bi := bh / h
			qb, kb, vb := q[bh*lq*d:], k[bh*lk*d:], v[bh*lk*d:]
			for i := 0; i < lq; i++ {
				qi := qb[i*d : (i+1)*d]
				m := float32(math.Inf(-1))
				for j := 0; j < lk; j++ {
					bias, hidden := attnBias(mask, causal, bi, i, j, lq, lk)
					if hidden {
						s[j] = float32(math.Inf(-1))
						continue
					}
					kj := kb[j*d : (j+1)*d]
					var dot float32
					for p, x := range qi {
						dot += x * kj[p]
					}
					s[j] = dot*scale + bias
					if s[j] > m {
						m = s[j]
					}
				}
				o := out[(bh*lq+i)*d : (bh*lq+i+1)*d]
				clear(o)
				if math.IsInf(float64(m), -1) {
					lse[bh*lq+i] = float32(math.Inf(-1))
					continue
				}
				var sum float64
				for j := range s {
					e := float32(math.Exp(float64(s[j] - m)))
					s[j] = e
					sum += float64(e)
				}
				inv := float32(1 / sum)
				for j, p := range s {
					if p == 0 {
						continue
					}
					p *= inv
					vj := vb[j*d : (j+1)*d]
					for t := range o {
						o[t] += p * vj[t]
					}
				}
				lse[bh*lq+i] = m + float32(math.Log(sum))
			}
		}
	})
}

func (cpuBackend) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse []float32, b, h, lq, lk, d int, scale float32, causal bool, mask []float32) {
	parallelFor(b*h, 10*lq*lk*d, func(lo, hi int) {
		p := pool.get(lk)
		defer pool.put(p)
		for bh := lo; bh < hi; bh++ {
			bi := bh / h
			qb, kb, vb := q[bh*lq*d:], k[bh*lk*d:], v[bh*lk*d:]
			dkb, dvb := dk[bh*lk*d:], dv[bh*lk*d:]
			for i := 0; i < lq; i++ {
				l := lse[bh*lq+i]
				if math.IsInf(float64(l), -1) {
					continue
				}
				qi := qb[i*d : (i+1)*d]
				doi := dout[(bh*lq+i)*d : (bh*lq+i+1)*d]
				oi := out[(bh*lq+i)*d : (bh*lq+i+1)*d]
				var di float32 // rowsum(dO∘O)
				for t := range doi {
					di += doi[t] * oi[t]
				}
				dqi := dq[(bh*lq+i)*d : (bh*lq+i+1)*d]
				for j := 0; j < lk; j++ {
					bias, hidden := attnBias(mask, causal, bi, i, j, lq, lk)
					if hidden {
						p[j] = 0
						continue
					}
					kj := kb[j*d : (j+1)*d]
					var dot float32
					for t, x := range qi {
						dot += x * kj[t]
					}
					p[j] = float32(math.Exp(float64(dot*scale + bias - l)))
				}
				for j, pj := range p {
					if pj == 0 {
						continue
					}
					vj, dvj := vb[j*d:(j+1)*d], dvb[j*d:(j+1)*d]
					var dp float32
					for t := range doi {
						dvj[t] += pj * doi[t]
						dp += doi[t] * vj[t]
					}
					ds := pj * (dp - di) * scale
					kj, dkj := kb[j*d:(j+1)*d], dkb[j*d:(j+1)*d]
					for t := range dqi {
						dqi[t] += ds * kj[t]
						dkj[t] += ds * qi[t]
					}
				}
			}
		}
	})
}
