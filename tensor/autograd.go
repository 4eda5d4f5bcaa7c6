package tensor

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gococa/gococa/asm"
)

// pool keeps released buffers by exact length: a training step asks for the
// same sizes every time, so exact buckets hit. The free buffers are kept
// per CPU (asm.CPUNum): a goroutine gets back the buffer last released on
// its own CPU, whose lines are in that CPU's cache, before one that
// another core wrote (in-process data-parallel ranks run one per core and
// would otherwise trade their activations' memory at every op).
type bufPool struct {
	shards [poolShards]poolShard

	// inUse counts the values handed out by get and not yet put back;
	// peak is its maximum since the last ResetPoolPeak; puts counts the
	// buffers handed back (get's check for a pass that missed one).
	inUse, peak, puts atomic.Int64
}

// poolShards is the number of per-CPU free lists (CPUs share them modulo
// it).
const poolShards = 16

type poolShard struct {
	mu   sync.Mutex
	free map[int][][]float32
	_    [48]byte // a cache line per shard (8 + 8 + 48 bytes)
}

// poolCPU is asm.CPUNum, or a stand-in in tests.
var poolCPU = asm.CPUNum

func newPool() *bufPool {
	p := &bufPool{}
	for i := range p.shards {
		p.shards[i].free = map[int][][]float32{}
	}
	return p
}

// track adds d values to the pool's in-use count and raises the peak.
func (p *bufPool) track(d int) {
	n := p.inUse.Add(int64(d))
	for {
		pk := p.peak.Load()
		if n <= pk || p.peak.CompareAndSwap(pk, n) {
			return
		}
	}
}

// PoolPeakBytes reports the most bytes of pooled buffers (activations,
// intermediate gradients, op scratch) in use at once since the last
// ResetPoolPeak: the memory a training step needs beyond its parameters
// and their gradients.
func PoolPeakBytes() int64 { return 4 * pool.peak.Load() }

// PoolInUse reports the bytes of pooled buffers handed out and not yet
// handed back (by Release, BackwardRelease or Drop): a loop that frees
// what it makes returns to the same figure after every iteration.
func PoolInUse() int64 { return 4 * pool.inUse.Load() }

// ResetPoolPeak starts a new PoolPeakBytes measurement from the bytes in
// use now.
func ResetPoolPeak() { pool.peak.Store(pool.inUse.Load()) }

var pool = newPool()

// get returns a buffer of length n with unspecified contents: a free
// buffer of that length (this CPU's most recent, else another CPU's),
// else the smallest free buffer that is longer (cut to n; put hands all
// of it back), else a new one. Taking a longer buffer keeps the memory of
// work whose sizes vary (decoding drops finished rows; services see every
// batch size) bounded by what the largest sizes needed, instead of a
// buffer of every size ever asked for.
func (p *bufPool) get(n int) []float32 { return p.getFit(n, false) }

// getExact is get without the longer buffers: a free buffer of length n,
// else a new one. It is for buffers that outlive the activations around
// them (a Linear's packed input, kept for the backward pass): taking the
// longer buffer that an activation just handed back would leave the next
// activation of that size to a new one.
func (p *bufPool) getExact(n int) []float32 { return p.getFit(n, true) }

func (p *bufPool) getFit(n int, exact bool) []float32 {
	if n == 0 {
		return []float32{}
	}
	home := poolCPU() % poolShards
	for {
		// A miss allocates only after a pass over the shards that no put
		// overlapped: a buffer handed back to a shard the pass had already
		// looked at sends it round again, so that the buffers of a size
		// never outnumber the most that were in use at once (what one
		// list under one lock guaranteed).
		gen := p.puts.Load()
		for k := range poolShards {
			if b := p.shards[(home+k)%poolShards].take(n); b != nil {
				p.track(n)
				return b[:n]
			}
		}
		// The smallest longer free buffer of any shard (not for getExact).
		size, at := 0, -1
		for i := range p.shards {
			if exact {
				break
			}
			s := &p.shards[i]
			s.mu.Lock()
			for l, bs := range s.free {
				if l > n && len(bs) > 0 && (size == 0 || l < size) {
					size, at = l, i
				}
			}
			s.mu.Unlock()
		}
		if at >= 0 {
			if b := p.shards[at].take(size); b != nil {
				p.track(cap(b))
				return b[:n]
			}
			continue // taken meanwhile: look again
		}
		if p.puts.Load() == gen {
			break
		}
	}
	p.track(n)
	return makeBuf(n)
}

