package data

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// DefaultMaxPixels is Pillow's Image.MAX_IMAGE_PIXELS: images whose header claims
// more pixels are refused before their pixels are decoded.
const DefaultMaxPixels = 89_478_485

// ErrTooManyPixels is wrapped by the error for an image over the pixel limit.
var ErrTooManyPixels = errors.New("image exceeds the pixel limit")

// ImageOptions configures image loading and preprocessing.
type ImageOptions struct {
	// Size is the output side in pixels for PreprocessFile (default DefaultImageSize).
	Size int
	// MaxPixels is the largest width*height accepted (default DefaultMaxPixels);
	// negative disables the check.
	MaxPixels int
	// MaxBytes bounds the memory one image may take to decode and
	// preprocess, estimated from its header before any pixel is decoded
	// (default DefaultMaxImageBytes), and the bytes read from its file;
	// negative disables both checks. Images decoded at once (a loader's
	// workers) each take up to this much.
	MaxBytes int64
}

func (o ImageOptions) size() int {
	if o.Size == 0 {
		return DefaultImageSize
	}
	return o.Size
}

func (o ImageOptions) maxPixels() int64 {
	if o.MaxPixels == 0 {
		return DefaultMaxPixels
	}
	return int64(o.MaxPixels)
}

// LoadImage reads and decodes the image file at path with the default options.
func LoadImage(path string) (image.Image, error) { return ImageOptions{}.Load(path) }

// DecodeImage decodes an image from r with the default options; name (a file
// name or path) is used in error messages.
func DecodeImage(r io.Reader, name string) (image.Image, error) {
	return ImageOptions{}.Decode(r, name)
}

// Load reads and decodes the image file at path, which must be a regular
// file: a FIFO, a device or a directory is an error wrapping ErrNotRegular,
// returned without reading from it.
func (o ImageOptions) Load(path string) (image.Image, error) {
	f, err := openImage(path)
	if err != nil {
		return nil, fmt.Errorf("data: load image: %w", err)
	}
	defer f.Close()
	return o.Decode(f, path)
}

// PreprocessFile loads the image at path and applies Preprocess with o.Size.
func (o ImageOptions) PreprocessFile(path string) ([]float32, error) {
	size := o.size()
	if size < 1 {
		return nil, fmt.Errorf("data: preprocess %s: size %d < 1", path, size)
	}
	img, err := o.Load(path)
	if err != nil {
		return nil, err
	}
	return Preprocess(img, size), nil
}

