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
	cb := make([]uint8, w)
	cr := make([]uint8, w)
	aligned := b.Min.X%2 == 0 && b.Min.Y%2 == 0
	var cw, ch int // chroma plane size covering the image
	switch m.SubsampleRatio {
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
	// Column sums for the 2-D filter.
	sumCb := make([]int32, cw)
	sumCr := make([]int32, cw)
	for y := 0; y < h; y++ {
		switch {
		case aligned && m.SubsampleRatio == image.YCbCrSubsampleRatio422:
			fancyH2(cb, crow(m.Cb, y))
			fancyH2(cr, crow(m.Cr, y))
		case aligned && m.SubsampleRatio == image.YCbCrSubsampleRatio420:
			r, o := y/2, y/2+1
			if y%2 == 0 {
				o = r - 1
			}
			colSums(sumCb, crow(m.Cb, r), crow(m.Cb, o))
			colSums(sumCr, crow(m.Cr, r), crow(m.Cr, o))
			fancyH2V2(cb, sumCb)
			fancyH2V2(cr, sumCr)
		case aligned && m.SubsampleRatio == image.YCbCrSubsampleRatio440:
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
		o := out[y*w*3 : (y+1)*w*3]
		for x, yv := range m.Y[yi : yi+w] {
			yy := int32(yv)
			o[3*x] = clampU8(yy + jpegCrR[cr[x]])
			o[3*x+1] = clampU8(yy + (jpegCbG[cb[x]]+jpegCrG[cr[x]])>>16)
			o[3*x+2] = clampU8(yy + jpegCbB[cb[x]])
		}
	}
	return out
}

// fancyH2 is libjpeg's h2v1_fancy_upsample: each output sample is 3/4 of the
// nearer input sample plus 1/4 of the farther one, with alternating rounding;
// the first and last outputs copy the edge samples. dst may be one shorter than
// twice src (odd image width).
func fancyH2(dst, src []uint8) {
	n := len(src)
	at := func(i int) int32 { return int32(src[max(0, min(n-1, i))]) }
	put := func(i int, v int32) {
		if i < len(dst) {
			dst[i] = uint8(v)
		}
	}
	for i := 0; i < n; i++ {
		v := 3 * at(i)
		if i == 0 {
			put(0, at(0))
		} else {
			put(2*i, (v+at(i-1)+1)>>2)
		}
		if i == n-1 {
			put(2*i+1, at(i))
		} else {
			put(2*i+1, (v+at(i+1)+2)>>2)
		}
	}
}

// colSums computes 3*near + far per column (libjpeg's h2v2 column sums).
func colSums(dst []int32, near, far []uint8) {
	for i := range dst {
		dst[i] = 3*int32(near[i]) + int32(far[i])
	}
}

// fancyH2V2 is the horizontal half of libjpeg's h2v2_fancy_upsample on column
// sums s.
func fancyH2V2(dst []uint8, s []int32) {
	n := len(s)
	at := func(i int) int32 { return s[max(0, min(n-1, i))] }
	put := func(i int, v int32) {
		if i < len(dst) {
			dst[i] = uint8(v)
		}
	}
	for i := 0; i < n; i++ {
		v := 3 * at(i)
		if i == 0 {
			put(0, (at(0)*4+8)>>4)
		} else {
			put(2*i, (v+at(i-1)+8)>>4)
		}
		if i == n-1 {
			put(2*i+1, (at(i)*4+7)>>4)
		} else {
			put(2*i+1, (v+at(i+1)+7)>>4)
		}
	}
}