// take removes and returns the shard's most recent free buffer of length
// size, or nil.
func (s *poolShard) take(size int) []float32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.free[size]
	if len(l) == 0 {
		return nil
	}
	b := l[len(l)-1]
	l[len(l)-1] = nil
	if len(l) == 1 {
		delete(s.free, size)
	} else {
		s.free[size] = l[:len(l)-1]
	}
	return b
}

func (p *bufPool) getZero(n int) []float32 {
	b := p.get(n)
	zero(b)
	return b
}

func (p *bufPool) put(b []float32) {
	if cap(b) == 0 {
		return
	}
	p.track(-cap(b))
	if devAlloc != nil && !devAlloc.Owns(b) {
		return // a host buffer from before SetBackend: not for the device
	}
	b = b[:cap(b)]
	s := &p.shards[poolCPU()%poolShards]
	s.mu.Lock()
	s.free[len(b)] = append(s.free[len(b)], b)
	s.mu.Unlock()
	p.puts.Add(1)
}

// PoolBytes reports the bytes held in the free pool (for tests and tools).
func PoolBytes() int64 {
	var n int64
	for i := range pool.shards {
		s := &pool.shards[i]
		s.mu.Lock()
		for k, l := range s.free {
			n += int64(k) * 4 * int64(len(l))
		}
		s.mu.Unlock()
	}
	return n
}

// DropPool lets the garbage collector take every pooled buffer (under a
// device backend, hands them back to its allocator).
func DropPool() { pool.flush(devAlloc) }

// flush empties the pool and hands the buffers that old owns back to it.
func (p *bufPool) flush(old Allocator) {
	for i := range p.shards {
		s := &p.shards[i]
		s.mu.Lock()
		free := s.free
		s.free = map[int][][]float32{}
		s.mu.Unlock()
		if old == nil {
			continue
		}
		for _, l := range free {
			for _, b := range l {
				if old.Owns(b) {
					old.Free(b)
				}
			}
		}
	}
}

// newOut makes an op's output with a pooled buffer (contents unspecified:
// the op must write every element) and records the inputs when one of
// them requires a gradient and none was made in an open no-grad scope
// (see Scope). The caller sets back when out.requiresGrad.
func newOut(shape []int, inputs ...*Tensor) *Tensor {
	checkInputs(inputs)
	return newOutMixed(shape, numel(shape), inputs)
}

// newOutFree is newOut for an op whose backward does not read its
// inputs' values: it records them without capturing them (see Drop).
func newOutFree(shape []int, inputs ...*Tensor) *Tensor {
	checkInputs(inputs)
	t := newOutRecord(shape, numel(shape), inputs, false)
	if t.requiresGrad {
		for _, in := range inputs {
			markFree(in)
		}
	}
	return t
}

// markFree marks in as the input of a recorded op whose backward does not
// read its values (see Drop). Like capture it writes only pooled tensors
// (and the buffers views of them share).
func markFree(in *Tensor) {
	if in.pooled {
		in.freeInput = true
	}
	if in.base != nil && in.base.pooled {
		in.base.freeInput = true // views share their base's values
	}
}

func checkInputs(inputs []*Tensor) {
	for _, in := range inputs {
		in.live("op input")
		if in.reduced() {
			panic(fmt.Sprintf("tensor: op input: %s: only Linear, MatMul (right operand) and Embedding read %s weights", in.describe(), in.DType()))
		}
	}
}

// newOutMixed is newOut for the ops that read bfloat16 inputs themselves.
func newOutMixed(shape []int, n int, inputs []*Tensor) *Tensor {
	return newOutRecord(shape, n, inputs, true)
}

func newOutRecord(shape []int, n int, inputs []*Tensor, capt bool) *Tensor {
	t := &Tensor{shape: shape, data: pool.get(n), pooled: true, prec: precisionOf(inputs...)}
	if s := scopeOf(inputs); s != nil {
		t.scope = s
		return t
	}
	for _, in := range inputs {
		if in.requiresGrad {
			t.requiresGrad = true
			t.inputs = inputs
			if capt {
				capture(inputs)
			}
			break
		}
	}
	return t
}

// readsOwnValues marks a recorded op's output whose backward reads the
// output's values (softmax, attention, ...): Drop leaves it to the Release
// of its graph, as it does the inputs that an op captures.
func readsOwnValues(out *Tensor) {
	if out.requiresGrad {
		capture([]*Tensor{out})
	}
}

// capture marks the intermediates among inputs (and the buffers views
// among them share) as held by a recorded op: Drop leaves them to the
// Release of that graph, whose backward may read them. Only pooled
// tensors are marked, so parameters (read by every goroutine that runs
// the model) are never written.
func capture(inputs []*Tensor) {
	for _, in := range inputs {
		if !in.pooled {
			continue
		}
		in.captured = true
		if in.base != nil {
			in.base.captured = true
		}
	}
}

