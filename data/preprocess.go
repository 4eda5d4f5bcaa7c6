package data

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
)

// The OpenAI CLIP normalisation open_clip uses for CoCa: per-channel mean and
// standard deviation of pixels scaled to [0, 1].
const (
	MeanR = 0.48145466
	MeanG = 0.4578275
	MeanB = 0.40821073
	StdR  = 0.26862954
	StdG  = 0.26130258
	StdB  = 0.27577711
)

// Random resized crop parameters of open_clip's training transform.
const (
	CropScaleMin = 0.9
	CropScaleMax = 1.0
	CropRatioMin = 3.0 / 4.0
	CropRatioMax = 4.0 / 3.0
)

// DefaultImageSize is the image side of coca_ViT-B-32 and coca_ViT-L-14.
const DefaultImageSize = 224

// Preprocess is open_clip's eval transform (image_transform(size, is_train=False)):
// resize the shorter side to size with Pillow's antialiased bicubic (the longer
// side becomes int(size*long/short)), center crop size×size at offset
// int(round((side-size)/2)), convert to RGB (alpha dropped, not composited),
// scale to [0, 1] and normalise with the OpenAI mean and std. It returns 3*size*size
// float32 values, channel-major (C, H, W).
//
// The resize reproduces Pillow's for the mode Pillow would give the same image
// (see newPilImage): the result equals open_clip's bit for bit for the pixels
// given. It panics if size < 1 or img is empty.
func Preprocess(img image.Image, size int) []float32 {
	dst := make([]float32, 3*size*size)
	PreprocessInto(dst, img, size)
	return dst
}

// PreprocessInto is Preprocess writing into dst, which must hold 3*size*size values.
func PreprocessInto(dst []float32, img image.Image, size int) {
	checkPreprocessArgs("PreprocessInto", dst, img, size)
	p := newPilImage(img)
	nw, nh := resizeShorter(p.w, p.h, size)
	left := int(math.RoundToEven(float64(nw-size) / 2))
	top := int(math.RoundToEven(float64(nh-size) / 2))
	rgb := p.resizeWindow(0, 0, p.w, p.h, nw, nh, left, top, size, size)
	normalizeCHW(dst, rgb, size*size)
}

// PreprocessFile loads the image at path (DefaultMaxPixels applies) and
// preprocesses it with Preprocess.
func PreprocessFile(path string, size int) ([]float32, error) {
	return ImageOptions{Size: size}.PreprocessFile(path)
}

// RandomResizedCrop is open_clip's training transform: torchvision's
// RandomResizedCrop(size, scale=(0.9, 1.0), ratio=(3/4, 4/3), bicubic) drawing
// from rng, then RGB conversion and the same normalisation as Preprocess.
// It returns 3*size*size float32 values, (C, H, W).
func RandomResizedCrop(img image.Image, size int, rng *rand.Rand) []float32 {
	dst := make([]float32, 3*size*size)
	RandomResizedCropInto(dst, img, size, rng)
	return dst
}

// RandomResizedCropInto is RandomResizedCrop writing into dst (3*size*size values).
func RandomResizedCropInto(dst []float32, img image.Image, size int, rng *rand.Rand) {
	checkPreprocessArgs("RandomResizedCropInto", dst, img, size)
	if rng == nil {
		panic("data: RandomResizedCropInto: nil *rand.Rand")
	}
	p := newPilImage(img)
	x, y, w, h := randomCropBox(p.w, p.h, rng)
	p.resizedCropInto(dst, x, y, w, h, size)
}

// resizedCropInto is torchvision's F.resized_crop on p followed by ToTensor and
// Normalize: the w×h rectangle at (x, y) resized to size×size, bicubic.
func (p *pilImage) resizedCropInto(dst []float32, x, y, w, h, size int) {
	rgb := p.resizeWindow(x, y, w, h, size, size, 0, 0, size, size)
	normalizeCHW(dst, rgb, size*size)
}

// randomCropBox is torchvision's RandomResizedCrop.get_params with open_clip's
// scale (0.9, 1.0) and ratio (3/4, 4/3): up to 10 draws of an area fraction and a
// log-uniform aspect ratio, else a center crop clamped to the ratio range.
func randomCropBox(width, height int, rng *rand.Rand) (x, y, w, h int) {
	area := float64(width * height)
	logLo, logHi := math.Log(CropRatioMin), math.Log(CropRatioMax)
	for range 10 {
		target := area * (CropScaleMin + rng.Float64()*(CropScaleMax-CropScaleMin))
		ratio := math.Exp(logLo + rng.Float64()*(logHi-logLo))
		w = int(math.RoundToEven(math.Sqrt(target * ratio)))
		h = int(math.RoundToEven(math.Sqrt(target / ratio)))
		if 0 < w && w <= width && 0 < h && h <= height {
			y = rng.IntN(height - h + 1)
			x = rng.IntN(width - w + 1)
			return x, y, w, h
		}
	}
	inRatio := float64(width) / float64(height)
	switch {
	case inRatio < CropRatioMin:
		w = width
		h = int(math.RoundToEven(float64(w) / CropRatioMin))
	case inRatio > CropRatioMax:
		h = height
		w = int(math.RoundToEven(float64(h) * CropRatioMax))
	default:
		w, h = width, height
	}
	return (width - w) / 2, (height - h) / 2, w, h
}

// resizeShorter returns torchvision's Resize(size) output size for a w×h image:
// the shorter side becomes size, the longer int(size*long/short).
func resizeShorter(w, h, size int) (nw, nh int) {
	if w <= h {
		return size, int(float64(size*h) / float64(w))
	}
	return int(float64(size*w) / float64(h)), size
}

// normalizeCHW writes ToTensor + Normalize of n interleaved RGB pixels to dst
// in (C, H, W) order, in float32 as torchvision computes it.
func normalizeCHW(dst []float32, rgb []uint8, n int) {
	mean := [3]float32{MeanR, MeanG, MeanB}
	std := [3]float32{StdR, StdG, StdB}
	for c := 0; c < 3; c++ {
		var lut [256]float32
		for v := range lut {
			lut[v] = (float32(v)/255 - mean[c]) / std[c]
		}
		out := dst[c*n : (c+1)*n]
		for i := range out {
			out[i] = lut[rgb[3*i+c]]
		}
	}
}

func checkPreprocessArgs(fn string, dst []float32, img image.Image, size int) {
	if size < 1 {
		panic(fmt.Sprintf("data: %s: size %d < 1", fn, size))
	}
	if len(dst) != 3*size*size {
		panic(fmt.Sprintf("data: %s: len(dst) = %d, want 3*%d*%d = %d", fn, len(dst), size, size, 3*size*size))
	}
	if img == nil || img.Bounds().Empty() {
		panic(fmt.Sprintf("data: %s: empty image", fn))
	}
}
