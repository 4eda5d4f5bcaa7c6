package asm

import (
	"math"
)

// SgemmBF16 is Sgemm with the products taken in bfloat16: every element of
// alpha·op(A) and of op(B) is rounded to bfloat16 (round to nearest even,
// as the hardware conversion does: NaN stays NaN, subnormals become zero)
// and the products are summed in float32 (bfloat16 products are exact in
// float32). The loop it computes, with bf16 that rounding:
//
//	for i := 0; i < m; i++ {
//		for j := 0; j < n; j++ {
//			var s float32
//			for p := 0; p < k; p++ {
//				s += bf16(alpha*A[i][p]) * bf16(B[p][j])
//			}
//			C[i][j] = s + beta*C[i][j]
//		}
//	}
//
// Where the CPU has AVX512_BF16 (and the level is AVX512) it runs on
// VDPBF16PS, which multiplies and adds pairs of bfloat16 at twice the rate
// of float32 FMA; elsewhere the rounded operands go through the float32
// kernels of the level. The variants differ only in the order of the
// float32 additions (and VDPBF16PS treats subnormal products as zero).
// Mixed-precision training and inference use it with float32 master
// weights and activations. It panics as Sgemm does.
func SgemmBF16(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmBF16Level(level, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmBF16Bias is SgemmBias with SgemmBF16's products: C =
// alpha·op(A)·op(B) + bias in every row, C not read; bit for bit
// SgemmBF16 with beta 1 after each row of C is set to bias.
func SgemmBF16Bias(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int) {
	SgemmBF16BiasLevel(level, transA, transB, m, n, k, alpha, a, lda, b, ldb, bias, c, ldc)
}

// SgemmBF16BiasLevel is SgemmBF16Bias run with the kernels of level l.
func SgemmBF16BiasLevel(l Level, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int) {
	checkSgemm("SgemmBF16Bias", transA, transB, m, n, k, a, lda, 0, b, ldb, 0, c, ldc, 0, 1)
	checkBias("SgemmBF16Bias", bias, n)
	sgemmBF16("SgemmBF16Bias", l, transA, transB, m, n, k, alpha, a, lda, b, ldb, 0, c, ldc, bias[:n])
}

// SgemmBF16Level is SgemmBF16 run with the kernels of level l (Generic:
// the pure-Go loop above; a level without bfloat16 instructions: rounded
// copies through its float32 GEMM). It panics if l is not supported here.
func SgemmBF16Level(l Level, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkSgemm("SgemmBF16", transA, transB, m, n, k, a, lda, 0, b, ldb, 0, c, ldc, 0, 1)
	sgemmBF16("SgemmBF16", l, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
}

// sgemmBF16 is SgemmBF16Level (fn names it in panics) after the operand
// checks; with a bias (beta 0) C = product + bias, added by the bfloat16
// kernel where there is one, else by filling C's rows and adding.
func sgemmBF16(fn string, l Level, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	if !Supported(l) {
		panic("asm." + fn + ": level " + l.String() + " not supported on this CPU/build")
	}
	if m == 0 || n == 0 {
		return
	}
	kn := bf16KernelFor(l)
	if bias != nil && (kn == nil || k == 0 || alpha == 0) {
		fillRows(c, ldc, bias, m, n)
		bias, beta = nil, 1
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	if transB && kn.takesDot(m, n, k) {
		kn.dotT(procs(), transA, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
		return
	}
	if kn != nil {
		sgemmParallel(kn, min(procs(), gemmThreads(m, n, k)/2+1), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
		return
	}
	if l == Generic {
		sgemmBF16Generic(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// Rounded copies of alpha·op(A) (m×k) and op(B) (k×n) through the
	// level's float32 GEMM.
	ra := make([]float32, m*k)
	rb := make([]float32, k*n)
	for i := 0; i < m; i++ {
		for p := 0; p < k; p++ {
			var v float32
			if transA {
				v = a[p*lda+i]
			} else {
				v = a[i*lda+p]
			}
			ra[i*k+p] = RoundBF16(alpha * v)
		}
	}
	for p := 0; p < k; p++ {
		for j := 0; j < n; j++ {
			var v float32
			if transB {
				v = b[j*ldb+p]
			} else {
				v = b[p*ldb+j]
			}
			rb[p*n+j] = RoundBF16(v)
		}
	}
	SgemmLevel(l, false, false, m, n, k, 1, ra, k, rb, n, beta, c, ldc)
}

// HasBF16 reports whether SgemmBF16 runs on bfloat16 instructions at the
// current level (else it rounds and uses the float32 kernels).
func HasBF16() bool { return bf16KernelFor(level) != nil }

// RoundBF16 rounds x to the nearest bfloat16 (ties to even) as AVX512_BF16's
// conversions do: a NaN stays a (quiet) NaN, a subnormal becomes a zero of
// its sign. The result is a float32 whose low 16 bits are zero.
func RoundBF16(x float32) float32 {
	return math.Float32frombits(uint32(bf16Bits(x)) << 16)
}

// bf16Bits returns the bfloat16 nearest x (see RoundBF16).
func bf16Bits(x float32) uint16 {
	u := math.Float32bits(x)
	switch e := u & 0x7f800000; {
	case e == 0:
		return uint16(u>>16) & 0x8000 // zero or subnormal: signed zero
	case e == 0x7f800000:
		if u&0x007fffff != 0 {
			return uint16(u>>16) | 0x40 // quiet NaN
		}
		return uint16(u >> 16) // infinity
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// sgemmBF16Generic is the pure-Go SgemmBF16 (the loop in its doc comment).
func sgemmBF16Generic(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ra := make([]float32, k)
	for i := 0; i < m; i++ {
		for p := range ra {
			var v float32
			if transA {
				v = a[p*lda+i]
			} else {
				v = a[i*lda+p]
			}
			ra[p] = RoundBF16(alpha * v)
		}
		for j := 0; j < n; j++ {
			var s float32
			for p, x := range ra {
				var v float32
				if transB {
					v = b[j*ldb+p]
				} else {
					v = b[p*ldb+j]
				}
				s += float32(x * RoundBF16(v))
			}
			if beta != 0 {
				s += beta * c[i*ldc+j]
			}
			c[i*ldc+j] = s
		}
	}
}

// bf16Pair packs the bfloat16 roundings of x (low half) and y (high half)
// into one 32-bit slot, as the bfloat16 kernels read their operands.
func bf16Pair(x, y float32) float32 {
	return math.Float32frombits(uint32(bf16Bits(x)) | uint32(bf16Bits(y))<<16)
}

// packAPairs is packA for a bfloat16 kernel: the mc×kc block of
// alpha·op(A) at (ic, pc) into mr-row micro-panels of kp = ⌈kc/2⌉ pairs:
// panel ip/mr holds pair (i, q) = (element (i, 2q), element (i, 2q+1)) at
// ip*kp + q*mr + i; rows past mc and the element past an odd kc are zero.
func (kn *gemmKernel) packAPairs(dst []float32, transA bool, a []float32, lda, ic, pc, mc, kc int, alpha float32) {
	mr := kn.mr
	kp := (kc + 1) / 2
	qT := 0
	if transA && alpha == 1 && kn.packATPairsAsm != nil && kc >= 2 {
		// Whole pairs of stored rows in assembly: the whole panels, then
		// a short last one (its padding rows zero).
		qT = kc / 2
		if full := mc / mr; full > 0 {
			kn.packATPairsAsm(&dst[0], &a[pc*lda+ic], kp, lda, full, qT, mr)
		}
		if rows := mc % mr; rows > 0 {
			ip := mc - rows
			kn.packATPairsAsm(&dst[ip*kp], &a[pc*lda+ic+ip], kp, lda, 1, qT, rows)
		}
	}
	for ip := 0; ip < mc; ip += mr {
		rows := min(mr, mc-ip)
		d := dst[ip*kp : ip*kp+mr*kp]
		q0 := qT
		if !transA && alpha == 1 && kn.packAPairsAsm != nil && kc >= 32 {
			// Whole 16-pair blocks in assembly (unscaled); a last panel
			// of fewer rows gets its padding cleared.
			q0 = kc / 32 * 16
			kn.packAPairsAsm(&d[0], &a[(ic+ip)*lda+pc], lda, mr, rows, kc/32)
			if rows < mr {
				for q := range q0 {
					clear(d[q*mr+rows : q*mr+mr])
				}
			}
		}
		packAPairsGo(d[q0*mr:], mr, transA, a, lda, ic+ip, pc+2*q0, rows, kc-2*q0, alpha)
	}
}

// packStoredPairs is packBPairs for a stored kernel (gemmKernel.stored):
// op(B) = Sᵀ with S's rows as 32-bit slots b (ldb slots apart), pair
// (q, j) of the block at (pc, jc) being slot pc/2+q of row jc+j, so
// packing transposes slots (packBTAsm where set, in bt×bt blocks). pc and
// kc are even.
func (kn *gemmKernel) packStoredPairs(dst, b []float32, ldb, pc, jc, kc, nc int) {
	nr, kp, q0 := kn.nr, kc/2, pc/2
	for jp := 0; jp < nc; jp += nr {
		cols := min(nr, nc-jp)
		d := dst[jp*kp : jp*kp+nr*kp]
		qs := 0
		if bt := kn.bt; kn.packBTAsm != nil && cols == nr && kp >= bt {
			qs = kp / bt * bt
			for g := 0; g < nr; g += bt {
				_ = b[(jc+jp+g+bt-1)*ldb+q0+qs-1]
				kn.packBTAsm(&d[g], &b[(jc+jp+g)*ldb+q0], ldb, nr, kp/bt)
			}
		}
		for q := qs; q < kp; q++ {
			dd := d[q*nr : q*nr+nr]
			for j := range cols {
				dd[j] = b[(jc+jp+j)*ldb+q0+q]
			}
			clear(dd[cols:])
		}
	}
}

// packAPairsGo packs pairs of alpha·op(A) into one micro-panel d (mr
// slots per pair), in Go: rows rows from row i0 and ⌈kc/2⌉ pairs from
// column p0 of op(A), the element past an odd kc and the rows past rows
// zero. Transposed, each pair reads two runs of a stored row.
func packAPairsGo(d []float32, mr int, transA bool, a []float32, lda, i0, p0, rows, kc int, alpha float32) {
	for q := 0; 2*q < kc; q++ {
		dd := d[q*mr : q*mr+mr]
		p := p0 + 2*q
		second := 2*q+1 < kc
		if transA {
			r0 := a[p*lda+i0 : p*lda+i0+rows]
			if second {
				r1 := a[(p+1)*lda+i0 : (p+1)*lda+i0+rows]
				for i, v := range r0 {
					dd[i] = bf16Pair(alpha*v, alpha*r1[i])
				}
			} else {
				for i, v := range r0 {
					dd[i] = bf16Pair(alpha*v, 0)
				}
			}
		} else {
			for i := range rows {
				off := (i0+i)*lda + p
				var y float32
				if second {
					y = alpha * a[off+1]
				}
				dd[i] = bf16Pair(alpha*a[off], y)
			}
		}
		clear(dd[rows:])
	}
}

// packBPairs is packB for a bfloat16 kernel: the kc×nc panel of op(B) at
// (pc, jc) into nr-column micro-panels of kp = ⌈kc/2⌉ pair rows: panel
// jp/nr holds pair (q, j) = (element (2q, j), element (2q+1, j)) at
// jp*kp + q*nr + j; columns past nc and the row past an odd kc are zero.
func (kn *gemmKernel) packBPairs(dst []float32, transB bool, b []float32, ldb, pc, jc, kc, nc int) {
	if kn.storedB {
		kn.packStoredPairs(dst, b, ldb, pc, jc, kc, nc)
		return
	}
	nr := kn.nr
	kp := (kc + 1) / 2
	at := func(p, j int) float32 {
		if p >= kc {
			return 0
		}
		if transB {
			return b[(jc+j)*ldb+pc+p]
		}
		return b[(pc+p)*ldb+jc+j]
	}
	nFull := nc / nr
	q0 := 0
	if !transB && kn.packBPairsAsm != nil && nFull > 0 && kc >= 2 {
		// Whole panels, whole pairs of rows, in assembly.
		q0 = kc / 2
		kn.packBPairsAsm(&dst[0], &b[pc*ldb+jc], kp, ldb, nFull, q0)
	}
	jpT := 0
	if transB && kn.packAPairsAsm != nil && kc >= 32 {
		// Whole panels: 16 stored rows of B (16 columns of op(B)) and 16
		// pairs at a time, converted and transposed in assembly.
		for ; jpT+nr <= nc; jpT += nr {
			for g := 0; g < nr; g += 16 {
				kn.packAPairsAsm(&dst[jpT*kp+g], &b[(jc+jpT+g)*ldb+pc], ldb, nr, 16, kc/32)
			}
			for q := kc / 32 * 16; q < kp; q++ {
				dd := dst[jpT*kp+q*nr : jpT*kp+q*nr+nr]
				for j := range dd {
					dd[j] = bf16Pair(at(2*q, jpT+j), at(2*q+1, jpT+j))
				}
			}
		}
	}
	for jp := 0; jp < nc; jp += nr {
		cols := min(nr, nc-jp)
		d := dst[jp*kp : jp*kp+nr*kp]
		qs := 0
		switch {
		case cols == nr && !transB:
			qs = q0
		case jp < jpT:
			continue
		}
		for q := qs; q < kp; q++ {
			dd := d[q*nr : q*nr+nr]
			for j := 0; j < cols; j++ {
				dd[j] = bf16Pair(at(2*q, jp+j), at(2*q+1, jp+j))
			}
			clear(dd[cols:])
		}
	}
}
