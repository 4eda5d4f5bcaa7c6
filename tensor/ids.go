package tensor

import (
	"fmt"
	"math"
	"unsafe"
)

// IDs holds integer ids (token ids, class targets) as int32 values in the
// memory the backend computes on, for the ops that read ids: a device
// backend gets them with one host-to-device copy (NewIDs) and every kernel
// reading them (EmbeddingIDs, CausalMaskIDs, CrossEntropyIDs and their
// backward passes) uses that copy, and the ids derived from them
// (Columns, RangeIDs) are written there by kernels. The values stay known
// on the host too, for the checks and counts the ops make there.
//
// Lifetimes follow the tensors': an op that records its graph holds the
// ids it read until that graph is released (Release, BackwardRelease);
// Drop hands them back once nothing records them. IDs are no float
// tensor: only the ops above take them.
type IDs struct {
	t    *Tensor // the pooled buffer holding the int32 values (as float32 bits)
	host []int32 // the same values on the host
}

// IDBackend is implemented by a backend whose memory the host must not
// touch: IDs are copied there and derived there.
type IDBackend interface {
	// CopyIDsFromHost copies the host ids src into dst, a buffer of the
	// backend's memory, in stream order; src may be reused once it
	// returns.
	CopyIDsFromHost(dst, src []int32)
	// IDColumns sets dst (rows, w) to the columns [off, off+w) of src's
	// rows of ld ids.
	IDColumns(dst, src []int32, rows, w, ld, off int)
	// IDRange sets dst[i] = first + i.
	IDRange(dst []int32, first int)
	// CausalMaskIDs sets dst (b, n, n) to the additive causal mask (0 on
	// and below the diagonal, −∞ above), except row `row` of each block,
	// where key j is −∞ when id j − shift of that block's row of ids
	// (b, l) is pad (keys outside the ids are never hidden).
	CausalMaskIDs(dst []float32, ids []int32, b, n, row, l int, pad int32, shift int)
}

// NewIDs returns ids, of the given shape, in the backend's memory (one
// copy to a device).
func NewIDs(ids []int, shape ...int) *IDs {
	n := checkShape("NewIDs", shape)
	if len(ids) != n {
		panic(fmt.Sprintf("tensor: NewIDs: %d ids for shape %v (want %d)", len(ids), shape, n))
	}
	host := make([]int32, n)
	for i, v := range ids {
		if v < math.MinInt32 || v > math.MaxInt32 {
			panic(fmt.Sprintf("tensor: NewIDs: id %d at position %d does not fit in int32", v, i))
		}
		host[i] = int32(v)
	}
	x := newIDs(host, shape)
	if ib, ok := idBackend(x.t.data); ok {
		ib.CopyIDsFromHost(x.dev(), host)
	} else {
		copy(x.dev(), host)
	}
	return x
}

// RangeIDs returns the n ids first, first+1, ..., written on the device
// under a device backend (nothing is copied).
func RangeIDs(first, n int) *IDs {
	if n < 0 || first < math.MinInt32 || first+n-1 > math.MaxInt32 {
		panic(fmt.Sprintf("tensor: RangeIDs: %d ids from %d", n, first))
	}
	host := make([]int32, n)
	for i := range host {
		host[i] = int32(first + i)
	}
	x := newIDs(host, []int{n})
	if ib, ok := idBackend(x.t.data); ok {
		ib.IDRange(x.dev(), first)
	} else {
		copy(x.dev(), host)
	}
	return x
}

func newIDs(host []int32, shape []int) *IDs {
	return &IDs{t: &Tensor{shape: cloneInts(shape), data: pool.get(len(host)), pooled: true}, host: host}
}

// idBackend returns the backend's IDBackend when b lies in its memory.
func idBackend(b []float32) (IDBackend, bool) {
	ib, ok := backend.(IDBackend)
	if !ok || devAlloc == nil || len(b) == 0 || !devAlloc.Owns(b) {
		return nil, false
	}
	return ib, true
}

// dev returns the ids in the backend's memory.
func (x *IDs) dev() []int32 {
	x.t.live("IDs")
	d := x.t.data
	if len(d) == 0 {
		return nil
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(d))), len(d))
}

// Shape returns the shape of the ids.
func (x *IDs) Shape() []int { return cloneInts(x.t.shape) }

// Host returns the ids as the host knows them (the caller must not
// change them).
func (x *IDs) Host() []int32 { return x.host }

