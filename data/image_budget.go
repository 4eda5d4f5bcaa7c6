package data

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"io/fs"
	"os"
)

// DefaultMaxImageBytes is the default of ImageOptions.MaxBytes: the memory
// one image may take to decode and preprocess. It admits a 59-megapixel
// baseline JPEG, a 33-megapixel RGBA PNG or a 25-megapixel progressive
// JPEG; the 9400×9400 PNGs of a few hundred KB that took 1.1-1.4 GB are
// refused from their header.
const DefaultMaxImageBytes = 256 << 20

// ErrImageTooLarge is wrapped by the error for an image whose decoding would
// take more memory than ImageOptions.MaxBytes, or whose file is larger.
var ErrImageTooLarge = errors.New("image exceeds the memory limit")

// ErrNotRegular is wrapped by the error for an image path that is not a
// regular file (a FIFO, a device, a directory, a socket): reading one could
// block for ever or never end.
var ErrNotRegular = errors.New("not a regular file")

func (o ImageOptions) maxBytes() int64 {
	if o.MaxBytes == 0 {
		return DefaultMaxImageBytes
	}
	return o.MaxBytes
}

// openImage opens path for reading only if it is a regular file. On Unix
// the open itself does not block on a FIFO (O_NONBLOCK, see open_unix.go),
// and the check is made on the opened file, so a file swapped for a FIFO
// after a stat cannot hang the reader.
func openImage(path string) (*os.File, error) {
	f, err := openNonblock(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, fileKind(st.Mode()))
	}
	return f, nil
}

// fileKind names the kind of a file that is not regular.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.String()
}

// limitReader returns the data of r up to limit bytes, then an error
// wrapping ErrImageTooLarge.
type limitReader struct {
	r           io.Reader
	left, limit int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, fmt.Errorf("file longer than %d bytes (the limit, ImageOptions.MaxBytes): %w", l.limit, ErrImageTooLarge)
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// decodeBytesPerPixel estimates, from an image's header, the bytes per
// pixel that decoding it and preprocessing it take at their peak: the
// decoder's image (and its working buffers: a progressive JPEG's
// coefficients, an interlaced PNG's passes, a lossy WebP's conversion to
// RGBA, a TIFF's file and strip buffers) plus the copy Preprocess makes in
// Pillow's mode. Measured against the bytes allocated, it is within 0.7 to
// 2.5 times them for every format and mode (TestDecodeMemoryEstimate). hdr is the start of
// the file, as far as image.DecodeConfig read it.
func decodeBytesPerPixel(format string, cfg image.Config, hdr []byte) float64 {
	decoded := modelBytes(cfg.ColorModel)
	pil := 4.0 // RGBA; RGB images take 3
	switch cfg.ColorModel {
	case color.GrayModel:
		pil = 1
	case color.YCbCrModel:
		pil = 3
	}
	if _, ok := cfg.ColorModel.(color.Palette); ok {
		pil = 1
	}
	switch format {
	case "jpeg":
		samples, components, progressive, ok := jpegLayout(hdr)
		if !ok {
			samples, components = 3, 3
		}
		decoded = samples
		if progressive {
			decoded += 4 * samples // int32 coefficients of every block
		}
		if components == 4 {
			decoded += 4 // CMYK converted from the decoded planes
		}
	case "png":
		// IHDR's interlace method: Adam7 passes are decoded apart, then merged.
		if len(hdr) > 28 && hdr[28] == 1 {
			decoded *= 2
		}
	case "gif":
		decoded++ // a frame smaller than the screen is copied onto a canvas
	case "tiff":
		// The file is buffered whole, and a compressed strip is inflated
		// into a buffer that grows by doubling.
		decoded *= 5
	case "webp":
		decoded += 4 // a lossy WebP is converted to RGBA as libwebp does
	}
	return decoded + pil
}

// modelBytes returns the bytes per pixel of Go's image type for a colour model.
func modelBytes(m color.Model) float64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8
}

// jpegLayout reads a JPEG's frame header (SOFn) from the start of the file:
// the samples per pixel its components hold (3 for 4:4:4 colour, 1.5 for
// 4:2:0, 1 for grey), the number of components and whether it is
// progressive.
func jpegLayout(hdr []byte) (samples float64, components int, progressive, ok bool) {
	if len(hdr) < 4 || hdr[0] != 0xff || hdr[1] != 0xd8 {
		return 0, 0, false, false
	}
	for i := 2; i+4 <= len(hdr); {
		if hdr[i] != 0xff {
			return 0, 0, false, false
		}
		marker := hdr[i+1]
		if marker == 0xff { // fill byte
			i++
			continue
		}
		n := int(hdr[i+2])<<8 | int(hdr[i+3])
		if marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc {
			seg := hdr[i+4 : min(len(hdr), i+2+n)]
			if len(seg) < 6 {
				return 0, 0, false, false
			}
			nc := int(seg[5])
			if nc < 1 || len(seg) < 6+3*nc {
				return 0, 0, false, false
			}
			hmax, vmax := 1, 1
			for c := range nc {
				hv := seg[6+3*c+1]
				hmax, vmax = max(hmax, int(hv>>4)), max(vmax, int(hv&15))
			}
			for c := range nc {
				hv := seg[6+3*c+1]
				samples += float64(max(1, int(hv>>4))*max(1, int(hv&15))) / float64(hmax*vmax)
			}
			return samples, nc, marker == 0xc2 || marker == 0xc6 || marker == 0xca || marker == 0xce, true
		}
		i += 2 + n
	}
	return 0, 0, false, false
}