// Decode decodes a JPEG, PNG, GIF (first frame), BMP, TIFF or WebP image from r.
// It reads the header first and refuses an image with more than o.MaxPixels
// pixels, with no pixels, or whose decoding and preprocessing would take more
// than o.MaxBytes of memory (ErrImageTooLarge; estimated from its size,
// colour type and encoding), before decoding any pixel data; it reads at
// most o.MaxBytes bytes from r. Errors name the image and the limit:
// "data: decode photo.jpg: unexpected EOF".
//
// The result holds the samples Pillow's Image.open would hold, in the Go type
// Preprocess maps to the same Pillow mode: *image.Gray ("L"), *image.Gray16
// ("I"), *image.Paletted ("P" and "1"), *image.CMYK, *image.YCbCr (JPEG;
// converted to RGB by Preprocess as libjpeg would), *image.NRGBA ("RGBA") and
// the other RGB types ("RGB"). Where Go's decoders differ from Pillow's modes,
// Decode converts:
//   - a 1-bit grey PNG or TIFF becomes a black/white palette image (Pillow
//     resizes mode "1" with nearest neighbour);
//   - a grey or RGB PNG with a tRNS colour key stays opaque (Pillow ignores the
//     key when converting to RGB);
//   - a GIF or BMP whose palette is the grey ramp becomes *image.Gray (Pillow
//     opens it as "L");
//   - a GIF's transparent palette entry keeps its stored colour (Go's decoder
//     makes it transparent black; Pillow's convert("RGB") uses the colour);
//   - a lossy WebP becomes *image.NRGBA converted from its limited-range YUV as
//     libwebp does (Go's YCbCr type would be read as full-range JPEG YCbCr).
//
// Like Pillow's Image.open, Decode ignores EXIF orientation and ICC profiles.
// It is safe for concurrent use.
func (o ImageOptions) Decode(r io.Reader, name string) (img image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("data: decode %s: malformed image (decoder panic: %v)", name, p)
		}
	}()
	if lim := o.maxBytes(); lim >= 0 {
		r = &limitReader{r: r, left: lim, limit: lim}
	}
	src := &eofReader{r: r}
	br := bufio.NewReader(src)
	var head bytes.Buffer
	cfg, format, err := image.DecodeConfig(io.TeeReader(br, &head))
	if err != nil {
		if head.Len() == 0 {
			return nil, fmt.Errorf("data: decode %s: empty file", name)
		}
		return nil, fmt.Errorf("data: decode %s: %w", name, err)
	}
	pixels := int64(cfg.Width) * int64(cfg.Height)
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("data: decode %s: %s image has no pixels (%dx%d)", name, format, cfg.Width, cfg.Height)
	}
	if lim := o.maxPixels(); lim >= 0 && pixels > lim {
		return nil, fmt.Errorf("data: decode %s: %s image is %dx%d = %d pixels, over the limit of %d: %w",
			name, format, cfg.Width, cfg.Height, pixels, lim, ErrTooManyPixels)
	}
	if lim := o.maxBytes(); lim >= 0 {
		bpp := decodeBytesPerPixel(format, cfg, head.Bytes())
		if need := float64(pixels) * bpp; need > float64(lim) {
			return nil, fmt.Errorf("data: decode %s: %s image %dx%d needs about %.0f MB to decode and preprocess (%.3g bytes per pixel), over the limit of %.0f MB (ImageOptions.MaxBytes): %w",
				name, format, cfg.Width, cfg.Height, need/1e6, bpp, float64(lim)/1e6, ErrImageTooLarge)
		}
	}
	hdr := append([]byte(nil), head.Bytes()...)
	fill := 0 // palette index around a GIF frame smaller than the screen
	full := io.MultiReader(&head, br)
	switch format {
	case "jpeg":
		img, err = jpeg.Decode(full)
	case "png":
		img, err = png.Decode(full)
	case "gif":
		// Keep the bytes up to the first frame's colour table: Go's decoder
		// replaces the transparent palette entry, Pillow keeps its colour.
		var prefix bytes.Buffer
		img, err = gif.Decode(io.TeeReader(full, &limitedBuffer{b: &prefix, n: 1 << 20}))
		if err == nil {
			fill = restoreGIFTransparentColour(img, prefix.Bytes())
		}
	case "bmp":
		img, err = bmp.Decode(full)
	case "tiff":
		img, err = tiff.Decode(full)
	case "webp":
		img, err = webp.Decode(full)
	default:
		img, _, err = image.Decode(full)
	}
	if err != nil {
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, fmt.Errorf("data: decode %s: %w", name, io.ErrUnexpectedEOF)
		case src.eof && isTruncation(err):
			return nil, fmt.Errorf("data: decode %s: %w (%v)", name, io.ErrUnexpectedEOF, err)
		}
		return nil, fmt.Errorf("data: decode %s: %w", name, err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		img = onCanvas(img, cfg.Width, cfg.Height, fill)
	}
	return asPillowOpens(img, format, hdr), nil
}

// eofReader records whether its reader reached the end of the data.
type eofReader struct {
	r   io.Reader
	eof bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.eof = true
	}
	return n, err
}

