package data

import (
	"image"
	"image/color"
)

// pilMode is the Pillow image mode a Go image corresponds to. The mode decides
// how open_clip's transform resizes it (Pillow resizes before converting to RGB):
// 8-bit modes with bicubic per channel, "RGBA" premultiplied, "P" (and "1") with
// nearest neighbour, "I" (16-bit grey) in 32-bit integers.
type pilMode int

const (
	pilL    pilMode = iota // 1 channel, 8-bit grey (*image.Gray)
	pilRGB                 // 3 channels
	pilRGBA                // 4 channels, not premultiplied
	pilCMYK                // 4 channels (*image.CMYK)
	pilP                   // 1 channel of palette indices (*image.Paletted)
	pilI                   // 32-bit integers (*image.Gray16)
)

// pilImage is an image as Pillow holds it after Image.open: interleaved 8-bit
// channels (or int32 for mode "I"), origin at (0, 0).
type pilImage struct {
	mode pilMode
	w, h int
	c    int           // channels in pix
	pix  []uint8       // w*h*c, row stride w*c
	ipix []int32       // mode "I" only
	pal  [256][3]uint8 // mode "P" only
}

// nrgba8 returns the non-premultiplied 8-bit components of c.
func nrgba8(c color.Color) (r, g, b, a uint8) {
	switch v := c.(type) {
	case color.NRGBA:
		return v.R, v.G, v.B, v.A
	case color.RGBA:
		if v.A == 0xff {
			return v.R, v.G, v.B, v.A
		}
	case color.Gray:
		return v.Y, v.Y, v.Y, 0xff
	}
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return n.R, n.G, n.B, n.A
}

// newPilImage converts img to the pixels Pillow would hold for the same file.
// Grey, RGB, RGBA, CMYK, palette and 16-bit grey images keep their mode; 16-bit
// colour images keep the high byte of each sample (Pillow's "RGB;16B" and
// "RGBA;16B" unpackers); images whose alpha is 255 everywhere are treated as RGB
// (Pillow's premultiplied RGBA resize is then the identity on alpha); YCbCr images
// are converted the way libjpeg does (see ycbcrToRGB).
func newPilImage(img image.Image) *pilImage {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	p := &pilImage{w: w, h: h}
	switch m := img.(type) {
	case *image.Gray:
		p.mode, p.c = pilL, 1
		p.pix = make([]uint8, w*h)
		for y := 0; y < h; y++ {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			copy(p.pix[y*w:(y+1)*w], m.Pix[i:i+w])
		}
		return p
	case *image.Gray16:
		p.mode, p.c = pilI, 1
		p.ipix = make([]int32, w*h)
		for y := 0; y < h; y++ {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			for x := 0; x < w; x++ {
				p.ipix[y*w+x] = int32(m.Pix[i+2*x])<<8 | int32(m.Pix[i+2*x+1])
			}
		}
		return p
	case *image.Paletted:
		p.mode, p.c = pilP, 1
		p.pix = make([]uint8, w*h)
		for y := 0; y < h; y++ {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			copy(p.pix[y*w:(y+1)*w], m.Pix[i:i+w])
		}
		for i, c := range m.Palette {
			if i >= 256 {
				break
			}
			r, g, bb, _ := nrgba8(c)
			p.pal[i] = [3]uint8{r, g, bb}
		}
		return p
	case *image.CMYK:
		p.mode, p.c = pilCMYK, 4
		p.pix = make([]uint8, w*h*4)
		for y := 0; y < h; y++ {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			copy(p.pix[y*w*4:(y+1)*w*4], m.Pix[i:i+4*w])
		}
		return p
	case *image.YCbCr:
		p.mode, p.c = pilRGB, 3
		p.pix = ycbcrToRGB(m)
		return p
	case *image.NYCbCrA:
		rgb := ycbcrToRGB(&m.YCbCr)
		opaque := true
		for y := 0; y < h && opaque; y++ {
			i := m.AOffset(b.Min.X, b.Min.Y+y)
			for _, a := range m.A[i : i+w] {
				if a != 0xff {
					opaque = false
					break
				}
			}
		}
		if opaque {
			p.mode, p.c, p.pix = pilRGB, 3, rgb
			return p
		}
		p.mode, p.c = pilRGBA, 4
		p.pix = make([]uint8, w*h*4)
		for y := 0; y < h; y++ {
			ai := m.AOffset(b.Min.X, b.Min.Y+y)
			for x := 0; x < w; x++ {
				copy(p.pix[(y*w+x)*4:], rgb[(y*w+x)*3:(y*w+x)*3+3])
				p.pix[(y*w+x)*4+3] = m.A[ai+x]
			}
		}
		return p
	case *image.NRGBA:
		return rgbaFromRows(p, b, func(y int) []uint8 {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			return m.Pix[i : i+4*w]
		}, false)
	case *image.RGBA:
		return rgbaFromRows(p, b, func(y int) []uint8 {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			return m.Pix[i : i+4*w]
		}, true)
	case *image.NRGBA64:
		row := make([]uint8, 4*w)
		return rgbaFromRows(p, b, func(y int) []uint8 {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			for x := range row {
				row[x] = m.Pix[i+2*x] // high byte
			}
			return row
		}, false)
	case *image.RGBA64:
		opaque := true
		for y := 0; y < h && opaque; y++ {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			for x := 0; x < w; x++ {
				if m.Pix[i+8*x+6] != 0xff || m.Pix[i+8*x+7] != 0xff {
					opaque = false
					break
				}
			}
		}
		if opaque {
			row := make([]uint8, 4*w)
			return rgbaFromRows(p, b, func(y int) []uint8 {
				i := m.PixOffset(b.Min.X, b.Min.Y+y)
				for x := range row {
					row[x] = m.Pix[i+2*x]
				}
				return row
			}, false)
		}
	}
	// Anything else: go through color.NRGBAModel.
	row := make([]uint8, 4*w)
	return rgbaFromRows(p, b, func(y int) []uint8 {
		for x := 0; x < w; x++ {
			r, g, bb, a := nrgba8(img.At(b.Min.X+x, b.Min.Y+y))
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = r, g, bb, a
		}
		return row
	}, false)
}