// held reports whether a recorded op holds t's values (or its base's) for
// its backward pass (see capture).
func (t *Tensor) held() bool { return t.captured || t.base != nil && t.base.captured }

// Drop hands the buffers of tensors that a caller is done with back to
// the pool at once, so that the next op reuses them, unless a recorded op
// holds the tensor for its backward: then the Release (or
// BackwardRelease) of that graph returns them. It is how layers free
// their intermediates in a no-grad scope, where nothing is recorded and
// nothing else would. A recorded tensor that only ops whose backward does
// not read it consumed (a sum or difference; GELU where the backend keeps
// its derivative, as the CPU's does; a Linear whose weight takes no
// gradient, or whose input the backend packed for the weight gradient, as
// the CPU's does with bfloat16 products) hands back its values at once and
// stays in the graph, where its gradient still passes: an MLP's
// pre-activation goes back to the pool as soon as GELU has read it (or,
// with GELUInPlace, becomes GELU's output). A view hands back nothing
// (its base owns the buffer), nor does a tensor made with New, FromSlice
// or NewParam. A dropped tensor (and any view of it) must not be used
// again; nil tensors are skipped.
func Drop(ts ...*Tensor) {
	for _, t := range ts {
		if t == nil || t.released || t.dropped || !t.pooled || t.captured || t.base != nil {
			continue
		}
		if t.freeInput {
			pool.put(t.data)
			t.data, t.dropped = nil, true
			continue
		}
		t.releaseOne()
	}
}

// gradBuf returns t's gradient buffer, allocating a zeroed one on first use.
func (t *Tensor) gradBuf() []float32 {
	if t.base != nil {
		return t.base.gradBuf()[t.off : t.off+numel(t.shape)]
	}
	if t.grad == nil {
		if !t.pooled {
			t.grad = makeBuf(numel(t.shape)) // leaves keep theirs
		} else {
			t.grad = pool.getZero(numel(t.shape))
		}
	}
	t.freshen()
	return t.grad
}

// gradDst returns the buffer t's gradient goes into, for an op about to
// write every element of it, and whether that buffer holds no gradient yet
// (fresh: its contents are undefined and the op must store, not add). An
// intermediate (pooled, or a view of all of one) without a gradient yet
// gets a fresh buffer, and so does a leaf whose gradient ZeroGrad marked
// stale; others get gradBuf's zeroed or accumulated one. Call it only when the op
// will write all of t's gradient.
func (t *Tensor) gradDst() (g []float32, fresh bool) {
	if t.base != nil && t.off == 0 && numel(t.shape) == numel(t.base.shape) {
		// A view of all of its base (a Reshape): the base's gradient.
		return t.base.gradDst()
	}
	if t.base == nil && t.grad == nil && t.pooled {
		t.grad = pool.get(numel(t.shape))
		return t.grad, true
	}
	if t.base == nil && t.gradStale {
		// A leaf after ZeroGrad: its buffer, uncleared.
		t.gradStale = false
		return t.grad, true
	}
	return t.gradBuf(), false
}

// takeGrad makes out's gradient buffer t's gradient, without a copy, when
// that is what t's gradient would be: t has none yet, t is an intermediate
// of out's length, and out is released as soon as its backward returns
// (BackwardRelease), so nothing reads out's gradient afterwards. It
// reports whether it did; the caller then reads the values from t.grad.
func (t *Tensor) takeGrad(out *Tensor) bool {
	if !out.lastBack || t.base != nil || t.grad != nil || !t.pooled || len(out.grad) != numel(t.shape) || t == out {
		return false
	}
	t.grad, out.grad = out.grad, nil
	return true
}

var (
	markEpoch atomic.Uint32
	topoPool  = sync.Pool{New: func() any { s := make([]*Tensor, 0, 256); return &s }}
)

// topo returns the graph under root in topological order (inputs first):
// with onlyGrad the tensors that require gradients, else every tensor that
// Release has something to do for (leaves owning their memory, such as
// parameters, are left out: they keep everything, and leaving them out
// means that releasing a graph never writes to a tensor that other
// goroutines may be reading).
func topo(root *Tensor, onlyGrad bool) *[]*Tensor {
	epoch := markEpoch.Add(1)
	order := topoPool.Get().(*[]*Tensor)
	*order = (*order)[:0]
	type frame struct {
		t *Tensor
		i int
	}
	stack := make([]frame, 0, 64)
	root.mark = epoch
	stack = append(stack, frame{root, 0})
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.i < len(f.t.inputs) {
			in := f.t.inputs[f.i]
			f.i++
			if in.mark != epoch && (onlyGrad && in.requiresGrad || !onlyGrad && !in.ownsLeaf()) {
				in.mark = epoch
				stack = append(stack, frame{in, 0})
			}
			continue
		}
		*order = append(*order, f.t)
		stack = stack[:len(stack)-1]
	}
	return order
}

