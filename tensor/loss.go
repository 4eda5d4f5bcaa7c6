package tensor

import "fmt"

// CrossEntropy returns the mean over rows of −log softmax(logits)[target]
// for logits (N, V) and N targets, skipping rows whose target equals
// ignoreIndex (like torch's ignore_index with mean reduction). With every
// row ignored the loss is NaN, as in PyTorch.
func CrossEntropy(logits *Tensor, targets []int, ignoreIndex int) *Tensor {
	if len(logits.shape) != 2 || logits.shape[0] != len(targets) {
		panic(fmt.Sprintf("tensor: CrossEntropy: logits %v for %d targets (want (N, V))", logits.shape, len(targets)))
	}
	tg := NewIDs(targets, len(targets))
	out := CrossEntropyIDs(logits, tg, ignoreIndex)
	tg.Drop()
	return out
}

// CrossEntropyIDs is CrossEntropy with targets in the backend's memory
// (any shape, one per row of logits): the kernels read them there.
func CrossEntropyIDs(logits *Tensor, targets *IDs, ignoreIndex int) *Tensor {
	targets.t.live("CrossEntropy")
	if len(logits.shape) != 2 || logits.shape[0] != targets.Len() {
		panic(fmt.Sprintf("tensor: CrossEntropy: logits %v for %d targets (want (N, V))", logits.shape, targets.Len()))
	}
	n, v := logits.shape[0], logits.shape[1]
	ignore := int32(ignoreIndex)
	if int(ignore) != ignoreIndex {
		ignore = -1 // matches no target: every one is in [0, v)
	}
	var count int
	for i, t := range targets.host {
		if int(t) == ignoreIndex {
			continue
		}
		if t < 0 || int(t) >= v {
			panic(fmt.Sprintf("tensor: CrossEntropy: target %d at row %d out of range for logits %v", t, i, logits.shape))
		}
		count++
	}
	tg := targets.dev()
	out := newOut([]int{}, logits, targets.t)
	lse := pool.get(n)
	cm, dev := backend.(CrossEntropyMeaner)
	if dev {
		cm.CrossEntropyMean(out.data, lse, logits.data, tg, n, v, ignore, count)
	} else {
		sum, _ := backend.CrossEntropy(lse, logits.data, tg, n, v, ignore)
		out.data[0] = float32(sum / float64(count))
	}
	if !out.requiresGrad {
		pool.put(lse)
		return out
	}
	out.keep(lse)
	out.back = func() {
		if count == 0 {
			return
		}
		if dev { // the incoming gradient stays on the device
			if dl, fresh := logits.gradDst(); fresh {
				cm.CrossEntropyBackwardMean(dl, logits.data, lse, tg, n, v, ignore, out.grad, count, true)
			} else {
				cm.CrossEntropyBackwardMean(logits.gradBuf(), logits.data, lse, tg, n, v, ignore, out.grad, count, false)
			}
			return
		}
		g := out.grad[0] / float32(count)
		if cs, ok := backend.(CrossEntropyBackwardStorer); ok {
			if dl, fresh := logits.gradDst(); fresh {
				cs.CrossEntropyBackwardStore(dl, logits.data, lse, tg, n, v, ignore, g)
				return
			}
		}
		backend.CrossEntropyBackward(logits.gradBuf(), logits.data, lse, tg, n, v, ignore, g)
	}
	return out
}

// CrossEntropyBackwardStorer is an optional extension of Backend:
// CrossEntropyBackward that stores g·(softmax − onehot) instead of adding
// it (and zeros in ignored rows), for a fresh gradient buffer: the
// vocabulary-wide logits gradient then needs no zeroing pass.
type CrossEntropyBackwardStorer interface {
	CrossEntropyBackwardStore(dlogits, logits, lse []float32, targets []int32, rows, n int, ignore int32, g float32)
}
