package asm

import "testing"

// TestFreeListGetFit checks that getFit hands out the most recent idle
// object that fits, else the most recent one, and keeps the others.
func TestFreeListGetFit(t *testing.T) {
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
