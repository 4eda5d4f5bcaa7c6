package tensor

import "fmt"

// Embedding gathers rows of table (V, C) for ids and returns (len(ids), C);
// reshape the result for batched ids. Backward scatter-adds into table.
func Embedding(table *Tensor, ids []int) *Tensor {
	if len(table.shape) != 2 {
		panic(fmt.Sprintf("tensor: Embedding: table must be 2-D, got %v", table.shape))
	}
	v, c := table.shape[0], table.shape[1]
	idx := make([]int32, len(ids))
	for i, id := range ids {
		if id < 0 || id >= v {
			panic(fmt.Sprintf("tensor: Embedding: id %d at position %d out of range for table %v", id, i, table.shape))
		}
		idx[i] = int32(id)
	}
	out := newOut([]int{len(ids), c}, table)
	backend.Gather(out.data, table.data, idx, c)
	if out.requiresGrad {
		out.back = func() { backend.ScatterAdd(table.gradBuf(), out.grad, idx, c) }
	}
	return out
}
