package tensor

import "fmt"

// Embedding gathers rows of table (V, C) for ids and returns (len(ids), C);
// reshape the result for batched ids. Backward scatter-adds into table. A
// bfloat16 table (see ToBF16) gives its rows widened, with no gradient.
func Embedding(table *Tensor, ids []int) *Tensor {
	if len(table.shape) != 2 {
		panic(fmt.Sprintf("tensor: Embedding: table must be 2-D, got %v", table.shape))
	}
	for i, id := range ids {
		if id < 0 || id >= table.shape[0] {
			panic(fmt.Sprintf("tensor: Embedding: id %d at position %d out of range for table %v", id, i, table.shape))
		}
	}
	x := NewIDs(ids, len(ids))
	out := EmbeddingIDs(table, x)
	x.Drop()
	return out
}

// AddRows adds row i of src (N, C) into row ids[i] of dst (R, C), in
// place, in the order of the rows (as Embedding's backward does): a
// scatter-add for accumulating per-group sums. dst must not take part in
// a recorded graph; nothing is recorded.
func AddRows(dst *Tensor, ids []int, src *Tensor) {
	dst.live("AddRows")
	src.live("AddRows")
	if len(dst.shape) != 2 || len(src.shape) != 2 || src.shape[0] != len(ids) || src.shape[1] != dst.shape[1] || dst.reduced() || src.reduced() {
		panic(fmt.Sprintf("tensor: AddRows: %d rows of %s into %s", len(ids), src.describe(), dst.describe()))
	}
	if dst.requiresGrad || dst.captured || dst.back != nil {
		panic(fmt.Sprintf("tensor: AddRows: %s takes part in a recorded graph", dst.describe()))
	}
	idx := make([]int32, len(ids))
	for i, id := range ids {
		if id < 0 || id >= dst.shape[0] {
			panic(fmt.Sprintf("tensor: AddRows: row %d of %s", id, dst.describe()))
		}
		idx[i] = int32(id)
	}
	if c := dst.shape[1]; c > 0 && len(idx) > 0 {
		backend.ScatterAdd(dst.data, src.data, idx, c)
	}
}
