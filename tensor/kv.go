package tensor

import (
	"fmt"
	"math"
)

// KV holds the keys and values an attention layer reads while decoding,
// for each row (a caption, a beam) and head: either a cache that grows by
// one position per step (NewKVCache, Append: a causal self-attention
// layer) or the fixed keys and values of a cross-attention layer,
// computed once from the image tokens (NewCrossKV) and stored transposed,
// so that a step reads them as a few long rows. Its buffer comes from the
// pool and goes back with Release. A KV belongs to one decoding (one
// goroutine at a time).
type KV struct {
	buf         []float32 // keys then values, each (rows, heads, cap, d), or (rows, heads, d, cap) transposed
	rows, heads int
	d, cap, n   int
	transposed  bool
	released    bool
	rowLen      int // values per row of the keys (and of the values)
}

func newKV(rows, heads, d, capacity int, transposed bool) *KV {
	if rows < 0 || heads <= 0 || d < 0 || capacity < 0 {
		panic(fmt.Sprintf("tensor: KV: %d rows, %d heads of width %d, %d positions", rows, heads, d, capacity))
	}
	rowLen := heads * capacity * d
	return &KV{buf: pool.get(2 * rows * rowLen), rows: rows, heads: heads, d: d, cap: capacity,
		transposed: transposed, rowLen: rowLen}
}

// values returns the offset of the values in buf.
func (c *KV) values() int { return c.rows * c.rowLen }

// NewKVCache returns an empty cache for rows rows of heads heads of width
// d, holding up to capacity positions.
func NewKVCache(rows, heads, d, capacity int) *KV { return newKV(rows, heads, d, capacity, false) }

// Len returns the number of positions (keys) held per row.
func (c *KV) Len() int { return c.n }

// Rows returns the number of rows.
func (c *KV) Rows() int { return c.rows }

func (c *KV) live(op string) {
	if c.released {
		panic("tensor: " + op + ": KV used after Release")
	}
}

// Append adds one position to every row of the cache: the keys of row r
// are columns kCol..kCol+W of src (rows, 1, C), the values columns
// vCol..vCol+W (W = heads·d, head h taking d consecutive columns).
func (c *KV) Append(src *Tensor, kCol, vCol int) {
	c.live("KV.Append")
	src.live("KV.Append")
	w := c.heads * c.d
	if c.transposed || len(src.shape) != 3 || src.shape[0] != c.rows || src.shape[1] != 1 || kCol < 0 || vCol < 0 ||
		kCol+w > src.shape[2] || vCol+w > src.shape[2] || src.reduced() {
		panic(fmt.Sprintf("tensor: KV.Append: %s (key column %d, value column %d) to a cache of %d rows × %d heads × %d", src.describe(), kCol, vCol, c.rows, c.heads, c.d))
	}
	if c.n >= c.cap {
		panic(fmt.Sprintf("tensor: KV.Append: the cache holds %d positions already", c.cap))
	}
	if c.rows > 0 && w > 0 {
		cs := src.shape[2]
		shape := []int{c.rows, c.heads, c.d}
		dst := []int{c.rowLen, c.cap * c.d, 1}
		from := []int{cs, c.d, 1}
		at := c.n * c.d
		backend.Strided(shape, c.buf[at:], dst, src.data[kCol:], from, false)
		backend.Strided(shape, c.buf[c.values()+at:], dst, src.data[vCol:], from, false)
	}
	c.n++
}