// rgbaFromRows fills p from 4-channel rows (premultiplied if premul) as mode
// RGB when every alpha is 255, else as mode RGBA (not premultiplied).
func rgbaFromRows(p *pilImage, b image.Rectangle, row func(y int) []uint8, premul bool) *pilImage {
	w, h := p.w, p.h
	opaque := true
	for y := 0; y < h && opaque; y++ {
		r := row(y)
		for x := 0; x < w; x++ {
			if r[4*x+3] != 0xff {
				opaque = false
				break
			}
		}
	}
	if opaque {
		p.mode, p.c = pilRGB, 3
		p.pix = make([]uint8, w*h*3)
		for y := 0; y < h; y++ {
			r := row(y)
			o := p.pix[y*w*3 : (y+1)*w*3]
			for x := 0; x < w; x++ {
				o[3*x], o[3*x+1], o[3*x+2] = r[4*x], r[4*x+1], r[4*x+2]
			}
		}
		return p
	}
	p.mode, p.c = pilRGBA, 4
	p.pix = make([]uint8, w*h*4)
	for y := 0; y < h; y++ {
		r := row(y)
		o := p.pix[y*w*4 : (y+1)*w*4]
		copy(o, r)
		if premul {
			for x := 0; x < w; x++ {
				a := uint32(o[4*x+3])
				if a == 0 || a == 0xff {
					continue
				}
				for ch := 0; ch < 3; ch++ {
					v := uint32(o[4*x+ch]) * 0xff / a
					o[4*x+ch] = uint8(min(v, 0xff))
				}
			}
		}
	}
	return p
}