// limitedBuffer keeps the first n bytes written to it and discards the rest.
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// restoreGIFTransparentColour puts back the colour of the first frame's
// transparent palette entry, which Go's decoder replaces with transparent black;
// Pillow's convert("RGB") of a GIF uses the stored colour. data is the start of
// the file; nothing changes if it cannot be parsed. It returns the transparent
// index, or 0 if there is none.
func restoreGIFTransparentColour(img image.Image, data []byte) (trans int) {
	trans = -1
	defer func() { trans = max(trans, 0) }()
	m, ok := img.(*image.Paletted)
	if !ok || len(data) < 13 {
		return
	}
	table := func(at, flags int) ([]byte, int, bool) {
		if flags&0x80 == 0 {
			return nil, at, true
		}
		n := 3 << (flags&7 + 1)
		if at+n > len(data) {
			return nil, at, false
		}
		return data[at : at+n], at + n, true
	}
	global, i, ok := table(13, int(data[10]))
	if !ok {
		return
	}
	for i < len(data) {
		switch data[i] {
		case 0x21: // extension: label, then sub-blocks
			if i+1 >= len(data) {
				return
			}
			if data[i+1] == 0xf9 && i+6 < len(data) && data[i+2] == 4 {
				trans = -1
				if data[i+3]&1 != 0 {
					trans = int(data[i+6])
				}
			}
			i += 2
			for i < len(data) && data[i] != 0 {
				i += int(data[i]) + 1
			}
			i++
		case 0x2c: // first image descriptor
			if i+10 > len(data) {
				return
			}
			local, _, ok := table(i+10, int(data[i+9]))
			if !ok {
				return
			}
			pal := global
			if local != nil {
				pal = local
			}
			if trans >= 0 && trans < len(m.Palette) && 3*trans+2 < len(pal) {
				m.Palette[trans] = color.RGBA{pal[3*trans], pal[3*trans+1], pal[3*trans+2], 0xff}
			}
			return
		default:
			return
		}
	}
	return
}

// isTruncation reports whether err is how a decoder reports data that ended
// early (the decoders that do not return io.ErrUnexpectedEOF).
func isTruncation(err error) bool {
	switch err.Error() {
	case "invalid JPEG format: short Huffman data",
		"invalid JPEG format: missing SOS marker",
		"png: invalid format: not enough pixel data":
		return true
	}
	return false
}

// onCanvas places img (a GIF frame smaller than the logical screen) on a
// w×h canvas at its offset. Like Pillow, it fills the rest with palette index
// fill (the frame's transparent index, else 0), or with zeros.
func onCanvas(img image.Image, w, h, fill int) image.Image {
	r := image.Rect(0, 0, w, h)
	if p, ok := img.(*image.Paletted); ok {
		c := image.NewPaletted(r, p.Palette)
		if fill != 0 {
			for i := range c.Pix {
				c.Pix[i] = uint8(fill)
			}
		}
		for y := max(0, p.Rect.Min.Y); y < min(h, p.Rect.Max.Y); y++ {
			for x := max(0, p.Rect.Min.X); x < min(w, p.Rect.Max.X); x++ {
				c.Pix[y*c.Stride+x] = p.Pix[p.PixOffset(x, y)]
			}
		}
		return c
	}
	c := image.NewNRGBA(r)
	for y := max(0, img.Bounds().Min.Y); y < min(h, img.Bounds().Max.Y); y++ {
		for x := max(0, img.Bounds().Min.X); x < min(w, img.Bounds().Max.X); x++ {
			c.Set(x, y, img.At(x, y))
		}
	}
	return c
}