// Len returns the number of ids.
func (x *IDs) Len() int { return len(x.host) }

// Live reports whether x may still be used (it was not handed back).
func (x *IDs) Live() bool { return x != nil && !x.t.released }

// Drop hands x's buffer back unless a recorded graph holds it (that
// graph's Release does then).
func (x *IDs) Drop() { Drop(x.t) }

// Columns returns the columns [from, to) of 2-D ids (B, L) as new ids
// (B, to−from), copied on the device under a device backend.
func (x *IDs) Columns(from, to int) *IDs {
	x.t.live("IDs.Columns")
	if len(x.t.shape) != 2 || from < 0 || to < from || to > x.t.shape[1] {
		panic(fmt.Sprintf("tensor: IDs.Columns: columns [%d, %d) of ids %v", from, to, x.t.shape))
	}
	rows, l, w := x.t.shape[0], x.t.shape[1], to-from
	host := make([]int32, rows*w)
	for r := range rows {
		copy(host[r*w:(r+1)*w], x.host[r*l+from:r*l+to])
	}
	y := newIDs(host, []int{rows, w})
	if ib, ok := idBackend(y.t.data); ok {
		ib.IDColumns(y.dev(), x.dev(), rows, w, l, from)
	} else {
		copy(y.dev(), host)
	}
	return y
}

// EmbeddingIDs is Embedding for ids in the backend's memory: the forward
// gather and the backward scatter-add read them there.
func EmbeddingIDs(table *Tensor, ids *IDs) *Tensor {
	if len(table.shape) != 2 {
		panic(fmt.Sprintf("tensor: Embedding: table must be 2-D, got %v", table.shape))
	}
	ids.t.live("Embedding")
	v, c := table.shape[0], table.shape[1]
	for i, id := range ids.host {
		if id < 0 || int(id) >= v {
			panic(fmt.Sprintf("tensor: Embedding: id %d at position %d out of range for table %v", id, i, table.shape))
		}
	}
	n := len(ids.host)
	if table.reduced() {
		// bfloat16 or int8 rows, widened (inference only: no gradient).
		if table.halfT {
			panic(fmt.Sprintf("tensor: Embedding: table %s is stored transposed", table.describe()))
		}
		out := newOutMixed([]int{n, c}, n*c, []*Tensor{table})
		for i, id := range ids.host {
			if table.q8 != nil {
				dequantInt8(out.data[i*c:(i+1)*c], table.q8[int(id)*c:int(id+1)*c], table.q8Scale[id:id+1], c)
			} else {
				widenBF16(out.data[i*c:(i+1)*c], table.half[int(id)*c:int(id+1)*c])
			}
		}
		return out
	}
	out := newOut([]int{n, c}, table, ids.t)
	idx := ids.dev()
	backend.Gather(out.data, table.data, idx, c)
	if out.requiresGrad {
		out.back = func() { backend.ScatterAdd(table.gradBuf(), out.grad, idx, c) }
	}
	return out
}

// CausalMaskIDs returns the additive (B, n, n) attention mask that is
// causal in every row but row `row` of each block, where it hides the keys
// j whose id j − shift in that block's row of ids (B, L) is pad (keys
// outside the ids are never hidden): a text tower's mask with its CLS
// query, built from the ids where they are (a kernel on a device). Its
// buffer comes from the pool, like CausalMask's.
func CausalMaskIDs(ids *IDs, n, row int, pad int32, shift int) *Tensor {
	ids.t.live("CausalMaskIDs")
	if len(ids.t.shape) != 2 || n < 0 || row < 0 || row >= max(n, 1) {
		panic(fmt.Sprintf("tensor: CausalMaskIDs: ids %v, size %d, row %d", ids.t.shape, n, row))
	}
	b, l := ids.t.shape[0], ids.t.shape[1]
	if ib, ok := idBackend(ids.t.data); ok && n > 0 {
		m := &Tensor{shape: []int{b, n, n}, data: pool.get(b * n * n), pooled: true}
		ib.CausalMaskIDs(m.data, ids.dev(), b, n, row, l, pad, shift)
		return m
	}
	rowMask := make([]float32, b*n)
	inf := float32(math.Inf(-1))
	for bi := range b {
		for j := range n {
			if k := j - shift; k >= 0 && k < l && ids.host[bi*l+k] == pad {
				rowMask[bi*n+j] = inf
			}
		}
	}
	return CausalMask(rowMask, b, n, row)
}
