package data

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// This file reproduces Pillow's Image.resize(..., BICUBIC) (libImaging/Resample.c)
// and its nearest-neighbour scaling (used for palette images), bit for bit:
//
//   - separable convolution, horizontal pass first into an 8-bit intermediate image
//     holding only the rows the vertical pass reads, then the vertical pass;
//   - the cubic kernel with a = -0.5, its support scaled by the downscale factor;
//   - per output sample, weights normalised in float64 and then, for 8-bit images,
//     rounded to fixed point with pilPrecisionBits fractional bits; sums start at
//     half an output unit and are shifted and clamped to 0..255 after each pass;
//   - 32-bit integer images (mode "I") keep float64 weights and round half away
//     from zero, without clamping between passes.
//
// Every floating-point product that Pillow rounds separately is wrapped in an
// explicit float64 conversion so that the Go compiler cannot fuse it into a
// multiply-add (the spec allows that on arm64 and on amd64 with GOAMD64=v3).
//
// The functions compute only a window of the resized image: cropping after
// resizing (open_clip's CenterCrop, torchvision's RandomResizedCrop) then costs
// nothing extra, and each computed pixel equals Pillow's pixel at that position.

// pilPrecisionBits is the number of fractional bits of Pillow's fixed-point
// weights for 8-bit images: 32 - 8 - 2.
const pilPrecisionBits = 32 - 8 - 2

// pilBicubic is Pillow's bicubic_filter with a = -0.5.
func pilBicubic(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		t := float64((a+2)*x) - (a + 3)
		t = float64(t * x)
		t = float64(t * x)
		return t + 1
	}
	if x < 2 {
		t := float64((x-5)*x) + 8
		t = float64(t*x) - 4
		return t * a
	}
	return 0
}

// pilTaps holds the resampling weights of the output positions lo..hi-1 of a
// resize from in to out samples along one axis.
type pilTaps struct {
	lo, hi int
	ksize  int       // weights stored per output position
	start  []int     // first input index per output position (Pillow's xmin)
	count  []int     // number of input samples used (Pillow's xmax after the subtraction)
	w      []float64 // (hi-lo)*ksize normalised weights
	fixed  []int32   // the same weights in fixed point (8-bit path only)
}

// newPilTaps mirrors Pillow's precompute_coeffs for the box (0, in) and keeps
// the output positions lo..hi-1 only.
func newPilTaps(in, out, lo, hi int, fixed bool) *pilTaps {
	// Pillow: scale = (double)(in1 - in0) / outSize with float box coordinates.
	scale := float64(float32(in)) / float64(out)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := 2.0 * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	n := hi - lo
	t := &pilTaps{lo: lo, hi: hi, ksize: ksize,
		start: make([]int, n), count: make([]int, n), w: make([]float64, n*ksize)}
	ss := 1.0 / filterscale
	for i := 0; i < n; i++ {
		xx := lo + i
		center := float64((float64(xx) + 0.5) * scale)
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > in {
			xmax = in
		}
		xmax -= xmin
		if xmax < 0 {
			xmax = 0
		}
		k := t.w[i*ksize : i*ksize+ksize]
		ww := 0.0
		for x := 0; x < xmax; x++ {
			v := pilBicubic(float64(float64(x+xmin)-center+0.5) * ss)
			k[x] = v
			ww += v
		}
		if ww != 0 {
			for x := 0; x < xmax; x++ {
				k[x] /= ww
			}
		}
		t.start[i] = xmin
		t.count[i] = xmax
	}
	if fixed {
		t.fixed = make([]int32, len(t.w))
		for i, v := range t.w {
			if v < 0 {
				t.fixed[i] = int32(-0.5 + v*(1<<pilPrecisionBits))
			} else {
				t.fixed[i] = int32(0.5 + v*(1<<pilPrecisionBits))
			}
		}
	}
	return t
}

// rows returns the range of input indices the taps read.
func (t *pilTaps) rows() (first, last int) {
	n := t.hi - t.lo
	if n == 0 {
		return 0, 0
	}
	first, last = t.start[0], t.start[0]+t.count[0]
	for i := 1; i < n; i++ {
		first = min(first, t.start[i])
		last = max(last, t.start[i]+t.count[i])
	}
	return first, last
}

