package dist

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gococa/gococa/asm"
)

// NewLocal returns n communicators that form one group inside this process,
// to be used from n goroutines (one per rank): in-process data-parallel
// training, and tests. Every element of a sum is added in rank order, so
// all ranks receive the same bits; each rank computes its own slice of the
// sum into one buffer of the group that every rank then copies. A rank
// waiting for the others does the work WhileWaiting gave it, if any, then
// checks for them for a short while (localSpin), yielding its CPU between
// checks, before it parks. A rank that calls Close while the
// others wait in a collective makes their collective fail with an error
// naming it; a rank that calls a different collective, or the same one with
// a different length, fails every rank's call.
func NewLocal(n int) []Comm {
	if n < 1 {
		panic(fmt.Sprintf("dist: NewLocal(%d): need at least one rank", n))
	}
	g := &localGroup{n: n, slots: make([]localCall, n), closed: make([]bool, n), arrived: make([]int, n), idle: make([]func() bool, n)}
	g.snap = make([]localCall, n)
	g.cond = sync.NewCond(&g.mu)
	cs := make([]Comm, n)
	for r := range cs {
		cs[r] = &localComm{g: g, rank: r}
	}
	return cs
}

// ErrPeerLeft is wrapped by the error of a local collective that failed
// because another rank of the group closed its communicator (it stopped,
// usually with an error of its own).
var ErrPeerLeft = errors.New("a rank left the group")

type localCall struct {
	op   string
	root int
	a, b []float32 // the rank's buffers (src, dst)
}

type localGroup struct {
	n       int
	mu      sync.Mutex
	cond    *sync.Cond
	gen     int   // completed barrier phases
	count   int   // ranks arrived in the current phase
	arrived []int // per rank: the phase it last arrived in, plus one
	closed  []bool
	err     error // the group is broken
	slots   []localCall
	snap    []localCall // slots as the last phase found them
	phase   atomic.Int64
	idle    []func() bool // per rank: WhileWaiting's work (each rank reads its own)
}

// WhileWaiting gives a rank of NewLocal work for the time it waits for the
// others in a collective: f does a piece of it (tens of microseconds) and
// reports whether it did any; the rank calls it until the others arrive or
// it reports false, then waits as usual. It must be called on the rank's
// own goroutine, which is the one that calls f; nil removes the work.
// In-process data-parallel training loads its next batches this way (see
// data.LoaderConfig.Inline). It reports whether c takes such work (only
// NewLocal's communicators do).
func WhileWaiting(c Comm, f func() bool) bool {
	lc, ok := c.(*localComm)
	if ok {
		lc.g.idle[lc.rank] = f
	}
	return ok
}

// localSpin is how long a rank checks for the others before it parks: the
// ranks of in-process data-parallel training meet several times a step,
// usually within microseconds of each other, and waking a parked goroutine
// costs 40-50 µs on a virtual machine.
const localSpin = 50 * time.Microsecond

// sync waits until every rank has arrived in the current phase.
func (g *localGroup) sync(rank int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return g.err
	}
	gen := g.gen
	g.arrived[rank] = gen + 1
	g.count++
	if g.count == g.n {
		g.count = 0
		g.gen++
		copy(g.snap, g.slots)
		g.phase.Store(int64(g.gen))
		g.cond.Broadcast()
		return nil
	}
	g.mu.Unlock()
	if f := g.idle[rank]; f != nil {
		for g.phase.Load() == int64(gen) && f() {
		}
	}
	for t0 := time.Now(); g.phase.Load() == int64(gen) && time.Since(t0) < localSpin; {
		runtime.Gosched()
	}
	g.mu.Lock()
	for gen == g.gen {
		for r, c := range g.closed {
			if c && g.arrived[r] != gen+1 {
				g.err = fmt.Errorf("dist: local rank %d: rank %d left the group (Close) while the others waited in a collective: %w", rank, r, ErrPeerLeft)
				g.cond.Broadcast()
			}
		}
		if g.err != nil {
			return g.err
		}
		g.cond.Wait()
	}
	return nil
}

type localComm struct {
	g       *localGroup
	rank    int
	scratch []float32 // this rank's private result of a gather or broadcast
}

func (c *localComm) Rank() int { return c.rank }
func (c *localComm) Size() int { return c.g.n }

func (c *localComm) Close() error {
	g := c.g
	g.mu.Lock()
	g.closed[c.rank] = true
	g.cond.Broadcast()
	g.mu.Unlock()
	return nil
}

// collective runs one call: publish this rank's buffers, wait for every
// rank, check that all made the same call, compute this rank's result from
// the others' buffers into a private copy, wait again (nobody writes before
// everybody has read), then write it.
func (c *localComm) collective(call localCall, compute func(slots []localCall) []float32, out []float32) error {
	g := c.g
	g.mu.Lock()
	g.slots[c.rank] = call
	g.mu.Unlock()
	if err := g.sync(c.rank); err != nil {
		return err
	}
	slots := g.snap // stays put until every rank has arrived again
	var res []float32
	var err error
	for r, s := range slots {
		if s.op != call.op || len(s.a) != len(call.a) || s.root != call.root {
			err = fmt.Errorf("dist: local rank %d: %s of %d values (root %d), but rank %d called %s of %d values (root %d)",
				c.rank, call.op, len(call.a), call.root, r, s.op, len(s.a), s.root)
			break
		}
	}
	if err == nil && compute != nil {
		res = compute(slots)
	}
	if err2 := g.sync(c.rank); err2 != nil && err == nil {
		err = err2
	}
	if err != nil {
		return err
	}
	copy(out, res)
	return nil
}

// AllReduceSum: every rank sums its slice of the elements (in rank order)
// and writes the sums into that slice of every rank's buffer; no rank
// reads or writes another's slice, and none returns before all have
// written (collective's second wait).
func (c *localComm) AllReduceSum(buf []float32) error {
	n := len(buf)
	lo, hi := c.rank*n/c.g.n, (c.rank+1)*n/c.g.n
	return c.collective(localCall{op: "AllReduceSum", a: buf}, func(slots []localCall) []float32 {
		if hi <= lo || len(slots) == 1 {
			return nil
		}
		sum := slots[0].a[lo:hi]
		asm.Add(sum, sum, slots[1].a[lo:hi])
		for _, s := range slots[2:] {
			asm.Add(sum, sum, s.a[lo:hi])
		}
		for _, s := range slots[1:] {
			copy(s.a[lo:hi], sum)
		}
		return nil
	}, nil)
}

func (c *localComm) AllGather(dst, src []float32) error {
	if err := checkGather("AllGather", dst, src, c.g.n); err != nil {
		return err
	}
	return c.collective(localCall{op: "AllGather", a: src, b: dst}, func(slots []localCall) []float32 {
		res := c.scratch[:0]
		for _, s := range slots {
			res = append(res, s.a...)
		}
		c.scratch = res
		return res
	}, dst)
}

func (c *localComm) Broadcast(buf []float32, root int) error {
	if err := checkRoot(root, c.g.n); err != nil {
		return err
	}
	return c.collective(localCall{op: "Broadcast", a: buf, root: root}, func(slots []localCall) []float32 {
		c.scratch = append(c.scratch[:0], slots[root].a...)
		return c.scratch
	}, buf)
}

func (c *localComm) Barrier() error {
	return c.collective(localCall{op: "Barrier"}, func([]localCall) []float32 { return nil }, nil)
}
