//go:build ignore

// make_images writes the test images of package data that are made with Go from
// the open_clip fixture photos in this folder. Run from the repository root:
//
//	go run data/testdata/make_images.go
//
// then regenerate the Pillow references with data/testdata/make_refs.py.
package main

import (
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"log"
	"os"
	"path/filepath"

	"golang.org/x/image/bmp"
	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/tiff"
)

const dir = "data/testdata"

func load(name string) image.Image {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		log.Fatal(err)
	}
	return img
}

func create(name string, write func(f *os.File) error) {
	f, err := os.Create(filepath.Join(dir, "variants", name))
	if err != nil {
		log.Fatal(err)
	}
	if err := write(f); err != nil {
		log.Fatal(name, ": ", err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

// crop copies the rectangle r of img into a new RGBA image at the origin.
func crop(img image.Image, r image.Rectangle) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(out, out.Rect, img, r.Min, draw.Src)
	return out
}

func main() {
	if err := os.MkdirAll(filepath.Join(dir, "variants"), 0o755); err != nil {
		log.Fatal(err)
	}
	chelsea := load("chelsea.png")     // 451×300 RGB
	coffee := load("coffee.png")       // 600×400 RGB
	astronaut := load("astronaut.png") // 512×512 RGB

	// Grey (Pillow mode "L").
	grey := image.NewGray(chelsea.Bounds())
	draw.Draw(grey, grey.Rect, chelsea, image.Point{}, draw.Src)
	create("grey.png", func(f *os.File) error { return png.Encode(f, grey) })

	// RGBA with alpha varying across the image, fully transparent and fully
	// opaque bands included (Pillow resizes RGBA premultiplied).
	c := crop(coffee, image.Rect(150, 80, 350, 230))
	rgba := image.NewNRGBA(c.Rect)
	for y := 0; y < c.Rect.Dy(); y++ {
		for x := 0; x < c.Rect.Dx(); x++ {
			p := c.RGBAAt(x, y)
			a := uint8(0)
			switch {
			case x < 40:
				a = 0
			case x >= 170:
				a = 255
			default:
				a = uint8((x - 40) * 255 / 130 * (y%64 + 192) / 255)
			}
			rgba.SetNRGBA(x, y, color.NRGBA{p.R, p.G, p.B, a})
		}
	}
	create("rgba.png", func(f *os.File) error { return png.Encode(f, rgba) })

	// Palette images (Pillow mode "P", resized with nearest neighbour).
	fs := image.NewPaletted(chelsea.Bounds(), palette.Plan9)
	draw.FloydSteinberg.Draw(fs, fs.Rect, chelsea, image.Point{})
	create("palette_fs.png", func(f *os.File) error { return png.Encode(f, fs) })
	ws := image.NewPaletted(image.Rect(0, 0, 300, 200), palette.WebSafe)
	draw.Draw(ws, ws.Rect, coffee, image.Pt(150, 100), draw.Src)
	create("palette_plain.gif", func(f *os.File) error { return gif.Encode(f, ws, &gif.Options{NumColors: 216}) })

	// A GIF whose palette is the grey ramp (Pillow opens it as mode "L").
	ramp := make(color.Palette, 256)
	for i := range ramp {
		ramp[i] = color.Gray{uint8(i)}
	}
	gg := image.NewPaletted(image.Rect(0, 0, 200, 150), ramp)
	draw.Draw(gg, gg.Rect, grey, image.Pt(120, 60), draw.Src)
	create("grey_ramp.gif", func(f *os.File) error { return gif.Encode(f, gg, nil) })

	// 16-bit grey PNG (Pillow mode "I", clamped to 0..255 by convert("RGB")):
	// samples span 0..300 so that both the clamp and the in-range path show.
	g16 := image.NewGray16(image.Rect(0, 0, 240, 180))
	for y := 0; y < 180; y++ {
		for x := 0; x < 240; x++ {
			g16.SetGray16(x, y, color.Gray16{uint16(int(grey.GrayAt(x+100, y+60).Y) * 300 / 255)})
		}
	}
	create("grey16.png", func(f *os.File) error { return png.Encode(f, g16) })

	// 16-bit RGB and RGBA PNGs (Pillow keeps the high byte of each sample).
	m16 := crop(coffee, image.Rect(260, 150, 340, 210))
	rgb16 := image.NewRGBA64(m16.Rect)
	rgba16 := image.NewNRGBA64(m16.Rect)
	for y := 0; y < m16.Rect.Dy(); y++ {
		for x := 0; x < m16.Rect.Dx(); x++ {
			p := m16.RGBAAt(x, y)
			// Low bytes vary so that rounding instead of truncating would show.
			lo := uint16((x*37 + y*91) % 256)
			r, g, b := uint16(p.R)<<8|lo, uint16(p.G)<<8|(255-lo), uint16(p.B)<<8|lo/2
			rgb16.SetRGBA64(x, y, color.RGBA64{r, g, b, 0xffff})
			rgba16.SetNRGBA64(x, y, color.NRGBA64{r, g, b, uint16(x*800+y*300) % 0xffff})
		}
	}
	create("modes_rgb16.png", func(f *os.File) error { return png.Encode(f, rgb16) })
	create("modes_rgba16.png", func(f *os.File) error { return png.Encode(f, rgba16) })

	// A GIF whose only frame is smaller than the logical screen, with a
	// transparent index: Pillow fills the rest of the screen with that index.
	gpal := color.Palette{color.White, color.Black}
	for i := 2; i < 64; i++ {
		gpal = append(gpal, color.RGBA{uint8(i * 4), uint8(255 - i*3), uint8(i * i % 256), 0xff})
	}
	gpal[5] = color.RGBA{} // transparent
	frame := image.NewPaletted(image.Rect(9, 6, 9+40, 6+28), gpal)
	draw.FloydSteinberg.Draw(frame, frame.Rect, crop(coffee, image.Rect(250, 150, 290, 178)), image.Point{})
	for y := 10; y < 20; y++ {
		for x := 15; x < 30; x++ {
			frame.SetColorIndex(x, y, 5)
		}
	}
	create("modes_gif_offset.gif", func(f *os.File) error {
		return gif.EncodeAll(f, &gif.GIF{Image: []*image.Paletted{frame}, Delay: []int{0},
			Config: image.Config{ColorModel: gpal, Width: 64, Height: 48}})
	})

	// Small image (upscaled by the resize) and a tall narrow one.
	create("small.png", func(f *os.File) error { return png.Encode(f, crop(astronaut, image.Rect(200, 80, 260, 125))) })
	create("tall.png", func(f *os.File) error { return png.Encode(f, crop(astronaut, image.Rect(300, 0, 340, 512))) })

	// BMP and TIFF.
	create("crop.bmp", func(f *os.File) error { return bmp.Encode(f, crop(chelsea, image.Rect(150, 60, 310, 180))) })
	create("crop.tiff", func(f *os.File) error {
		return tiff.Encode(f, crop(coffee, image.Rect(200, 100, 360, 220)), &tiff.Options{Compression: tiff.Deflate})
	})

	// JPEGs from Go's encoder (4:2:0): a small one and a large upscaled one.
	create("chelsea_q90.jpg", func(f *os.File) error { return jpeg.Encode(f, chelsea, &jpeg.Options{Quality: 90}) })
	big := image.NewRGBA(image.Rect(0, 0, 1800, 1350))
	xdraw.CatmullRom.Scale(big, big.Rect, coffee, coffee.Bounds(), xdraw.Src, nil)
	create("large_1800.jpg", func(f *os.File) error { return jpeg.Encode(f, big, &jpeg.Options{Quality: 75}) })
	gj := crop(astronaut, image.Rect(150, 100, 230, 160))
	gjg := image.NewGray(gj.Rect)
	draw.Draw(gjg, gjg.Rect, gj, image.Point{}, draw.Src)
	create("grey.jpg", func(f *os.File) error { return jpeg.Encode(f, gjg, &jpeg.Options{Quality: 90}) })
}
