package safetensors

import (
	"encoding/binary"
	"math"
	"sync"
	"unsafe"
)

// DType is a safetensors element type, spelled as in the file header.
type DType string

// The element types this package reads and writes.
const (
	DTypeF64  DType = "F64"
	DTypeF32  DType = "F32"
	DTypeF16  DType = "F16"
	DTypeBF16 DType = "BF16"
	DTypeI64  DType = "I64"
	DTypeI32  DType = "I32"
	DTypeI16  DType = "I16"
	DTypeI8   DType = "I8"
	DTypeU64  DType = "U64"
	DTypeU32  DType = "U32"
	DTypeU16  DType = "U16"
	DTypeU8   DType = "U8"
	DTypeBool DType = "BOOL"
)

// Size returns the number of bytes one element takes, or 0 for an unknown type.
func (d DType) Size() int {
	switch d {
	case DTypeF64, DTypeI64, DTypeU64:
		return 8
	case DTypeF32, DTypeI32, DTypeU32:
		return 4
	case DTypeF16, DTypeBF16, DTypeI16, DTypeU16:
		return 2
	case DTypeI8, DTypeU8, DTypeBool:
		return 1
	}
	return 0
}

// Valid reports whether d is one of the types this package knows.
func (d DType) Valid() bool { return d.Size() != 0 }

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	switch d {
	case DTypeF64, DTypeF32, DTypeF16, DTypeBF16:
		return true
	}
	return false
}

// rank orders types as the reference implementation's Dtype enum does
// (increasing alignment); the writer lays data out by descending rank so that
// every tensor starts aligned to its element size.
func (d DType) rank() int {
	switch d {
	case DTypeBool:
		return 0
	case DTypeU8:
		return 1
	case DTypeI8:
		return 2
	case DTypeI16:
		return 3
	case DTypeU16:
		return 4
	case DTypeF16:
		return 5
	case DTypeBF16:
		return 6
	case DTypeI32:
		return 7
	case DTypeU32:
		return 8
	case DTypeF32:
		return 9
	case DTypeF64:
		return 10
	case DTypeI64:
		return 11
	case DTypeU64:
		return 12
	}
	return -1
}

// hostLittleEndian is true when the machine stores integers little-endian, so
// that F32 data can be copied with memmove instead of decoded one by one.
var hostLittleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// F16ToFloat32 widens an IEEE 754 binary16 value (exactly).
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal half: value = man * 2^-24, exact in float32.
	f := float32(man) * (1.0 / (1 << 24))
	if sign != 0 {
		f = -f
	}
	return f
}

// f16Table returns the float32 value of every binary16 bit pattern (256 KiB,
// built on first use): a lookup is several times faster than F16ToFloat32.
var f16Table = sync.OnceValue(func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = F16ToFloat32(uint16(i))
	}
	return &t
})

// Float32ToF16 rounds f to the nearest binary16 value, ties to even; values
// beyond the half range become ±Inf, NaN stays NaN (quiet).
func Float32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man != 0 {
			return sign | 0x7e00 | uint16(man>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal half (or zero): value = m * 2^-24 with m = round(|f| * 2^24).
		if e < -10 {
			return sign // below half the smallest subnormal: rounds to zero
		}
		m := man | 0x800000 // 24-bit significand, value = m * 2^(exp-150)
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		r := m >> shift
		rem := m & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, up to Inf: still correct
	}
	return sign | uint16(r)
}

// BF16ToFloat32 widens a bfloat16 value (exactly).
func BF16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Float32ToBF16 rounds f to the nearest bfloat16 value, ties to even, as
// PyTorch's float32→bfloat16 conversion does; NaN stays NaN (quiet).
func Float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// f16ToBF16Table maps every binary16 bit pattern to the nearest bfloat16
// (ties to even; 128 KiB, built on first use). Widening binary16 to
// float32 is exact, so this is the correctly rounded conversion.
var f16ToBF16Table = sync.OnceValue(func() *[1 << 16]uint16 {
	var t [1 << 16]uint16
	for i := range t {
		t[i] = Float32ToBF16(F16ToFloat32(uint16(i)))
	}
	return &t
})

// F16ToBF16 rounds a binary16 value to the nearest bfloat16 (ties to even).
func F16ToBF16(h uint16) uint16 { return f16ToBF16Table()[h] }

