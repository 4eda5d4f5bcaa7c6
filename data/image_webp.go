package data

import "image"

// Lossy WebP stores limited-range ("studio swing") BT.601 YUV 4:2:0. Go's
// x/image/webp returns it as an image.YCbCr, which Go's colour conversion treats
// as full-range JPEG YCbCr: the colours come out with too little contrast.
// webpToNRGBA converts it the way libwebp does when Pillow decodes a WebP:
// libwebp's "fancy" chroma upsampler (src/dsp/upsampling.c) and its fixed-point
// YUV -> RGB (src/dsp/yuv.h, 6 fractional bits).

func webpMultHi(v, coeff int32) int32 { return (v * coeff) >> 8 }

func webpClip8(v int32) uint8 {
	const mask = (256 << 6) - 1
	if v&^mask == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}

func webpYUVToRGB(y, u, v uint8, dst []uint8) {
	yy, uu, vv := int32(y), int32(u), int32(v)
	dst[0] = webpClip8(webpMultHi(yy, 19077) + webpMultHi(vv, 26149) - 14234)
	dst[1] = webpClip8(webpMultHi(yy, 19077) - webpMultHi(uu, 6419) - webpMultHi(vv, 13320) + 8708)
	dst[2] = webpClip8(webpMultHi(yy, 19077) + webpMultHi(uu, 33050) - 17685)
}

// webpUpsamplePair converts one or two rows of pixels sharing the chroma rows
// topU/topV (nearer to the top row) and curU/curV (nearer to the bottom row),
// as libwebp's UpsampleRgbaLinePair; bottomY and bottomDst may be nil. Output
// pixels are 4 bytes apart (RGBA; the alpha byte is left alone).
func webpUpsamplePair(topY, bottomY, topU, topV, curU, curV []uint8, topDst, bottomDst []uint8, n int) {
	// Each chroma value is handled as a separate lane; libwebp packs u and v into
	// one uint32 but no carry crosses lanes for the bits it keeps.
	type uv struct{ u, v int32 }
	load := func(u, v []uint8, i int) uv { return uv{int32(u[i]), int32(v[i])} }
	emit := func(y []uint8, dst []uint8, x int, c uv) {
		webpYUVToRGB(y[x], uint8(c.u), uint8(c.v), dst[4*x:])
	}
	edge := func(a, b uv) uv { return uv{(3*a.u + b.u + 2) >> 2, (3*a.v + b.v + 2) >> 2} }
	last := (n - 1) >> 1
	tl := load(topU, topV, 0)
	l := load(curU, curV, 0)
	emit(topY, topDst, 0, edge(tl, l))
	if bottomY != nil {
		emit(bottomY, bottomDst, 0, edge(l, tl))
	}
	for x := 1; x <= last; x++ {
		t := load(topU, topV, x)
		c := load(curU, curV, x)
		var d12, d03 uv
		for lane := 0; lane < 2; lane++ {
			pick := func(p uv) int32 {
				if lane == 0 {
					return p.u
				}
				return p.v
			}
			avg := pick(tl) + pick(t) + pick(l) + pick(c) + 8
			a := (avg + 2*(pick(t)+pick(l))) >> 3
			b := (avg + 2*(pick(tl)+pick(c))) >> 3
			if lane == 0 {
				d12.u, d03.u = a, b
			} else {
				d12.v, d03.v = a, b
			}
		}
		half := func(a, b uv) uv { return uv{(a.u + b.u) >> 1, (a.v + b.v) >> 1} }
		emit(topY, topDst, 2*x-1, half(d12, tl))
		emit(topY, topDst, 2*x, half(d03, t))
		if bottomY != nil {
			emit(bottomY, bottomDst, 2*x-1, half(d03, l))
			emit(bottomY, bottomDst, 2*x, half(d12, c))
		}
		tl, l = t, c
	}
	if n&1 == 0 {
		emit(topY, topDst, n-1, edge(tl, l))
		if bottomY != nil {
			emit(bottomY, bottomDst, n-1, edge(l, tl))
		}
	}
}

// webpToNRGBA converts a lossy WebP frame decoded by x/image/webp (4:2:0
// YCbCr, anchored at the origin) to non-premultiplied RGBA as libwebp does.
// alpha (stride aStride) may be nil for an opaque image.
func webpToNRGBA(m *image.YCbCr, alpha []uint8, aStride int) *image.NRGBA {
	b := m.Rect
	w, h := b.Dx(), b.Dy()
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	if w == 0 || h == 0 {
		return out
	}
	yrow := func(y int) []uint8 { i := m.YOffset(b.Min.X, b.Min.Y+y); return m.Y[i : i+w] }
	cw := (w + 1) / 2
	crow := func(p []uint8, r int) []uint8 { i := r * m.CStride; return p[i : i+cw] }
	orow := func(y int) []uint8 { return out.Pix[y*out.Stride : y*out.Stride+4*w] }
	// First row: chroma row 0 mirrored.
	webpUpsamplePair(yrow(0), nil, crow(m.Cb, 0), crow(m.Cr, 0), crow(m.Cb, 0), crow(m.Cr, 0), orow(0), nil, w)
	// Row pairs (2k-1, 2k) between chroma rows k-1 and k.
	y := 1
	for k := 1; y+1 < h; k++ {
		webpUpsamplePair(yrow(y), yrow(y+1), crow(m.Cb, k-1), crow(m.Cr, k-1), crow(m.Cb, k), crow(m.Cr, k),
			orow(y), orow(y+1), w)
		y += 2
	}
	// Last row of an even-height picture.
	if y < h {
		k := (h - 1) / 2
		webpUpsamplePair(yrow(y), nil, crow(m.Cb, k), crow(m.Cr, k), crow(m.Cb, k), crow(m.Cr, k), orow(y), nil, w)
	}
	for y := 0; y < h; y++ {
		o := orow(y)
		for x := 0; x < w; x++ {
			a := uint8(0xff)
			if alpha != nil {
				a = alpha[y*aStride+x]
			}
			o[4*x+3] = a
		}
	}
	return out
}