// pilClip8 is Pillow's clip8: drop the fixed-point fraction, clamp to 0..255.
func pilClip8(v int32) uint8 {
	v >>= pilPrecisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// pilRound is Pillow's ROUND_UP: round half away from zero, truncate to int.
func pilRound(f float64) int32 {
	if f >= 0 {
		return int32(f + 0.5)
	}
	return int32(f - 0.5)
}

// resample8 resizes the w×h image src (c interleaved 8-bit channels, row stride
// w*c) to nw×nh with Pillow's bicubic and returns the window (ox, oy, ow, oh)
// of the result, c channels interleaved, row stride ow*c. Rows are split across
// goroutines when the work is large; the result does not depend on the split.
func resample8(src []uint8, w, h, c, nw, nh, ox, oy, ow, oh int) []uint8 {
	needH := nw != w
	needV := nh != h

	// Rows of the horizontally resampled image that the vertical pass reads.
	var vt *pilTaps
	first, last := oy, oy+oh
	if needV {
		vt = newPilTaps(h, nh, oy, oy+oh, true)
		first, last = vt.rows()
	}

	// Horizontal pass: rows first..last-1, output columns ox..ox+ow-1.
	rs := ow * c
	tmp := make([]uint8, (last-first)*rs)
	if needH {
		ht := newPilTaps(w, nw, ox, ox+ow, true)
		parallelRows(last-first, (last-first)*rs*ht.ksize, func(y0, y1 int) {
			for y := first + y0; y < first+y1; y++ {
				horizontal8(tmp[(y-first)*rs:(y-first+1)*rs], src[y*w*c:(y+1)*w*c], c, ht)
			}
		})
	} else {
		for y := first; y < last; y++ {
			copy(tmp[(y-first)*rs:(y-first+1)*rs], src[(y*w+ox)*c:(y*w+ox+ow)*c])
		}
	}
	if !needV {
		return tmp
	}

	// Vertical pass: each output row accumulates whole input rows.
	dst := make([]uint8, oh*rs)
	parallelRows(oh, oh*rs*vt.ksize, func(j0, j1 int) {
		acc := make([]int32, rs)
		for j := j0; j < j1; j++ {
			k := vt.fixed[j*vt.ksize : j*vt.ksize+vt.count[j]]
			y0 := vt.start[j] - first
			for i := range acc {
				acc[i] = 1 << (pilPrecisionBits - 1)
			}
			for y, kv := range k {
				row := tmp[(y0+y)*rs : (y0+y+1)*rs]
				row = row[:len(acc)]
				for i, v := range row {
					acc[i] += int32(v) * kv
				}
			}
			out := dst[j*rs : (j+1)*rs]
			out = out[:len(acc)]
			for i, v := range acc {
				out[i] = pilClip8(v)
			}
		}
	})
	return dst
}

// horizontal8 resamples one row of c-channel pixels with the taps t.
func horizontal8(out, row []uint8, c int, t *pilTaps) {
	const half = 1 << (pilPrecisionBits - 1)
	n := t.hi - t.lo
	switch c {
	case 1:
		for i := 0; i < n; i++ {
			k := t.fixed[i*t.ksize : i*t.ksize+t.count[i]]
			p := row[t.start[i]:]
			p = p[:len(k)]
			s0 := int32(half)
			for x, kv := range k {
				s0 += int32(p[x]) * kv
			}
			out[i] = pilClip8(s0)
		}
	case 3:
		for i := 0; i < n; i++ {
			k := t.fixed[i*t.ksize : i*t.ksize+t.count[i]]
			p := row[3*t.start[i]:]
			p = p[:3*len(k)]
			s0, s1, s2 := int32(half), int32(half), int32(half)
			for x, kv := range k {
				q := p[3*x : 3*x+3 : 3*x+3]
				s0 += int32(q[0]) * kv
				s1 += int32(q[1]) * kv
				s2 += int32(q[2]) * kv
			}
			o := out[3*i : 3*i+3 : 3*i+3]
			o[0], o[1], o[2] = pilClip8(s0), pilClip8(s1), pilClip8(s2)
		}
	case 4:
		for i := 0; i < n; i++ {
			k := t.fixed[i*t.ksize : i*t.ksize+t.count[i]]
			p := row[4*t.start[i]:]
			p = p[:4*len(k)]
			s0, s1, s2, s3 := int32(half), int32(half), int32(half), int32(half)
			for x, kv := range k {
				q := p[4*x : 4*x+4 : 4*x+4]
				s0 += int32(q[0]) * kv
				s1 += int32(q[1]) * kv
				s2 += int32(q[2]) * kv
				s3 += int32(q[3]) * kv
			}
			o := out[4*i : 4*i+4 : 4*i+4]
			o[0], o[1], o[2], o[3] = pilClip8(s0), pilClip8(s1), pilClip8(s2), pilClip8(s3)
		}
	default:
		panic(fmt.Sprintf("data: horizontal8: %d channels", c))
	}
}

// parallelRows calls fn on consecutive row ranges covering 0..n, on up to
// GOMAXPROCS goroutines when work (multiply-adds) is large enough to pay for them.
func parallelRows(n, work int, fn func(r0, r1 int)) {
	const minWork = 1 << 20
	workers := min(runtime.GOMAXPROCS(0), n, max(1, work/minWork))
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		r0, r1 := i*n/workers, (i+1)*n/workers
		wg.Go(func() { fn(r0, r1) })
	}
	wg.Wait()
}