// asPillowOpens converts the Go decoder's result where Pillow opens the same
// file in a mode that preprocesses differently (see ImageOptions.Decode).
func asPillowOpens(img image.Image, format string, hdr []byte) image.Image {
	switch format {
	case "png":
		// IHDR: 8-byte signature, length, "IHDR", width, height, depth, colour type.
		if len(hdr) < 26 || string(hdr[12:16]) != "IHDR" {
			return img
		}
		depth, ctype := hdr[24], hdr[25]
		switch {
		case ctype == 0 && depth == 1:
			if g, ok := img.(*image.Gray); ok {
				return bilevelPaletted(g)
			}
		case ctype == 0 || ctype == 2:
			// A tRNS colour key made Go return an image with alpha.
			switch m := img.(type) {
			case *image.NRGBA:
				for i := 3; i < len(m.Pix); i += 4 {
					m.Pix[i] = 0xff
				}
			case *image.NRGBA64:
				if ctype == 0 { // 16-bit grey: Pillow mode "I"
					g := image.NewGray16(m.Rect)
					for i := 0; i < len(g.Pix); i += 2 {
						copy(g.Pix[i:i+2], m.Pix[4*i:4*i+2])
					}
					return g
				}
				for i := 6; i < len(m.Pix); i += 8 {
					m.Pix[i], m.Pix[i+1] = 0xff, 0xff
				}
			}
		}
	case "tiff":
		if g, ok := img.(*image.Gray); ok && tiffBilevel(hdr) {
			return bilevelPaletted(g)
		}
	case "webp":
		switch m := img.(type) {
		case *image.YCbCr:
			if m.SubsampleRatio == image.YCbCrSubsampleRatio420 && m.Rect.Min == (image.Point{}) {
				return webpToNRGBA(m, nil, 0)
			}
		case *image.NYCbCrA:
			if m.SubsampleRatio == image.YCbCrSubsampleRatio420 && m.Rect.Min == (image.Point{}) {
				return webpToNRGBA(&m.YCbCr, m.A, m.AStride)
			}
		}
	case "gif", "bmp":
		if p, ok := img.(*image.Paletted); ok && isGreyRamp(p.Palette) {
			g := image.NewGray(p.Rect)
			copy(g.Pix, p.Pix)
			return g
		}
	}
	return img
}

// bilevelPaletted turns a black-and-white grey image into a two-entry palette
// image: Pillow's mode "1", which it resizes with nearest neighbour.
func bilevelPaletted(g *image.Gray) *image.Paletted {
	p := image.NewPaletted(g.Rect, color.Palette{color.Gray{0}, color.Gray{255}})
	for y := 0; y < g.Rect.Dy(); y++ {
		row := g.Pix[y*g.Stride : y*g.Stride+g.Rect.Dx()]
		out := p.Pix[y*p.Stride : y*p.Stride+g.Rect.Dx()]
		for x, v := range row {
			if v != 0 {
				out[x] = 1
			}
		}
	}
	return p
}

// tiffBilevel reports whether the first IFD of the TIFF file starting with data
// describes a 1-bit black-and-white image (BitsPerSample 1, photometric
// WhiteIsZero or BlackIsZero).
func tiffBilevel(data []byte) bool {
	if len(data) < 8 {
		return false
	}
	var bo binary.ByteOrder
	switch string(data[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return false
	}
	off := int64(bo.Uint32(data[4:]))
	if off+2 > int64(len(data)) {
		return false
	}
	n := int64(bo.Uint16(data[off:]))
	if off+2+12*n > int64(len(data)) {
		return false
	}
	bps, photometric := 1, -1 // BitsPerSample defaults to 1
	for i := int64(0); i < n; i++ {
		e := data[off+2+12*i:]
		tag, typ, count := bo.Uint16(e), bo.Uint16(e[2:]), bo.Uint32(e[4:])
		if typ != 3 || count != 1 { // one SHORT, stored in the entry
			continue
		}
		switch tag {
		case 258:
			bps = int(bo.Uint16(e[8:]))
		case 262:
			photometric = int(bo.Uint16(e[8:]))
		}
	}
	return bps == 1 && (photometric == 0 || photometric == 1)
}

// isGreyRamp reports whether palette entry i is (i, i, i) for every i, the
// palettes Pillow opens as mode "L" in GIF and BMP files.
func isGreyRamp(p color.Palette) bool {
	if len(p) < 2 {
		return false
	}
	for i, c := range p {
		r, g, b, a := nrgba8(c)
		if int(r) != i || int(g) != i || int(b) != i || a != 0xff {
			return false
		}
	}
	return true
}
