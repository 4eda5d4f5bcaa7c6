package asm

import (
	"runtime"
	"sync"
)

// freeList keeps idle scratch objects for reuse. Unlike a sync.Pool it
// survives garbage collections, so steady-state training steps allocate no
// scratch. Its objects are kept per CPU (freeShards lists, by CPUNum): a
// goroutine takes back the scratch last used on its own CPU, whose memory
// is in that CPU's cache, rather than one that another core just wrote
// (in-process data-parallel ranks run side by side, one per core, and
// would otherwise trade packing buffers at every product). A list with
// none takes another list's most recent one. Each list keeps at most
// 4·GOMAXPROCS entries and drops the rest.
type freeList[T any] struct {
	shards [freeShards]freeShard[T]
}

// freeShards is the number of per-CPU lists of a freeList (CPUs share
// lists modulo it).
const freeShards = 16

type freeShard[T any] struct {
	mu   sync.Mutex
	list []*T
	_    [32]byte // a cache line per list (8 + 24 + 32 bytes)
}

// shardCPU is CPUNum, or a stand-in in tests.
var shardCPU = CPUNum

// shardIndex is the list of the calling goroutine's CPU.
func shardIndex() int { return shardCPU() % freeShards }

// take removes and returns the entry at i of s's list.
func (s *freeShard[T]) take(i int) *T {
	n := len(s.list)
	x := s.list[i]
	copy(s.list[i:], s.list[i+1:])
	s.list[n-1] = nil
	s.list = s.list[:n-1]
	return x
}

// get returns an idle object (this CPU's most recent, else another's),
// or a new zero one when none is idle.
func (f *freeList[T]) get() *T {
	return f.getFit(nil)
}

// getFit returns the most recently put idle object for which fits
// reports true (this CPU's list first, then the others), else the most
// recently put one (the same order), else a new zero one. A nil fits
// takes any.
func (f *freeList[T]) getFit(fits func(*T) bool) *T {
	home := shardIndex()
	if fits != nil {
		for k := range freeShards {
			s := &f.shards[(home+k)%freeShards]
			s.mu.Lock()
			for j := len(s.list) - 1; j >= 0; j-- {
				if fits(s.list[j]) {
					x := s.take(j)
					s.mu.Unlock()
					return x
				}
			}
			s.mu.Unlock()
		}
	}
	for k := range freeShards {
		s := &f.shards[(home+k)%freeShards]
		s.mu.Lock()
		if n := len(s.list); n > 0 {
			x := s.take(n - 1)
			s.mu.Unlock()
			return x
		}
		s.mu.Unlock()
	}
	return new(T)
}

// put hands x back for reuse, to this CPU's list.
func (f *freeList[T]) put(x *T) {
	s := &f.shards[shardIndex()]
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.list) < 4*runtime.GOMAXPROCS(0) {
		s.list = append(s.list, x)
	}
}
