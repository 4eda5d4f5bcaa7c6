package dist

import (
	"fmt"
	"sync"
)

// NewLocal returns n communicators that form one group inside this process,
// to be used from n goroutines (one per rank). Every rank sums in rank
// order, so all receive the same bits. A rank that calls Close while the
// others wait in a collective makes their collective fail with an error
// naming it; a rank that calls a different collective, or the same one with
// a different length, fails every rank's call.
func NewLocal(n int) []Comm {
	if n < 1 {
		panic(fmt.Sprintf("dist: NewLocal(%d): need at least one rank", n))
	}
	g := &localGroup{n: n, slots: make([]localCall, n), closed: make([]bool, n), arrived: make([]int, n)}
	g.cond = sync.NewCond(&g.mu)
	cs := make([]Comm, n)
	for r := range cs {
		cs[r] = &localComm{g: g, rank: r}
	}
	return cs
}

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
}

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
		g.cond.Broadcast()
		return nil
	}
	for gen == g.gen {
		for r, c := range g.closed {
			if c && g.arrived[r] != gen+1 {
				g.err = fmt.Errorf("dist: local rank %d: rank %d left the group (Close) while the others waited in a collective", rank, r)
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
	g    *localGroup
	rank int
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
	g.mu.Lock()
	slots := append([]localCall(nil), g.slots...)
	g.mu.Unlock()
	var res []float32
	var err error
	for r, s := range slots {
		if s.op != call.op || len(s.a) != len(call.a) || s.root != call.root {
			err = fmt.Errorf("dist: local rank %d: %s of %d values (root %d), but rank %d called %s of %d values (root %d)",
				c.rank, call.op, len(call.a), call.root, r, s.op, len(s.a), s.root)
			break
		}
	}
	if err == nil {
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

func (c *localComm) AllReduceSum(buf []float32) error {
	return c.collective(localCall{op: "AllReduceSum", a: buf}, func(slots []localCall) []float32 {
		res := make([]float32, len(buf))
		for _, s := range slots {
			for i, v := range s.a {
				res[i] += v
			}
		}
		return res
	}, buf)
}

func (c *localComm) AllGather(dst, src []float32) error {
	if err := checkGather("AllGather", dst, src, c.g.n); err != nil {
		return err
	}
	return c.collective(localCall{op: "AllGather", a: src, b: dst}, func(slots []localCall) []float32 {
		res := make([]float32, 0, len(dst))
		for _, s := range slots {
			res = append(res, s.a...)
		}
		return res
	}, dst)
}

func (c *localComm) Broadcast(buf []float32, root int) error {
	if err := checkRoot(root, c.g.n); err != nil {
		return err
	}
	return c.collective(localCall{op: "Broadcast", a: buf, root: root}, func(slots []localCall) []float32 {
		return append([]float32(nil), slots[root].a...)
	}, buf)
}

func (c *localComm) Barrier() error {
	return c.collective(localCall{op: "Barrier"}, func([]localCall) []float32 { return nil }, nil)
}
