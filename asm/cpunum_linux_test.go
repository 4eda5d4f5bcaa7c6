//go:build linux && amd64 && !purego

package asm

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCPUNum pins the test's thread to each CPU it may run on in turn and
// checks that CPUNum names that CPU.
func TestCPUNum(t *testing.T) {
	if !hasRDTSCP {
		t.Skip("no RDTSCP: CPUNum is 0")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		t.Skipf("SchedGetaffinity: %v", err)
	}
	defer unix.SchedSetaffinity(0, &all)
	seen := 0
	for cpu := 0; cpu < 1024 && seen < all.Count(); cpu++ {
		if !all.IsSet(cpu) {
			continue
		}
		seen++
		var one unix.CPUSet
		one.Set(cpu)
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			t.Fatalf("SchedSetaffinity(%d): %v", cpu, err)
		}
		for range 100 {
			if got := CPUNum(); got != cpu {
				t.Fatalf("pinned to CPU %d, CPUNum() = %d", cpu, got)
			}
		}
	}
	if seen < 1 {
		t.Fatal("no CPU in the affinity mask")
	}
}