// Backward computes d root / d t for every tensor t in root's graph that
// requires gradients, accumulating into their Grad. root must hold exactly
// one element. The graph stays intact: call Release when done with it.
func Backward(root *Tensor) { backward(root, nil, false) }

// BackwardNotify is Backward that also calls done(leaf) for every leaf
// tensor requiring gradients (a parameter) in root's graph as soon as its
// gradient is complete, that is once every op that reads it has run its
// backward. Leaves come in the order they complete, which depends only on
// the graph's structure. Data-parallel training uses it to start reducing a
// bucket of gradients while the walk goes on. done must not change the graph.
func BackwardNotify(root *Tensor, done func(leaf *Tensor)) { backward(root, done, false) }

// BackwardRelease is Backward followed by Release (with done as in
// BackwardNotify, or nil), using less memory: every intermediate tensor
// hands its buffers back to the pool as soon as the walk has passed it,
// that is once its own backward and those of every op that reads it have
// run. Peak memory is then about the forward's activations rather than
// activations plus every intermediate gradient. Read any values needed
// (the loss, logits) before calling it: afterwards every intermediate of
// root's graph is released.
func BackwardRelease(root *Tensor, done func(leaf *Tensor)) { backward(root, done, true) }

func backward(root *Tensor, done func(*Tensor), release bool) {
	root.live("Backward")
	if root.Numel() != 1 {
		panic(fmt.Sprintf("tensor: Backward: root of shape %v is not a scalar", root.shape))
	}
	if !root.requiresGrad {
		panic("tensor: Backward: root does not require gradients (no parameter in its graph, or built in a no-grad scope)")
	}
	var all *[]*Tensor
	if release {
		// The whole graph, tensors without gradients included, before the
		// walk unlinks it.
		all = topo(root, false)
	}
	if _, dev := hostReader(root.data); dev && root.base == nil && root.grad == nil {
		g, _ := root.gradDst()
		backend.Fill(g, 1) // the seed, written on the device
	} else {
		g := root.gradBuf()
		g[0] += 1
	}
	order := topo(root, true)
	o := *order
	for i := len(o) - 1; i >= 0; i-- {
		t := o[i]
		if t.back != nil && t.grad != nil {
			t.lastBack = release
			t.back()
		} else if done != nil && t.back == nil && t.base == nil && len(t.inputs) == 0 {
			// In reverse topological order every reader of a leaf comes
			// before it (a view of it included).
			done(t)
		}
		if release {
			// Every op reading t (its views included) has run its backward,
			// and so has t's own: nothing left in the walk reads t's values
			// or gradient. A view hands back nothing; its base comes later.
			t.releaseOne()
		}
	}
	clear(o)
	topoPool.Put(order)
	if release {
		for _, t := range *all {
			t.releaseOne()
		}
		clear(*all)
		topoPool.Put(all)
	}
}

// Release hands the buffers of every intermediate tensor in root's graph
// (root included) back to the pool and unlinks the graph. Parameters and
// tensors made with New/FromSlice keep their data; parameters keep their
// gradients. Any later use of a released tensor panics.
func Release(root *Tensor) {
	if root == nil || root.released {
		return
	}
	order := topo(root, false)
	o := *order
	for _, t := range o {
		t.releaseOne()
	}
	clear(o)
	topoPool.Put(order)
}

// ownsLeaf reports whether t is a leaf that keeps its buffers on Release:
// a parameter or a tensor made with New or FromSlice.
func (t *Tensor) ownsLeaf() bool { return !t.pooled && t.base == nil && len(t.inputs) == 0 }

func (t *Tensor) releaseOne() {
	for i, b := range t.saved {
		if b != nil {
			pool.put(b)
			t.saved[i] = nil
		}
	}
	if !t.pooled {
		// parameters and user-made leaves keep data and gradient
		t.inputs = nil
		t.back = nil
		return
	}
	if t.base == nil && t.grad != nil {
		pool.put(t.grad)
	}
	t.grad = nil
	t.inputs = nil
	t.back = nil
	if t.base == nil {
		pool.put(t.data)
	}
	t.data = nil
	t.base = nil
	t.released = true
}

// keep attaches a pooled scratch buffer that backward needs; Release returns it.
func (t *Tensor) keep(b []float32) {
	for i := range t.saved {
		if t.saved[i] == nil {
			t.saved[i] = b
			return
		}
	}
	panic("tensor: keep: too many saved buffers")
}
