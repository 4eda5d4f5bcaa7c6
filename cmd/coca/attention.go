package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/gococa/gococa/coca"
)

// attentionWriter writes cross-attention heatmaps under a directory: for
// each image a folder named after it holding one PNG per caption token
// (the heatmap over the image, labelled with the token) and
// attention.json (the caption, the tokens and their maps).
type attentionWriter struct {
	dir  string
	used map[string]int // folder names taken
}

// attentionSide is the side of the heatmap pictures, at least the model's.
const attentionSide = 256

type attentionToken struct {
	Position int       `json:"position"` // index in tokens (the start token is 0)
	ID       int       `json:"id"`
	Text     string    `json:"text"`
	File     string    `json:"file"`
	Map      []float32 `json:"map"` // grid×grid, row-major, summing to 1
}

type attentionIndex struct {
	Image   string           `json:"image"`
	Caption string           `json:"caption"`
	Grid    int              `json:"grid"`
	Tokens  []attentionToken `json:"tokens"`
}

// write writes the heatmaps of one image's caption.
func (w *attentionWriter) write(p *coca.Pipeline, path string, img image.Image, caption coca.Caption, maps *coca.AttentionMaps) error {
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	w.used[stem]++
	if n := w.used[stem]; n > 1 {
		stem = fmt.Sprintf("%s-%d", stem, n)
	}
	dir := filepath.Join(w.dir, stem)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--attention: %w", err)
	}
	side := max(attentionSide, p.Model().Config.Vision.ImageSize)
	base := centreSquare(img, side)
	idx := attentionIndex{Image: path, Caption: caption.Text, Grid: maps.Grid}
	_, end, _ := p.SpecialTokens()
	for j, m := range maps.Maps {
		id := maps.Tokens[j+1]
		text := p.TokenText(id)
		if id == end {
			text = "<end>"
		}
		name := fmt.Sprintf("%02d-%s.png", j+1, fileSafe(text))
		pic := heatmap(base, m, maps.Grid, fmt.Sprintf("%d: %s", j+1, text))
		if err := writePNG(filepath.Join(dir, name), pic); err != nil {
			return err
		}
		idx.Tokens = append(idx.Tokens, attentionToken{Position: j + 1, ID: id, Text: text, File: name, Map: m})
	}
	b, _ := json.MarshalIndent(idx, "", " ")
	if err := os.WriteFile(filepath.Join(dir, "attention.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("--attention: %w", err)
	}
	return nil
}

// centreSquare crops img to its centred square, as the model's
// preprocessing does, and scales it to side×side.
func centreSquare(img image.Image, side int) *image.RGBA {
	b := img.Bounds()
	s := min(b.Dx(), b.Dy())
	x0, y0 := b.Min.X+(b.Dx()-s)/2, b.Min.Y+(b.Dy()-s)/2
	out := image.NewRGBA(image.Rect(0, 0, side, side))
	draw.CatmullRom.Scale(out, out.Bounds(), img, image.Rect(x0, y0, x0+s, y0+s), draw.Src, nil)
	return out
}

// heatmap overlays the map (grid×grid, bilinearly interpolated between
// patch centres, scaled to its maximum) on base in a blue-to-red colour
// scale, more opaque where the attention is higher, with a label strip
// above.
func heatmap(base *image.RGBA, m []float32, grid int, label string) *image.RGBA {
	side := base.Bounds().Dx()
	const strip = 16
	out := image.NewRGBA(image.Rect(0, 0, side, side+strip))
	draw.Draw(out, image.Rect(0, 0, side, strip), image.NewUniform(color.Black), image.Point{}, draw.Src)
	peak := float32(0)
	for _, v := range m {
		peak = max(peak, v)
	}
	if peak <= 0 {
		peak = 1
	}
	at := func(i, j int) float64 {
		i, j = min(max(i, 0), grid-1), min(max(j, 0), grid-1)
		return float64(m[i*grid+j] / peak)
	}
	for y := 0; y < side; y++ {
		gy := (float64(y)+0.5)*float64(grid)/float64(side) - 0.5
		i0 := int(math.Floor(gy))
		fy := gy - float64(i0)
		for x := 0; x < side; x++ {
			gx := (float64(x)+0.5)*float64(grid)/float64(side) - 0.5
			j0 := int(math.Floor(gx))
			fx := gx - float64(j0)
			v := (1-fy)*((1-fx)*at(i0, j0)+fx*at(i0, j0+1)) + fy*((1-fx)*at(i0+1, j0)+fx*at(i0+1, j0+1))
			r, g, b := jet(v)
			alpha := 0.2 + 0.5*v // the image shows through where attention is low
			c := base.RGBAAt(x, y)
			out.SetRGBA(x, y+strip, color.RGBA{
				uint8((1-alpha)*float64(c.R) + alpha*r),
				uint8((1-alpha)*float64(c.G) + alpha*g),
				uint8((1-alpha)*float64(c.B) + alpha*b), 255})
		}
	}
	d := font.Drawer{Dst: out, Src: image.NewUniform(color.White), Face: basicfont.Face7x13, Dot: fixed.P(4, 12)}
	d.DrawString(label)
	return out
}

// jet maps v in [0, 1] to blue, cyan, green, yellow, red (0-255 each).
func jet(v float64) (r, g, b float64) {
	c := func(x float64) float64 { return 255 * min(max(x, 0), 1) }
	return c(1.5 - math.Abs(4*v-3)), c(1.5 - math.Abs(4*v-2)), c(1.5 - math.Abs(4*v-1))
}

// fileSafe keeps letters, digits, '-' and '_' of a token for a file name.
func fileSafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		}
		if b.Len() >= 24 {
			break
		}
	}
	if b.Len() == 0 {
		return "token"
	}
	return b.String()
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--attention: %w", err)
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("--attention %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--attention %s: %w", path, err)
	}
	return nil
}
