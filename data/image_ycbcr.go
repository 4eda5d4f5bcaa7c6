package data

import "image"

// libjpeg's YCbCr -> RGB tables (jdcolor.c, 16-bit fixed point), which Pillow
// uses through libjpeg(-turbo). Go's color.YCbCrToRGB rounds differently.
var jpegCrR, jpegCbB, jpegCrG, jpegCbG [256]int32

func init() {
	const (
		scaleBits = 16
		half      = 1 << (scaleBits - 1)
	)
	fix := func(x float64) int32 { return int32(x*(1<<scaleBits) + 0.5) }
	for i := 0; i < 256; i++ {
		x := int32(i - 128)
		jpegCrR[i] = (fix(1.40200)*x + half) >> scaleBits
		jpegCbB[i] = (fix(1.77200)*x + half) >> scaleBits
		jpegCrG[i] = -fix(0.71414) * x
		jpegCbG[i] = -fix(0.34414)*x + half
	}
}

func clampU8(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// ycbcrToRGB converts m to interleaved 8-bit RGB (row stride 3*width) the way
// libjpeg-turbo does with its defaults, as Pillow decodes JPEGs: chroma is
// upsampled with libjpeg's "fancy" triangular filter (4:2:2, 4:2:0 and 4:4:0;
// 4:1:1 and 4:1:0 replicate samples, as libjpeg's int_upsample), and colours
// come from libjpeg's fixed-point tables. Images not anchored at a chroma sample
// boundary (a SubImage with an odd origin) use plain sample replication.
func ycbcrToRGB(m *image.YCbCr) []uint8 {
	b := m.Rect
	w, h := b.Dx(), b.Dy()
	out := make([]uint8, w*h*3)
	if w == 0 || h == 0 {
		return out
	}
	mode := m.SubsampleRatio
	switch {
	case mode == image.YCbCrSubsampleRatio422 && b.Min.X%2 != 0,
		mode == image.YCbCrSubsampleRatio420 && (b.Min.X%2 != 0 || b.Min.Y%2 != 0),
		mode == image.YCbCrSubsampleRatio440 && b.Min.Y%2 != 0:
		mode = -1 // not aligned: replicate
	}
	var cw, ch int // chroma plane size covering the image
	switch mode {
	case image.YCbCrSubsampleRatio422:
		cw, ch = (w+1)/2, h
	case image.YCbCrSubsampleRatio420:
		cw, ch = (w+1)/2, (h+1)/2
	case image.YCbCrSubsampleRatio440:
		cw, ch = w, (h+1)/2
	}
	crow := func(plane []uint8, r int) []uint8 {
		r = max(0, min(ch-1, r))
		i := r * m.CStride
		return plane[i : i+cw]
	}
	parallelRows(h, 8*w*h, func(y0, y1 int) {
		cb := make([]uint8, w+1)
		cr := make([]uint8, w+1)
		sumCb := make([]int32, cw)
		sumCr := make([]int32, cw)
		for y := y0; y < y1; y++ {
			switch mode {
			case image.YCbCrSubsampleRatio444:
				i := m.COffset(b.Min.X, b.Min.Y+y)
				copy(cb, m.Cb[i:i+w])
				copy(cr, m.Cr[i:i+w])
			case image.YCbCrSubsampleRatio422:
				fancyH2(cb, crow(m.Cb, y))
				fancyH2(cr, crow(m.Cr, y))
			case image.YCbCrSubsampleRatio420:
				r, o := y/2, y/2+1
				if y%2 == 0 {
					o = r - 1
				}
				colSums(sumCb, crow(m.Cb, r), crow(m.Cb, o))
				colSums(sumCr, crow(m.Cr, r), crow(m.Cr, o))
				fancyH2V2(cb, sumCb)
				fancyH2V2(cr, sumCr)
			case image.YCbCrSubsampleRatio440:
				r, o, bias := y/2, y/2+1, int32(2)
				if y%2 == 0 {
					o, bias = r-1, 1
				}
				n, f := crow(m.Cb, r), crow(m.Cb, o)
				for x := 0; x < w; x++ {
					cb[x] = uint8((3*int32(n[x]) + int32(f[x]) + bias) >> 2)
				}
				n, f = crow(m.Cr, r), crow(m.Cr, o)
				for x := 0; x < w; x++ {
					cr[x] = uint8((3*int32(n[x]) + int32(f[x]) + bias) >> 2)
				}
			default:
				for x := 0; x < w; x++ {
					i := m.COffset(b.Min.X+x, b.Min.Y+y)
					cb[x], cr[x] = m.Cb[i], m.Cr[i]
				}
			}
			yi := m.YOffset(b.Min.X, b.Min.Y+y)
			ys := m.Y[yi : yi+w]
			o := out[y*w*3 : (y+1)*w*3]
			cbr, crr := cb[:len(ys)], cr[:len(ys)]
			for x, yv := range ys {
				yy := int32(yv)
				cbv, crv := cbr[x], crr[x]
				q := o[3*x : 3*x+3 : 3*x+3]
				q[0] = clampU8(yy + jpegCrR[crv])
				q[1] = clampU8(yy + (jpegCbG[cbv]+jpegCrG[crv])>>16)
				q[2] = clampU8(yy + jpegCbB[cbv])
			}
		}
	})
	return out
}

// fancyH2 is libjpeg's h2v1_fancy_upsample: each output sample is 3/4 of the
// nearer input sample plus 1/4 of the farther one, with alternating rounding;
// the first and last outputs copy the edge samples. dst must hold 2*len(src)
// samples (one more than an odd image width needs).
func fancyH2(dst, src []uint8) {
	n := len(src)
	dst = dst[:2*n]
	if n == 1 {
		dst[0], dst[1] = src[0], src[0]
		return
	}
	dst[0] = src[0]
	dst[1] = uint8((3*int32(src[0]) + int32(src[1]) + 2) >> 2)
	for i := 1; i < n-1; i++ {
		v := 3 * int32(src[i])
		dst[2*i] = uint8((v + int32(src[i-1]) + 1) >> 2)
		dst[2*i+1] = uint8((v + int32(src[i+1]) + 2) >> 2)
	}
	v := 3 * int32(src[n-1])
	dst[2*n-2] = uint8((v + int32(src[n-2]) + 1) >> 2)
	dst[2*n-1] = src[n-1]
}

// colSums computes 3*near + far per column (libjpeg's h2v2 column sums).
func colSums(dst []int32, near, far []uint8) {
	near, far = near[:len(dst)], far[:len(dst)]
	for i := range dst {
		dst[i] = 3*int32(near[i]) + int32(far[i])
	}
}

// fancyH2V2 is the horizontal half of libjpeg's h2v2_fancy_upsample on column
// sums s; dst must hold 2*len(s) samples.
func fancyH2V2(dst []uint8, s []int32) {
	n := len(s)
	dst = dst[:2*n]
	if n == 1 {
		dst[0] = uint8((s[0]*4 + 8) >> 4)
		dst[1] = uint8((s[0]*4 + 7) >> 4)
		return
	}
	dst[0] = uint8((s[0]*4 + 8) >> 4)
	dst[1] = uint8((3*s[0] + s[1] + 7) >> 4)
	for i := 1; i < n-1; i++ {
		v := 3 * s[i]
		dst[2*i] = uint8((v + s[i-1] + 8) >> 4)
		dst[2*i+1] = uint8((v + s[i+1] + 7) >> 4)
	}
	v := 3 * s[n-1]
	dst[2*n-2] = uint8((v + s[n-2] + 8) >> 4)
	dst[2*n-1] = uint8((s[n-1]*4 + 7) >> 4)
}
