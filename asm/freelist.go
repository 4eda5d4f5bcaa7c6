package asm

import (
	"runtime"
	"sync"
)

// freeList keeps idle scratch objects for reuse. Unlike a sync.Pool it
// survives garbage collections, so steady-state training steps allocate no
// scratch; it keeps at most 4·GOMAXPROCS entries and drops the rest.
type freeList[T any] struct {
	mu   sync.Mutex
	list []*T
}

// get returns an idle object, or a new zero one when none is idle.
func (f *freeList[T]) get() *T {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.list); n > 0 {
		x := f.list[n-1]
		f.list[n-1] = nil
		f.list = f.list[:n-1]
		return x
	}
	return new(T)
}

// getFit returns the most recently put idle object for which fits
// reports true, else the most recently put one, else a new zero one.
func (f *freeList[T]) getFit(fits func(*T) bool) *T {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.list)
	if n == 0 {
		return new(T)
	}
	i := n - 1
	for j := n - 1; j >= 0; j-- {
		if fits(f.list[j]) {
			i = j
			break
		}
	}
	x := f.list[i]
	copy(f.list[i:], f.list[i+1:])
	f.list[n-1] = nil
	f.list = f.list[:n-1]
	return x
}

// put hands x back for reuse.
func (f *freeList[T]) put(x *T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.list) < 4*runtime.GOMAXPROCS(0) {
		f.list = append(f.list, x)
	}
}