// resample32 is resample8 for one channel of 32-bit integers (Pillow mode "I"):
// float64 weights, round half away from zero after each pass, no clamping.
func resample32(src []int32, w, h, nw, nh, ox, oy, ow, oh int) []int32 {
	needH := nw != w
	needV := nh != h
	var vt *pilTaps
	first, last := oy, oy+oh
	if needV {
		vt = newPilTaps(h, nh, oy, oy+oh, false)
		first, last = vt.rows()
	}
	tmp := make([]int32, (last-first)*ow)
	if needH {
		ht := newPilTaps(w, nw, ox, ox+ow, false)
		for y := first; y < last; y++ {
			row := src[y*w : (y+1)*w]
			out := tmp[(y-first)*ow : (y-first+1)*ow]
			for i := 0; i < ow; i++ {
				k := ht.w[i*ht.ksize : i*ht.ksize+ht.count[i]]
				p := row[ht.start[i]:]
				ss := 0.0
				for x, kv := range k {
					ss += float64(float64(p[x]) * kv)
				}
				out[i] = pilRound(ss)
			}
		}
	} else {
		for y := first; y < last; y++ {
			copy(tmp[(y-first)*ow:(y-first+1)*ow], src[y*w+ox:y*w+ox+ow])
		}
	}
	if !needV {
		return tmp
	}
	dst := make([]int32, oh*ow)
	for j := 0; j < oh; j++ {
		k := vt.w[j*vt.ksize : j*vt.ksize+vt.count[j]]
		y0 := vt.start[j] - first
		for x := 0; x < ow; x++ {
			ss := 0.0
			for y, kv := range k {
				ss += float64(float64(tmp[(y0+y)*ow+x]) * kv)
			}
			dst[j*ow+x] = pilRound(ss)
		}
	}
	return dst
}

// pilNearestIndex returns, for the output positions lo..hi-1 of a nearest-neighbour
// scale from in to out samples, the input index Pillow's ImagingScaleAffine picks:
// it starts at half a step and adds the step (in/out, float64) once per position,
// truncating. Positions that fall outside the input (never, for a whole-image
// resize) are clamped.
func pilNearestIndex(in, out, lo, hi int) []int {
	step := float64(float32(in)) / float64(out)
	idx := make([]int, hi-lo)
	const maxWalk = 1 << 24
	var pos float64
	start := 0
	if lo > maxWalk {
		// Too far to walk step by step; start from the closed form (may differ
		// from Pillow's accumulated sum in the last bit for enormous images).
		pos = float64(step*0.5) + float64(float64(lo)*step)
		start = lo
	} else {
		pos = float64(step * 0.5)
	}
	for x := start; x < hi; x++ {
		if x >= lo {
			v := -1
			if pos >= 0 {
				v = int(pos)
			}
			v = max(0, min(in-1, v))
			idx[x-lo] = v
		}
		pos += step
	}
	return idx
}
