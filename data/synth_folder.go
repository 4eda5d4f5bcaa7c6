package data

import (
	"bufio"
	"errors"
	"fmt"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SynthFolderOptions configure WriteSynthFolder.
type SynthFolderOptions struct {
	// Label picks the class of an image: "shape" (default), "colour", "size",
	// or "class" (size, colour and shape: the zero-shot classes).
	Label string
	// PerClass is the number of images of every class (default 100).
	PerClass int
	// Difficulty and ImageSize are the synthetic dataset's (default: the
	// default difficulty, 40 pixels as coca train's coca_shapes model sees).
	Difficulty Difficulty
	ImageSize  int
}

// WriteSynthFolder renders a labelled image folder (see ImageFolder) of
// single-object synthetic images into dir, one subdirectory per class. The
// images are the first single-object scenes of the zero-shot split (its
// fixed seed, independent of any training seed): no image a coca train run
// trained on. dir must not exist or be empty. It returns the classes.
func WriteSynthFolder(dir string, o SynthFolderOptions) ([]string, error) {
	if o.Label == "" {
		o.Label = "shape"
	}
	if o.PerClass == 0 {
		o.PerClass = 100
	}
	if o.ImageSize == 0 {
		o.ImageSize = 40
	}
	if o.PerClass < 1 || o.PerClass > 1_000_000 {
		return nil, fmt.Errorf("data: synthetic folder: %d images per class: want 1 to 1000000", o.PerClass)
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("data: synthetic folder %s: not empty", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("data: synthetic folder: %w", err)
	}
	s, err := NewSynth(SynthConfig{Difficulty: o.Difficulty, ImageSize: o.ImageSize, ZeroShotSize: 1 << 30})
	if err != nil {
		return nil, err
	}
	var classes []string
	var label func(sc *Scene) int
	switch o.Label {
	case "shape":
		classes = s.ShapeNames()
		label = func(sc *Scene) int { return int(sc.Objects[0].Shape) }
	case "colour", "color":
		classes = s.ColourNames()
		label = func(sc *Scene) int { return sc.Objects[0].Colour }
	case "size":
		classes = s.SizeNames()
		label = func(sc *Scene) int { return sc.Objects[0].Size }
	case "class":
		classes = s.Classes()
		label = s.Label
	default:
		return nil, fmt.Errorf("data: synthetic folder: label %q: want shape, colour, size or class", o.Label)
	}
	names := make([]string, len(classes))
	for i, c := range classes {
		names[i] = strings.ReplaceAll(c, " ", "_")
		if err := os.MkdirAll(filepath.Join(dir, names[i]), 0o755); err != nil {
			return nil, fmt.Errorf("data: synthetic folder: %w", err)
		}
	}
	zs := s.ZeroShot()
	count := make([]int, len(classes))
	left := len(classes) * o.PerClass
	for i := 0; left > 0; i++ {
		if i > 1000*len(classes)*o.PerClass {
			return nil, fmt.Errorf("data: synthetic folder: too few scenes of some class after %d draws", i)
		}
		sc := zs.Scene(i)
		c := label(&sc)
		if count[c] == o.PerClass {
			continue
		}
		img, _ := zs.Sample(i)
		path := filepath.Join(dir, names[c], fmt.Sprintf("%07d.png", i))
		f, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("data: synthetic folder: %w", err)
		}
		w := bufio.NewWriter(f)
		err = png.Encode(w, img)
		if err == nil {
			err = w.Flush()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("data: synthetic folder %s: %w", path, err)
		}
		count[c]++
		left--
	}
	return names, nil
}
