package data

import (
	"bytes"
	"errors"
	"image"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/gococa/gococa/internal/hostile"
)

// The 9400×9400 PNGs of issue 16 (a few hundred KB, 618 MB and more to
// decode and preprocess) are refused from their header, naming the file,
// the memory they need and the limit, without reading pixel data.
func TestDecodeRefusesTooMuchMemory(t *testing.T) {
	for _, c := range []struct {
		name  string
		alpha bool
		depth int
	}{{"rgb.png", false, 8}, {"rgba.png", true, 8}, {"rgba16.png", true, 16}} {
		hdr := hostile.PNGHeader(9400, 9400, c.alpha, c.depth)
		_, err := DecodeImage(&failAfter{t: t, data: hdr}, c.name)
		if !errors.Is(err, ErrImageTooLarge) || !strings.Contains(err.Error(), c.name) ||
			!strings.Contains(err.Error(), "9400x9400") || !strings.Contains(err.Error(), "over the limit of 268 MB (ImageOptions.MaxBytes)") {
			t.Errorf("%s: %v", c.name, err)
		}
		t.Log(err)
	}
	// The limit is configurable and a negative one disables it: a 60×45
	// RGB PNG needs 60*45*(4+3) = 18900 bytes by the estimate.
	path := filepath.Join("testdata", "variants", "small.png")
	if _, err := (ImageOptions{MaxBytes: 18899}).Load(path); !errors.Is(err, ErrImageTooLarge) {
		t.Errorf("MaxBytes 18899: %v", err)
	}
	for _, lim := range []int64{18900 + 6000, -1} { // and room for the 5602-byte file
		if _, err := (ImageOptions{MaxBytes: lim}).Load(path); err != nil {
			t.Errorf("MaxBytes %d: %v", lim, err)
		}
	}
	// A file longer than the limit is cut off there, even when its
	// pixels would fit: a 10×10 PNG behind a 1 MB text chunk.
	var b bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, 10, 10))
	png.Encode(&b, img)
	data := b.Bytes()
	text := append([]byte{0, 16, 0, 0, 't', 'E', 'X', 't'}, make([]byte, 1<<20+4)...)
	long := append(append(append([]byte(nil), data[:33]...), text...), data[33:]...)
	if _, err := (ImageOptions{MaxBytes: 1 << 19}).Decode(bytes.NewReader(long), "long.png"); !errors.Is(err, ErrImageTooLarge) ||
		!strings.Contains(err.Error(), "long.png: file longer than 524288 bytes (the limit, ImageOptions.MaxBytes)") {
		t.Errorf("long file: %v", err)
	}
}

// The estimate follows what decoding and the copy Preprocess makes
// allocate, for every format and mode: measured as the bytes Decode plus
// newPilImage allocate (which counts a buffer grown by doubling at twice its
// peak), it is 0.72-1.24 times them (at least 0.7, at most 2.5 asserted)
// beside up to 300 KB of fixed buffers (bufio, Huffman tables, zlib's
// window) that do not scale with the image.
func TestDecodeMemoryEstimate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under -race (sync.Pool drops items at random)")
	}
	src := image.NewNRGBA(image.Rect(0, 0, 640, 480))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 7 / 5)
	}
	opaque := image.NewRGBA(src.Rect)
	draw.Draw(opaque, opaque.Rect, src, image.Point{}, draw.Src)
	grey := image.NewGray(src.Rect)
	draw.Draw(grey, grey.Rect, src, image.Point{}, draw.Src)
	pal := image.NewPaletted(src.Rect, palette.Plan9)
	draw.Draw(pal, pal.Rect, src, image.Point{}, draw.Src)
	rgba64 := image.NewNRGBA64(src.Rect)
	draw.Draw(rgba64, rgba64.Rect, src, image.Point{}, draw.Src)
	files := map[string][]byte{}
	enc := func(name string, f func(*bytes.Buffer) error) {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		files[name] = b.Bytes()
	}
	enc("rgba.png", func(b *bytes.Buffer) error { return png.Encode(b, src) })
	enc("rgb.png", func(b *bytes.Buffer) error { return png.Encode(b, opaque) })
	enc("grey.png", func(b *bytes.Buffer) error { return png.Encode(b, grey) })
	enc("pal.png", func(b *bytes.Buffer) error { return png.Encode(b, pal) })
	enc("rgba16.png", func(b *bytes.Buffer) error { return png.Encode(b, rgba64) })
	enc("rgb.jpg", func(b *bytes.Buffer) error { return jpeg.Encode(b, opaque, nil) })
	enc("grey.jpg", func(b *bytes.Buffer) error { return jpeg.Encode(b, grey, nil) })
	enc("pal.gif", func(b *bytes.Buffer) error { return gif.Encode(b, pal, nil) })
	enc("rgb.bmp", func(b *bytes.Buffer) error { return bmp.Encode(b, opaque) })
	enc("rgba.tiff", func(b *bytes.Buffer) error { return tiff.Encode(b, src, &tiff.Options{Compression: tiff.Deflate}) })
	for _, n := range []string{"pil_420_odd_progressive.jpg", "pil_cmyk.jpg", "pil_lossy.webp", "pil_alpha_lossy.webp",
		"pil_lossless.webp", "large_1800.jpg", "grey16.png", "modes_gif_offset.gif", "modes_la.png"} {
		b, err := os.ReadFile(filepath.Join("testdata", "variants", n))
		if err != nil {
			t.Fatal(err)
		}
		files[n] = b
	}
	for name, b := range files {
		cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			t.Fatal(name, err)
		}
		est := float64(cfg.Width*cfg.Height) * decodeBytesPerPixel(format, cfg, b)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		img, err := ImageOptions{MaxBytes: -1}.Decode(bytes.NewReader(b), name)
		if err != nil {
			t.Fatal(err)
		}
		p := newPilImage(img)
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(p)
		got := float64(after.TotalAlloc - before.TotalAlloc)
		t.Logf("%-28s %4dx%-4d estimate %8.0f, allocated %8.0f (%.2f)", name, cfg.Width, cfg.Height, est, got, est/got)
		if est < 0.7*(got-300e3) || est > 2.5*got {
			t.Errorf("%s: estimate %.0f bytes, allocated %.0f", name, est, got)
		}
	}
}
