//go:build cuda && cgo

package cuda

import (
	"fmt"
	"os"
	"strconv"
	"unsafe"
)

// Moving values between the host and the GPU, and sharing the GPU's stream
// with other libraries (NCCL).

// CopyToHost copies src, a buffer of this backend (or any slice), into
// the host slice dst after the work queued before, and returns when the
// values are there. It is the host's way to read device memory.
func (b *Backend) CopyToHost(dst, src []float32) {
	need("CopyToHost", "dst", len(dst), len(src))
	if len(src) == 0 {
		return
	}
	cl := b.d.begin("CopyToHost")
	defer cl.end()
	ps := cl.in(src)
	cl.check(cuMemcpyDtoH(fptr(dst), ps, 4*len(src), b.d.stream))
}

// CopyFromHost copies the host values src into dst, a buffer of this
// backend, in stream order: kernels queued before still see the old
// values, kernels queued after the new ones. src may be reused as soon as
// it returns (the driver has taken a copy); with device memory it does
// not wait for the GPU.
func (b *Backend) CopyFromHost(dst, src []float32) {
	need("CopyFromHost", "dst", len(dst), len(src))
	if len(src) == 0 {
		return
	}
	cl := b.d.begin("CopyFromHost")
	defer cl.end()
	pd := cl.inout(dst[:len(src)])
	cl.check(cuMemcpyHtoD(pd, fptr(src), 4*len(src), b.d.stream))
}

// Synchronize waits until the GPU has done all the work queued so far.
func (b *Backend) Synchronize() {
	cl := b.d.begin("Synchronize")
	defer cl.end()
	cl.check(cuStreamSync(b.d.stream))
}

// DevicePointer returns the device address of x when x is memory of this
// backend (ok false otherwise), for libraries that take device pointers.
func (b *Backend) DevicePointer(x []float32) (p uint64, ok bool) {
	if !b.Owns(x) {
		return 0, false
	}
	return sliceAddr(x), true
}

// Enqueue calls f with the GPU's context current on the calling thread
// and the backend's stream (a CUstream), holding the device, so that f can
// queue work from another library on that stream in order with the
// backend's kernels: an NCCL collective on gradients the backward pass
// has just queued needs no synchronisation. f must not block on the GPU.
func (b *Backend) Enqueue(f func(stream unsafe.Pointer) error) error {
	cl := b.d.begin("Enqueue")
	cl.nosync = true
	defer cl.end()
	return f(b.d.stream)
}

// Bind makes the GPU's context current on the calling OS thread, which
// the caller has locked (runtime.LockOSThread), for a library call that
// needs it but must not hold the device (ncclCommInitRank waits for the
// other ranks).
func (b *Backend) Bind() error { return cuCtxSetCurrent(b.d.ctx) }

// Done reports whether all work queued on the backend's stream so far has
// completed, without waiting.
func (b *Backend) Done() (bool, error) {
	cl := b.d.begin("Done")
	cl.nosync = true
	defer cl.end()
	return cuStreamQuery(b.d.stream)
}

// MemoryStats reports the allocator's figures: bytes handed out (in use),
// bytes waiting in its cache, bytes taken from the driver, and bytes of
// cache handed back to the driver when memory ran out.
func (b *Backend) MemoryStats() (inUse, cached, driver, released int64) {
	a := &b.d.alloc
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inUse, a.cached, a.driver, a.released
}

// launcherLocalRank returns the launcher's local rank of this process
// (ok false without a launcher): OpenMPI, torchrun-style launchers,
// Slurm, MPICH/Intel MPI.
func launcherLocalRank(getenv func(string) string) (rank int, name string, ok bool, err error) {
	for _, name := range []string{"OMPI_COMM_WORLD_LOCAL_RANK", "LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID"} {
		v := getenv(name)
		if v == "" {
			continue
		}
		r, err := strconv.Atoi(v)
		if err != nil || r < 0 {
			return 0, name, false, fmt.Errorf("cuda: environment variable %s=%q is not a local rank", name, v)
		}
		return r, name, true, nil
	}
	return 0, "", false, nil
}

// LauncherDevice returns the GPU this process uses under a launcher that
// starts one rank per GPU: its local rank among the visible GPUs
// (CUDA_VISIBLE_DEVICES applies); 0 without a launcher. More local ranks
// than GPUs is an error: two ranks on one GPU would compete for its memory,
// and NCCL refuses them.
func LauncherDevice() (int, error) {
	r, name, ok, err := launcherLocalRank(os.Getenv)
	if err != nil || !ok {
		return 0, err
	}
	if err := Probe(); err != nil {
		return 0, err
	}
	n, err := cuDeviceCount()
	if err != nil {
		return 0, fmt.Errorf("cuda: %w", err)
	}
	if r >= n {
		return 0, fmt.Errorf("cuda: %s=%d but %d GPU(s) are visible: start at most one rank per GPU, or name the GPU (cuda:N)", name, r, n)
	}
	return r, nil
}
