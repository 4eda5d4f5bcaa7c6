package asm

import (
	"runtime"
	"testing"
)

// TestFreeListGetFit checks that getFit hands out the most recent idle
// object that fits, else the most recent one, and keeps the others.
func TestFreeListGetFit(t *testing.T) {
	defer stubShardCPU(3)()
	var f freeList[int]
	for _, v := range []int{10, 50, 20, 30} {
		x := v
		f.put(&x)
	}
	if got := *f.getFit(func(x *int) bool { return *x >= 40 }); got != 50 {
		t.Fatalf("getFit(≥40) = %d, want 50", got)
	}
	if got := *f.getFit(func(x *int) bool { return *x >= 15 }); got != 30 {
		t.Fatalf("getFit(≥15) = %d, want 30 (the most recent that fits)", got)
	}
	if got := *f.getFit(func(x *int) bool { return *x >= 100 }); got != 20 {
		t.Fatalf("getFit(≥100) = %d, want 20 (none fits: the most recent)", got)
	}
	if got := *f.get(); got != 10 {
		t.Fatalf("get = %d, want 10, the one left", got)
	}
	if got := *f.getFit(func(*int) bool { return true }); got != 0 {
		t.Fatalf("getFit on an empty list = %d, want a new zero object", got)
	}
}

// stubShardCPU makes the free lists see every call on CPU cpu until the
// returned function restores CPUNum.
func stubShardCPU(cpu int) (restore func()) {
	old := shardCPU
	shardCPU = func() int { return cpu }
	return func() { shardCPU = old }
}

// TestFreeListPerCPU: an object goes back to its CPU's list, and a get
// takes its own CPU's objects first (the most recent that fits), then
// another CPU's, then a new one; each list keeps at most 4·GOMAXPROCS.
func TestFreeListPerCPU(t *testing.T) {
	var f freeList[int]
	cpu := 0
	old := shardCPU
	shardCPU = func() int { return cpu }
	defer func() { shardCPU = old }()
	put := func(on, v int) {
		cpu = on
		x := v
		f.put(&x)
	}
	put(1, 10)
	put(1, 11)
	put(0, 20)
	put(1+freeShards, 12) // shares CPU 1's list
	cpu = 1
	if got := *f.get(); got != 12 {
		t.Fatalf("get on CPU 1 = %d, want 12 (its list's most recent)", got)
	}
	if got := *f.getFit(func(x *int) bool { return *x >= 15 }); got != 20 {
		t.Fatalf("getFit(≥15) on CPU 1 = %d, want 20 (none fits on CPU 1: CPU 0's)", got)
	}
	if got := *f.getFit(func(x *int) bool { return *x >= 100 }); got != 11 {
		t.Fatalf("getFit(≥100) on CPU 1 = %d, want 11 (none fits: its own most recent)", got)
	}
	cpu = 5
	if got := *f.get(); got != 10 {
		t.Fatalf("get on CPU 5 = %d, want 10 (CPU 1's last)", got)
	}
	if got := *f.get(); got != 0 {
		t.Fatalf("get on an empty list = %d, want a new zero object", got)
	}
	limit := 4 * runtime.GOMAXPROCS(0)
	for i := range limit + 3 {
		put(2, i)
	}
	if n := len(f.shards[2].list); n != limit {
		t.Fatalf("CPU 2's list holds %d after %d puts, want the limit %d", n, limit+3, limit)
	}
}
