package safetensors

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// Tensor is one tensor to write: little-endian, row-major bytes of DType.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

func shapeElems(fn string, shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("safetensors.%s: negative dimension in shape %v", fn, shape))
		}
		n *= d
	}
	return n
}

func checkLen(fn, name string, shape []int, n int) {
	if want := shapeElems(fn, shape); want != n {
		panic(fmt.Sprintf("safetensors.%s: tensor %q: shape %v needs %d elements, data has %d", fn, name, shape, want, n))
	}
}

// F32 makes a float32 tensor. It panics if len(data) does not match shape.
func F32(name string, shape []int, data []float32) Tensor {
	checkLen("F32", name, shape, len(data))
	b := make([]byte, 4*len(data))
	if hostLittleEndian && len(data) > 0 {
		copy(b, unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*len(data)))
	} else {
		for i, v := range data {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
	}
	return Tensor{Name: name, DType: DTypeF32, Shape: slices.Clone(shape), Data: b}
}

// I64 makes an int64 tensor. It panics if len(data) does not match shape.
func I64(name string, shape []int, data []int64) Tensor {
	checkLen("I64", name, shape, len(data))
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return Tensor{Name: name, DType: DTypeI64, Shape: slices.Clone(shape), Data: b}
}

// BF16FromF32 makes a bfloat16 tensor, rounding each value to nearest even.
// It panics if len(data) does not match shape.
func BF16FromF32(name string, shape []int, data []float32) Tensor {
	checkLen("BF16FromF32", name, shape, len(data))
	b := make([]byte, 2*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint16(b[2*i:], Float32ToBF16(v))
	}
	return Tensor{Name: name, DType: DTypeBF16, Shape: slices.Clone(shape), Data: b}
}

