package train

import (
	"errors"
	"image"

	"github.com/gococa/gococa/tensor"
)

// memDataset is a CHW dataset of images already in memory (normalised
// (3, S, S) floats), for evaluation tests.
type memDataset struct {
	images   []float32
	captions []string
	size     int
}

func (d *memDataset) Len() int       { return len(d.captions) }
func (d *memDataset) ImageSize() int { return d.size }
func (d *memDataset) Item(int) (image.Image, string, error) {
	return nil, "", errors.New("memDataset: only ItemCHW")
}
func (d *memDataset) ItemCHW(dst []float32, i int) (string, error) {
	n := 3 * d.size * d.size
	copy(dst, d.images[i*n:(i+1)*n])
	return d.captions[i], nil
}

// memEvalSet is an evaluation set over images in memory.
func memEvalSet(images []float32, captions []string, labels []int, size int) *evalSet {
	return &evalSet{ds: &memDataset{images, captions, size}, labels: labels, size: size}
}

// batchImages returns images [lo, hi) of a memEvalSet as a tensor.
func (e *evalSet) batchImages(lo, hi int) *tensor.Tensor {
	d := e.ds.(*memDataset)
	n := 3 * e.size * e.size
	return tensor.FromSlice(d.images[lo*n:hi*n], hi-lo, 3, e.size, e.size)
}

func ptr[T any](v T) *T { return &v }