// DecodeBF16 converts little-endian data of type d to bfloat16 values in
// dst (len(raw)/d.Size() of them), as rounding DecodeFloat32's values to
// the nearest bfloat16 (ties to even) would, without a float32 copy: BF16
// is copied, F16 and F32 are rounded once (exactly so), F64 and integer
// types go through float32 as DecodeFloat32 does. It returns an error if d
// is unknown or the lengths do not match.
func DecodeBF16(d DType, raw []byte, dst []uint16) error {
	size := d.Size()
	if size == 0 {
		return errorf("unknown dtype %q", string(d))
	}
	if len(raw)%size != 0 || len(raw)/size != len(dst) {
		return errorf("%d bytes of %s for %d values", len(raw), d, len(dst))
	}
	le := binary.LittleEndian
	switch d {
	case DTypeBF16:
		if hostLittleEndian && len(dst) > 0 {
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 2*len(dst)), raw)
			return nil
		}
		for i := range dst {
			dst[i] = le.Uint16(raw[2*i:])
		}
	case DTypeF16:
		tab := f16ToBF16Table()
		for i := range dst {
			dst[i] = tab[le.Uint16(raw[2*i:])]
		}
	case DTypeF32:
		for i := range dst {
			dst[i] = Float32ToBF16(math.Float32frombits(le.Uint32(raw[4*i:])))
		}
	default:
		// Rare types: through float32, a block at a time.
		var buf [1024]float32
		for lo := 0; lo < len(dst); lo += len(buf) {
			n := min(len(buf), len(dst)-lo)
			decodeFloat32(d, raw[lo*size:(lo+n)*size], buf[:n])
			for i, v := range buf[:n] {
				dst[lo+i] = Float32ToBF16(v)
			}
		}
	}
	return nil
}

// decodeFloat32 converts n little-endian elements of type d in raw to float32.
// raw must hold exactly n*d.Size() bytes; d must be valid.
func decodeFloat32(d DType, raw []byte, out []float32) {
	le := binary.LittleEndian
	switch d {
	case DTypeF32:
		if hostLittleEndian && len(out) > 0 {
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), 4*len(out)), raw)
			return
		}
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
	case DTypeF16:
		tab := f16Table()
		for i := range out {
			out[i] = tab[le.Uint16(raw[2*i:])]
		}
	case DTypeBF16:
		for i := range out {
			out[i] = BF16ToFloat32(le.Uint16(raw[2*i:]))
		}
	case DTypeF64:
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(raw[8*i:])))
		}
	case DTypeI64:
		for i := range out {
			out[i] = float32(int64(le.Uint64(raw[8*i:])))
		}
	case DTypeU64:
		for i := range out {
			out[i] = float32(le.Uint64(raw[8*i:]))
		}
	case DTypeI32:
		for i := range out {
			out[i] = float32(int32(le.Uint32(raw[4*i:])))
		}
	case DTypeU32:
		for i := range out {
			out[i] = float32(le.Uint32(raw[4*i:]))
		}
	case DTypeI16:
		for i := range out {
			out[i] = float32(int16(le.Uint16(raw[2*i:])))
		}
	case DTypeU16:
		for i := range out {
			out[i] = float32(le.Uint16(raw[2*i:]))
		}
	case DTypeI8:
		for i := range out {
			out[i] = float32(int8(raw[i]))
		}
	case DTypeU8:
		for i := range out {
			out[i] = float32(raw[i])
		}
	case DTypeBool:
		for i := range out {
			if raw[i] != 0 {
				out[i] = 1
			} else {
				out[i] = 0
			}
		}
	}
}

// DecodeFloat32 converts little-endian data of type d to a new []float32.
// It returns an error if d is unknown or len(raw) is not a multiple of its size.
func DecodeFloat32(d DType, raw []byte) ([]float32, error) {
	size := d.Size()
	if size == 0 {
		return nil, errorf("unknown dtype %q", string(d))
	}
	if len(raw)%size != 0 {
		return nil, errorf("%d bytes is not a whole number of %s elements", len(raw), d)
	}
	out := make([]float32, len(raw)/size)
	decodeFloat32(d, raw, out)
	return out, nil
}

// DecodeInt64 converts little-endian integer or bool data of type d to a new
// []int64. Float types and U64 values above math.MaxInt64 are errors.
func DecodeInt64(d DType, raw []byte) ([]int64, error) {
	size := d.Size()
	if size == 0 {
		return nil, errorf("unknown dtype %q", string(d))
	}
	if d.IsFloat() {
		return nil, errorf("dtype %s is not an integer type", d)
	}
	if len(raw)%size != 0 {
		return nil, errorf("%d bytes is not a whole number of %s elements", len(raw), d)
	}
	le := binary.LittleEndian
	out := make([]int64, len(raw)/size)
	for i := range out {
		switch d {
		case DTypeI64:
			out[i] = int64(le.Uint64(raw[8*i:]))
		case DTypeU64:
			v := le.Uint64(raw[8*i:])
			if v > math.MaxInt64 {
				return nil, errorf("element %d: U64 value %d overflows int64", i, v)
			}
			out[i] = int64(v)
		case DTypeI32:
			out[i] = int64(int32(le.Uint32(raw[4*i:])))
		case DTypeU32:
			out[i] = int64(le.Uint32(raw[4*i:]))
		case DTypeI16:
			out[i] = int64(int16(le.Uint16(raw[2*i:])))
		case DTypeU16:
			out[i] = int64(le.Uint16(raw[2*i:]))
		case DTypeI8:
			out[i] = int64(int8(raw[i]))
		case DTypeU8:
			out[i] = int64(raw[i])
		case DTypeBool:
			if raw[i] != 0 {
				out[i] = 1
			}
		}
	}
	return out, nil
}

// DecodeUint16 returns the raw 16-bit halves of little-endian 2-byte data.
func DecodeUint16(raw []byte) []uint16 {
	out := make([]uint16, len(raw)/2)
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(raw[2*i:])
	}
	return out
}