// BF16 makes a bfloat16 tensor from raw bfloat16 values (the high 16 bits
// of float32s). It panics if len(data) does not match shape.
func BF16(name string, shape []int, data []uint16) Tensor {
	checkLen("BF16", name, shape, len(data))
	b := make([]byte, 2*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	return Tensor{Name: name, DType: DTypeBF16, Shape: slices.Clone(shape), Data: b}
}

// F16FromF32 makes a binary16 tensor, rounding each value to nearest even.
// It panics if len(data) does not match shape.
func F16FromF32(name string, shape []int, data []float32) Tensor {
	checkLen("F16FromF32", name, shape, len(data))
	b := make([]byte, 2*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint16(b[2*i:], Float32ToF16(v))
	}
	return Tensor{Name: name, DType: DTypeF16, Shape: slices.Clone(shape), Data: b}
}

// header builds the padded JSON header for tensors and returns it with the
// tensors in data order. The layout follows the reference implementation:
// tensors ordered by descending dtype alignment, then by name (a file of one
// dtype is ordered by name), offsets contiguous from 0, "__metadata__" first
// (its keys sorted), the JSON padded with spaces to a multiple of 8 bytes.
func header(tensors []Tensor, metadata map[string]string) ([]byte, []Tensor, error) {
	order := slices.Clone(tensors)
	seen := make(map[string]bool, len(order))
	for i := range order {
		t := &order[i]
		if t.Name == "" {
			return nil, nil, errorf("write: tensor %d has an empty name", i)
		}
		if t.Name == metadataKey {
			return nil, nil, errorf("write: tensor name %q is reserved", t.Name)
		}
		if !utf8.ValidString(t.Name) {
			return nil, nil, errorf("write: tensor name %q is not valid UTF-8", t.Name)
		}
		if seen[t.Name] {
			return nil, nil, errorf("write: duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
		if !t.DType.Valid() {
			return nil, nil, errorf("write: tensor %q: unknown dtype %q", t.Name, string(t.DType))
		}
		n := uint64(1)
		for _, d := range t.Shape {
			if d < 0 {
				return nil, nil, errorf("write: tensor %q: negative dimension in shape %v", t.Name, t.Shape)
			}
			hi, lo := mul64(n, uint64(d))
			if hi != 0 {
				return nil, nil, errorf("write: tensor %q: shape %v overflows", t.Name, t.Shape)
			}
			n = lo
		}
		if hi, want := mul64(n, uint64(t.DType.Size())); hi != 0 || want != uint64(len(t.Data)) {
			return nil, nil, errorf("write: tensor %q: shape %v of %s needs %d bytes, data has %d",
				t.Name, t.Shape, t.DType, want, len(t.Data))
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if ra, rb := a.DType.rank(), b.DType.rank(); ra != rb {
			return ra > rb
		}
		return a.Name < b.Name
	})
	var h []byte
	h = append(h, '{')
	if metadata != nil {
		h = appendString(h, metadataKey)
		h = append(h, ':', '{')
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			v := metadata[k]
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, nil, errorf("write: metadata %q is not valid UTF-8", k)
			}
			if i > 0 {
				h = append(h, ',')
			}
			h = appendString(h, k)
			h = append(h, ':')
			h = appendString(h, v)
		}
		h = append(h, '}')
	}
	off := uint64(0)
	for i, t := range order {
		if i > 0 || metadata != nil {
			h = append(h, ',')
		}
		h = appendString(h, t.Name)
		h = append(h, `:{"dtype":`...)
		h = appendString(h, string(t.DType))
		h = append(h, `,"shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				h = append(h, ',')
			}
			h = strconv.AppendInt(h, int64(d), 10)
		}
		h = append(h, `],"data_offsets":[`...)
		h = strconv.AppendUint(h, off, 10)
		h = append(h, ',')
		off += uint64(len(t.Data))
		h = strconv.AppendUint(h, off, 10)
		h = append(h, ']', '}')
	}
	h = append(h, '}')
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	if len(h) > MaxHeaderSize {
		return nil, nil, errorf("write: header of %d bytes exceeds the %d-byte limit", len(h), MaxHeaderSize)
	}
	return h, order, nil
}

// appendString appends s as a JSON string, escaping only what JSON requires
// (as serde_json does): quote, backslash and control characters.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// Write writes tensors (and metadata, if not nil) to w in safetensors format.
// The output is deterministic: it does not depend on the order of tensors.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	h, order, err := header(tensors, metadata)
	if err != nil {
		return err
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(h)))
	if _, err := w.Write(n[:]); err != nil {
		return errorf("write: %v", err)
	}
	if _, err := w.Write(h); err != nil {
		return errorf("write: %v", err)
	}
	for _, t := range order {
		if _, err := w.Write(t.Data); err != nil {
			return errorf("write: tensor %q: %v", t.Name, err)
		}
	}
	return nil
}

// WriteFile writes tensors to path atomically: the data goes to a temporary
// file in the same directory, which is synced and then renamed over path (and
// the directory synced). On any failure path is left as it was.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) (err error) {
	// Validate before touching the file system.
	if _, _, err := header(tensors, metadata); err != nil {
		return fmt.Errorf("%w (writing %s)", err, path)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			return errorf("%s: exists and is not a regular file", path)
		}
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return errorf("%s: %v", path, err)
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := Write(bw, tensors, metadata); err != nil {
		return fmt.Errorf("%w (writing %s)", err, path)
	}
	if err := bw.Flush(); err != nil {
		return errorf("%s: %v", path, err)
	}
	if testHookWrite != nil {
		if err := testHookWrite(); err != nil {
			return errorf("%s: %v", path, err)
		}
	}
	if err := tmp.Chmod(mode); err != nil {
		return errorf("%s: %v", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return errorf("%s: sync: %v", path, err)
	}
	if err := tmp.Close(); err != nil {
		return errorf("%s: %v", path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return errorf("%s: %v", path, err)
	}
	syncDir(dir)
	return nil
}

// testHookWrite, when set by a test, simulates a failure after the data has
// been written to the temporary file.
var testHookWrite func() error

// syncDir makes a rename in dir durable. Errors are ignored: some systems
// cannot sync directories, and the rename itself has already succeeded.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