// NewCrossKV computes the keys (x·wkᵀ + bk) and values (x·wvᵀ + bv) of x
// (B, T, Wkv) for heads heads, with wk and wv (W, Wkv) float32 or
// bfloat16 and bk, bv (W), and keeps them transposed per row and head
// (each head's d channels × T positions), for attention from one query per
// row at a time (AttendKV). Inference only: nothing is recorded.
func NewCrossKV(x, wk, bk, wv, bv *Tensor, heads int) *KV {
	x.live("NewCrossKV")
	if len(x.shape) != 3 || x.reduced() || !sameShape(wk.shape, wv.shape) || len(wk.shape) != 2 || wk.shape[1] != x.shape[2] ||
		len(bk.shape) != 1 || bk.shape[0] != wk.shape[0] || !sameShape(bk.shape, bv.shape) || heads <= 0 || wk.shape[0]%heads != 0 {
		panic(fmt.Sprintf("tensor: NewCrossKV: x %v, weights %v and %v, biases %v and %v, %d heads", x.shape, wk.shape, wv.shape, bk.shape, bv.shape, heads))
	}
	b, t, dkv := x.shape[0], x.shape[1], x.shape[2]
	w := wk.shape[0]
	c := newKV(b, heads, w/heads, t, true)
	c.n = t
	if b == 0 || w == 0 || t == 0 {
		return c
	}
	for i, p := range []struct{ w, b *Tensor }{{wk, bk}, {wv, bv}} {
		out := c.buf[i*c.values():]
		// Channel o of row r (the keys or values of head o/d, channel
		// o%d) is the row of T values at r·rowLen + o·T: the bias first,
		// then the product W·x_rᵀ added to it.
		backend.Strided([]int{b, w, t}, out, []int{c.rowLen, t, 1}, p.b.Data(), []int{0, 1, 0}, false)
		wd, scratch := p.w.data, []float32(nil)
		if p.w.half != nil {
			scratch = pool.get(w * dkv)
			widenBF16(scratch, p.w.half)
			wd = scratch
		} else if p.w.q8 != nil {
			if p.w.halfT {
				panic(fmt.Sprintf("tensor: NewCrossKV: weight %s is stored transposed", p.w.describe()))
			}
			scratch = pool.get(w * dkv)
			dequantInt8(scratch, p.w.q8, p.w.q8Scale, dkv)
			wd = scratch
		}
		if dkv > 0 {
			backend.Gemm(false, true, w, t, dkv, 1, wd, dkv, 0, x.data, dkv, t*dkv, 1, out, t, c.rowLen, b)
		}
		if scratch != nil {
			pool.put(scratch)
		}
	}
	return c
}

// Reorder makes row i a copy of former row src[i] (len(src) rows after),
// for beam search and for rows that finish early.
func (c *KV) Reorder(src []int) {
	c.live("KV.Reorder")
	ids := make([]int32, len(src))
	for i, s := range src {
		if s < 0 || s >= c.rows {
			panic(fmt.Sprintf("tensor: KV.Reorder: row %d of %d", s, c.rows))
		}
		ids[i] = int32(s)
	}
	buf := pool.get(2 * len(src) * c.rowLen)
	if c.rowLen > 0 && len(src) > 0 {
		backend.Gather(buf, c.buf, ids, c.rowLen)
		backend.Gather(buf[len(src)*c.rowLen:], c.buf[c.values():], ids, c.rowLen)
	}
	pool.put(c.buf)
	c.buf, c.rows = buf, len(src)
}

// Release hands the buffer back to the pool; the KV must not be used
// afterwards. Release of a released (or nil) KV does nothing.
func (c *KV) Release() {
	if c == nil || c.released {
		return
	}
	pool.put(c.buf)
	c.buf, c.released = nil, true
}

// AttendKV returns the attention of one query per row to the keys and
// values of kv: q is (rows, 1, C) with the W = heads·d query features at
// columns qCol..qCol+W (head h taking d consecutive columns); the result
// is (rows, 1, W), heads merged: softmax(q·kᵀ/√d)·v over kv's positions.
// Inference only: q must not be part of a recorded graph.
func AttendKV(q *Tensor, qCol int, kv *KV) *Tensor {
	kv.live("AttendKV")
	w := kv.heads * kv.d
	if len(q.shape) != 3 || q.shape[0] != kv.rows || q.shape[1] != 1 || qCol < 0 || qCol+w > q.shape[2] {
		panic(fmt.Sprintf("tensor: AttendKV: q %v (column %d) for %d rows of %d heads × %d", q.shape, qCol, kv.rows, kv.heads, kv.d))
	}
	if q.requiresGrad && ScopeOf(q) == nil {
		panic("tensor: AttendKV: q requires gradients: decoding attention serves inference only (run it in a no-grad scope)")
	}
	out := newOut([]int{kv.rows, 1, w}, q)
	a := &KVArgs{Rows: kv.rows, Heads: kv.heads, N: kv.n, D: kv.d, Scale: float32(1 / math.Sqrt(float64(kv.d))),
		Q: q.data[qCol:], QRow: q.shape[2], Out: out.data, OutRow: w, KV: kv.buf,
		Row: kv.rowLen, Head: kv.cap * kv.d, Key: kv.d, Elem: 1, Values: kv.values()}
	if kv.transposed {
		a.Head, a.Key, a.Elem = kv.d*kv.cap, 1, kv.cap
	}
	if kv.rows == 0 || w == 0 {
		return out
	}
	if k, ok := backend.(KVAttention); ok {
		k.AttendKV(a)
	} else {
		attendKVFallback(a)
	}
	return out
}