// pilMulDiv255 is Pillow's MULDIV255: a*b/255 rounded, in integers.
func pilMulDiv255(a, b uint32) uint32 {
	t := a*b + 128
	return ((t >> 8) + t) >> 8
}

// resizeWindow returns the window (ox, oy, ow, oh) of the source rectangle
// (sx, sy, sw, sh) of p resized to nw×nh the way Pillow's Image.resize(BICUBIC)
// does for p's mode, converted to RGB as Image.convert("RGB") does: 3 interleaved
// 8-bit channels, row stride ow*3.
func (p *pilImage) resizeWindow(sx, sy, sw, sh, nw, nh, ox, oy, ow, oh int) []uint8 {
	out := make([]uint8, ow*oh*3)
	switch p.mode {
	case pilP:
		xs := pilNearestIndex(sw, nw, ox, ox+ow)
		ys := pilNearestIndex(sh, nh, oy, oy+oh)
		if nw == sw && nh == sh { // Pillow copies instead of scaling
			for i := range xs {
				xs[i] = ox + i
			}
			for i := range ys {
				ys[i] = oy + i
			}
		}
		for j, yi := range ys {
			row := p.pix[(sy+yi)*p.w+sx:]
			for i, xi := range xs {
				c := p.pal[row[xi]]
				copy(out[(j*ow+i)*3:], c[:])
			}
		}
		return out
	case pilI:
		src := p.ipix
		if sx != 0 || sy != 0 || sw != p.w || sh != p.h {
			src = make([]int32, sw*sh)
			for y := 0; y < sh; y++ {
				copy(src[y*sw:(y+1)*sw], p.ipix[(sy+y)*p.w+sx:])
			}
		}
		v := resample32(src, sw, sh, nw, nh, ox, oy, ow, oh)
		for i, x := range v { // Pillow's i2rgb: clamp to 0..255
			out[3*i] = uint8(max(0, min(255, x)))
			out[3*i+1], out[3*i+2] = out[3*i], out[3*i]
		}
		return out
	}

	c := p.c
	var src []uint8
	if sx == 0 && sy == 0 && sw == p.w && sh == p.h && p.mode != pilRGBA {
		src = p.pix
	} else {
		src = make([]uint8, sw*sh*c)
		for y := 0; y < sh; y++ {
			copy(src[y*sw*c:(y+1)*sw*c], p.pix[((sy+y)*p.w+sx)*c:])
		}
	}
	if p.mode == pilRGBA {
		// Pillow resizes RGBA as premultiplied "RGBa" and converts back.
		for i := 0; i < len(src); i += 4 {
			a := uint32(src[i+3])
			src[i] = uint8(pilMulDiv255(uint32(src[i]), a))
			src[i+1] = uint8(pilMulDiv255(uint32(src[i+1]), a))
			src[i+2] = uint8(pilMulDiv255(uint32(src[i+2]), a))
		}
	}
	v := resample8(src, sw, sh, c, nw, nh, ox, oy, ow, oh)
	n := ow * oh
	switch p.mode {
	case pilL:
		for i := 0; i < n; i++ {
			out[3*i], out[3*i+1], out[3*i+2] = v[i], v[i], v[i]
		}
	case pilRGB:
		copy(out, v)
	case pilRGBA:
		// rgba2rgbA, then drop alpha (convert("RGB") does not composite).
		for i := 0; i < n; i++ {
			a := uint32(v[4*i+3])
			for ch := 0; ch < 3; ch++ {
				x := uint32(v[4*i+ch])
				if a != 0 && a != 255 {
					x = min(255*x/a, 255)
				}
				out[3*i+ch] = uint8(x)
			}
		}
	case pilCMYK:
		for i := 0; i < n; i++ {
			nk := 255 - int32(v[4*i+3])
			for ch := 0; ch < 3; ch++ {
				x := nk - int32(pilMulDiv255(uint32(v[4*i+ch]), uint32(nk)))
				out[3*i+ch] = uint8(max(0, min(255, x)))
			}
		}
	}
	return out
}
