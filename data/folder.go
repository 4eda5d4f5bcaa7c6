package data

import (
	"fmt"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ImageFolder is a labelled image folder, the layout of torchvision's
// ImageFolder: one subdirectory per class, named after it, holding that
// class's images (in subdirectories too). Classes are the subdirectory names
// in sorted order; files directly under the root are ignored. It implements
// Dataset: an item's caption is its class name.
type ImageFolder struct {
	root    string
	classes []string
	items   []folderItem
	opts    ImageOptions
}

type folderItem struct {
	path  string
	label int
}

// ImageExtensions are the file name extensions read as images (lower case).
var ImageExtensions = []string{".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp"}

// IsImageName reports whether name has one of ImageExtensions.
func IsImageName(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range ImageExtensions {
		if ext == e {
			return true
		}
	}
	return false
}

// OpenImageFolder lists root's classes and images. It fails, naming the
// directory, when root has no class subdirectory or a class has no image;
// only regular files are listed.
func OpenImageFolder(root string, opts ImageOptions) (*ImageFolder, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("data: image folder: %w", err)
	}
	f := &ImageFolder{root: root, opts: opts}
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			f.classes = append(f.classes, e.Name())
		}
	}
	sort.Strings(f.classes)
	if len(f.classes) == 0 {
		return nil, fmt.Errorf("data: image folder %s: no class subdirectories (want one directory of images per class)", root)
	}
	for label, c := range f.classes {
		dir := filepath.Join(root, c)
		var paths []string
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != dir && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if !IsImageName(d.Name()) || strings.HasPrefix(d.Name(), ".") {
				return nil
			}
			if err := statImage(p); err != nil {
				return fmt.Errorf("image %s: %w", p, err)
			}
			paths = append(paths, p)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("data: image folder %s: %w", root, err)
		}
		if len(paths) == 0 {
			return nil, fmt.Errorf("data: image folder %s: class %q has no image files (%s)", root, c, strings.Join(ImageExtensions, ", "))
		}
		sort.Strings(paths)
		for _, p := range paths {
			f.items = append(f.items, folderItem{p, label})
		}
	}
	return f, nil
}

// Len returns the number of images.
func (f *ImageFolder) Len() int { return len(f.items) }

// Classes returns the class names, in label order.
func (f *ImageFolder) Classes() []string { return append([]string(nil), f.classes...) }

// Label returns the class of image i.
func (f *ImageFolder) Label(i int) int { return f.items[i].label }

// Labels returns the class of every image.
func (f *ImageFolder) Labels() []int {
	out := make([]int, len(f.items))
	for i, it := range f.items {
		out[i] = it.label
	}
	return out
}

// Path returns the file of image i.
func (f *ImageFolder) Path(i int) string { return f.items[i].path }

// Item loads image i; its caption is its class name. Errors name the file.
func (f *ImageFolder) Item(i int) (image.Image, string, error) {
	it := f.items[i]
	img, err := f.opts.Load(it.path)
	if err != nil {
		return nil, "", err
	}
	return img, f.classes[it.label], nil
}