// KVArgs are the operands of one AttendKV call: for r < Rows and h <
// Heads, the query at Q[r·QRow + h·D:][:D] attends to N keys of width D,
// element c of key j at KV[r·Row + h·Head + j·Key + c·Elem] (Elem 1: a key
// per row; Key 1: stored transposed), the values at the same positions
// plus Values; the result goes to Out[r·OutRow + h·D:][:D].
type KVArgs struct {
	Rows, Heads, N, D int
	Scale             float32
	Q                 []float32
	QRow              int
	Out               []float32
	OutRow            int
	KV                []float32
	Row, Head         int
	Key, Elem, Values int
}

// KVAttention is an optional extension of Backend: the attention of a
// decoding step (see AttendKV). Without it AttendKV runs Gemm and Softmax
// per row.
type KVAttention interface {
	AttendKV(a *KVArgs)
}

// attendKVFallback computes AttendKV with the backend's Gemm and Softmax:
// the scores of every (row, head), their softmax, then the outputs, three
// calls for the whole step when the rows and heads are evenly spaced (the
// layout of a KV), else three per row.
func attendKVFallback(a *KVArgs) {
	bh := a.Rows * a.Heads
	if a.N == 0 {
		for r := 0; r < a.Rows; r++ {
			zero(a.Out[r*a.OutRow : r*a.OutRow+a.Heads*a.D])
		}
		return
	}
	w := a.Heads * a.D
	scores := pool.get(bh * a.N)
	defer pool.put(scores)
	if a.Row != a.Heads*a.Head {
		for r := 0; r < a.Rows; r++ {
			one := *a
			one.Rows, one.Q, one.Out, one.KV = 1, a.Q[r*a.QRow:], a.Out[r*a.OutRow:], a.KV[r*a.Row:]
			one.Row = a.Heads * a.Head
			attendKVHeads(&one, one.Q, one.Out, scores)
		}
		return
	}
	// Queries and outputs as contiguous (rows·heads, D) rows.
	q, out := a.Q, a.Out
	if a.QRow != w {
		q = pool.get(bh * a.D)
		defer pool.put(q)
		backend.Strided([]int{a.Rows, w}, q, []int{w, 1}, a.Q, []int{a.QRow, 1}, false)
	}
	if a.OutRow != w {
		out = pool.get(bh * a.D)
		defer pool.put(out)
	}
	attendKVHeads(a, q, out, scores)
	if a.OutRow != w {
		backend.Strided([]int{a.Rows, w}, a.Out, []int{a.OutRow, 1}, out, []int{w, 1}, false)
	}
}

// attendKVHeads runs the Rows·Heads (row, head) pairs of a as one batch:
// q and out are contiguous (Rows·Heads, D), the keys of pair i at
// i·Head of a.KV.
func attendKVHeads(a *KVArgs, q, out, scores []float32) {
	bh := a.Rows * a.Heads
	kv := a.KV
	if a.Elem == 1 { // keys (N, D), row stride Key: scores = q·Kᵀ
		backend.Gemm(false, true, 1, a.N, a.D, a.Scale, q, a.D, a.D, kv, a.Key, a.Head, 0, scores, a.N, a.N, bh)
	} else { // keys (D, N), row stride Elem: scores = q·K
		backend.Gemm(false, false, 1, a.N, a.D, a.Scale, q, a.D, a.D, kv, a.Elem, a.Head, 0, scores, a.N, a.N, bh)
	}
	backend.Softmax(scores, scores, bh, a.N, false)
	v := kv[a.Values:]
	if a.Elem == 1 { // out = p·V, V (N, D)
		backend.Gemm(false, false, 1, a.D, a.N, 1, scores, a.N, a.N, v, a.Key, a.Head, 0, out, a.D, a.D, bh)
	} else { // V (D, N): out = p·Vᵀ
		backend.Gemm(false, true, 1, a.D, a.N, 1, scores, a.N, a.N, v, a.Elem, a.Head, 0, out, a.D, a.D, bh)
	}
}
