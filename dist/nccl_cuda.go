//go:build cuda && cgo

package dist

// NCCL, loaded at run time with dlopen like the rest of the CUDA libraries
// (GOCOCA_LIBNCCL, else libnccl.so.2; no headers or libraries at build
// time), on the GPU of the CUDA tensor backend.
//
// One rank per process and GPU: the rank runs on the GPU of the current
// tensor backend, which must be the CUDA backend (select it first, e.g.
// coca train --device cuda, whose GPU is the launcher's local rank's,
// cuda.AutoDevice). Rank 0 makes the communicator's id and hands it to the others over
// MPI (a binary built with -tags mpi, under mpirun) or a TCP rendezvous
// (GOCOCA_NCCL_ADDR or MASTER_ADDR:MASTER_PORT; nccl_rendezvous.go), both
// bounded by Options.Timeout. ncclCommInitRank runs on a goroutine of its
// own, so that a rank that never joins fails the others at the timeout.
//
// Collectives run on the backend's stream, in order with its kernels: a
// buffer in the backend's memory (tensor.Alloc under the CUDA backend) is
// reduced in place, with no copy and no synchronisation before; any other
// buffer goes through a device staging buffer. Each collective is then
// polled until it is done, the timeout passes (ncclCommAbort) or NCCL
// reports an error, and fails naming the rank.

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef int ncclResult_t;
typedef void* ncclComm_t;
typedef void* CUstream;
typedef unsigned long long CUdeviceptr;
typedef struct { char internal[128]; } ncclUniqueId;

static struct {
	void *lib;
	ncclResult_t (*GetUniqueId)(ncclUniqueId*);
	ncclResult_t (*CommInitRank)(ncclComm_t*, int, ncclUniqueId, int);
	ncclResult_t (*CommDestroy)(ncclComm_t);
	ncclResult_t (*CommAbort)(ncclComm_t);
	ncclResult_t (*CommGetAsyncError)(ncclComm_t, ncclResult_t*);
	const char* (*GetErrorString)(ncclResult_t);
	ncclResult_t (*AllReduce)(const void*, void*, size_t, int, int, ncclComm_t, CUstream);
	ncclResult_t (*AllGather)(const void*, void*, size_t, int, ncclComm_t, CUstream);
	ncclResult_t (*Broadcast)(const void*, void*, size_t, int, int, ncclComm_t, CUstream);
} nc;

// nc_load opens the first of the '\n'-separated names that loads; it
// returns NULL, or a message.
static const char* nc_load(const char* names, char* err, int errlen) {
	if (nc.lib) return NULL;
	char buf[4096];
	strncpy(buf, names, sizeof buf - 1);
	buf[sizeof buf - 1] = 0;
	char* save = NULL;
	for (char* n = strtok_r(buf, "\n", &save); n && !nc.lib; n = strtok_r(NULL, "\n", &save)) {
		nc.lib = dlopen(n, RTLD_NOW | RTLD_GLOBAL);
		if (!nc.lib) {
			const char* e = dlerror();
			strncpy(err, e ? e : n, errlen - 1);
			err[errlen - 1] = 0;
		}
	}
	if (!nc.lib) return err;
#define NC(f, s) if (!(*(void**)(&nc.f) = dlsym(nc.lib, s))) return "the NCCL library lacks " s;
	NC(GetUniqueId, "ncclGetUniqueId") NC(CommInitRank, "ncclCommInitRank") NC(CommDestroy, "ncclCommDestroy")
	NC(CommAbort, "ncclCommAbort") NC(CommGetAsyncError, "ncclCommGetAsyncError") NC(GetErrorString, "ncclGetErrorString")
	NC(AllReduce, "ncclAllReduce") NC(AllGather, "ncclAllGather") NC(Broadcast, "ncclBroadcast")
#undef NC
	return NULL;
}

static const char* nc_error(ncclResult_t r) { return nc.GetErrorString(r); }
static ncclResult_t nc_unique_id(void *id) { return nc.GetUniqueId((ncclUniqueId*)id); }
static ncclResult_t nc_comm_init(ncclComm_t *c, int n, const void *id, int rank) {
	ncclUniqueId u;
	memcpy(u.internal, id, 128);
	return nc.CommInitRank(c, n, u, rank);
}
static ncclResult_t nc_destroy(ncclComm_t c) { return nc.CommDestroy(c); }
static ncclResult_t nc_abort(ncclComm_t c) { return nc.CommAbort(c); }
static ncclResult_t nc_async_error(ncclComm_t c, ncclResult_t *e) { return nc.CommGetAsyncError(c, e); }
// ncclFloat32 = 7, ncclSum = 0
static ncclResult_t nc_allreduce(CUdeviceptr buf, size_t n, ncclComm_t c, void* s) {
	return nc.AllReduce((void*)buf, (void*)buf, n, 7, 0, c, (CUstream)s);
}
static ncclResult_t nc_allgather(CUdeviceptr src, CUdeviceptr dst, size_t n, ncclComm_t c, void* s) {
	return nc.AllGather((void*)src, (void*)dst, n, 7, c, (CUstream)s);
}
static ncclResult_t nc_broadcast(CUdeviceptr buf, size_t n, int root, ncclComm_t c, void* s) {
	return nc.Broadcast((void*)buf, (void*)buf, n, 7, root, c, (CUstream)s);
}
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gococa/gococa/tensor"
)

const ncclIDBytes = 128

type ncclComm struct {
	mu     sync.Mutex
	rank   int
	size   int
	o      Options
	b      ncclDevice // the rank's GPU: the CUDA tensor backend
	comm   C.ncclComm_t
	stage  []float32 // device staging buffer for host buffers (b.Alloc)
	seq    int64
	closed bool
	mpi    Comm // the MPI communicator that carried the id (closed with this one), or nil
	guard
}

var ncclOpened atomic.Bool

// ncclIDOverMPI, set in builds with -tags mpi, hands rank 0's id to the
// others with an MPI broadcast; it returns the MPI communicator, which
// must stay open as long as NCCL's.
var ncclIDOverMPI func(o Options, newID func() ([]byte, error)) ([]byte, Comm, error)

func loadNCCL() error {
	names := "libnccl.so.2\nlibnccl.so"
	if p := os.Getenv("GOCOCA_LIBNCCL"); p != "" {
		names = p
	}
	cn := C.CString(names)
	defer C.free(unsafe.Pointer(cn))
	var buf [512]C.char
	if msg := C.nc_load(cn, &buf[0], C.int(len(buf))); msg != nil {
		return fmt.Errorf("dist: nccl: cannot load %s (install NCCL 2, or set GOCOCA_LIBNCCL to its path): %s",
			strings.ReplaceAll(names, "\n", ", "), C.GoString(msg))
	}
	return nil
}

func ncclError(r C.ncclResult_t) string { return C.GoString(C.nc_error(r)) }

// ncclDevice is what NCCL needs of the CUDA backend (cuda.Backend has
// these methods; package cuda is not imported, as its tests import dist).
type ncclDevice interface {
	Name() string
	Device() int
	Bind() error
	Enqueue(f func(stream unsafe.Pointer) error) error
	Done() (bool, error)
	DevicePointer(x []float32) (uint64, bool)
	CopyToHost(dst, src []float32)
	CopyFromHost(dst, src []float32)
	Alloc(n int) []float32
	Free(x []float32)
}

// ncclBackend returns the CUDA backend the rank runs on.
func ncclBackend(rank int) (ncclDevice, error) {
	b := tensor.CurrentBackend()
	if d, ok := b.(ncclDevice); ok && b.Name() == "cuda" {
		return d, nil
	}
	return nil, fmt.Errorf("dist: nccl: rank %d: the tensor backend is %s; NCCL runs on the CUDA backend's GPU: select it first (--device cuda)", rank, b.Name())
}

func openNCCL(o Options) (Comm, error) {
	if !ncclOpened.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("dist: NCCL was already opened in this process")
	}
	rank, size, _, key, err := launcherEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	if err := loadNCCL(); err != nil {
		return nil, err
	}
	b, err := ncclBackend(rank)
	if err != nil {
		return nil, err
	}
	c := &ncclComm{rank: rank, size: size, o: o, b: b, guard: guard{rank: rank, log: o.Log, timeout: o.Timeout}}
	newID := func() ([]byte, error) {
		id := make([]byte, ncclIDBytes)
		if r := C.nc_unique_id(unsafe.Pointer(&id[0])); r != 0 {
			return nil, fmt.Errorf("dist: nccl: rank %d: ncclGetUniqueId: %s", rank, ncclError(r))
		}
		return id, nil
	}
	var id []byte
	if _, noAddr := rendezvousAddr(o, os.Getenv); noAddr != nil && size > 1 && ncclIDOverMPI != nil && os.Getenv("OMPI_COMM_WORLD_RANK") != "" {
		id, c.mpi, err = ncclIDOverMPI(o, newID)
	} else {
		id, err = exchangeID(o, rank, size, key, newID, ncclIDBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("dist: nccl: %w", err)
	}
	if err := c.init(id); err != nil {
		if c.mpi != nil {
			c.mpi.Close()
		}
		return nil, err
	}
	if err := c.exchange(size, c.AllGather); err != nil {
		return nil, err
	}
	c.watch()
	return c, nil
}

// init runs ncclCommInitRank, which returns when every rank has joined,
// on a thread of its own, and gives up at the timeout.
func (c *ncclComm) init(id []byte) error {
	type result struct {
		comm C.ncclComm_t
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // left locked if NCCL never returns: the thread is lost with it
		var res result
		if err := c.b.Bind(); err != nil {
			res.err = fmt.Errorf("dist: nccl: rank %d: %w", c.rank, err)
		} else if r := C.nc_comm_init(&res.comm, C.int(c.size), unsafe.Pointer(&id[0]), C.int(c.rank)); r != 0 {
			res.err = fmt.Errorf("dist: nccl: rank %d: ncclCommInitRank on cuda:%d: %s", c.rank, c.b.Device(), ncclError(r))
		}
		done <- res
		runtime.UnlockOSThread()
	}()
	select {
	case res := <-done:
		c.comm = res.comm
		return res.err
	case <-time.After(c.o.Timeout):
		return fmt.Errorf("dist: nccl: rank %d: ncclCommInitRank on cuda:%d did not complete within %v "+
			"(the other ranks did not all join; NCCL_DEBUG=INFO says more)", c.rank, c.b.Device(), c.o.Timeout)
	}
}

func (c *ncclComm) Rank() int { return c.rank }
func (c *ncclComm) Size() int { return c.size }

// DeviceBuffers reports that the collectives read and write buffers of
// the backend's memory in place (others are staged).
func (c *ncclComm) DeviceBuffers() bool { return true }

// device returns the device address of buf, staging it when it is not
// the backend's memory (off: where it starts in the staging buffer; in:
// copy the values there first).
func (c *ncclComm) device(buf []float32, off int, in bool) uint64 {
	if p, ok := c.b.DevicePointer(buf); ok {
		return p
	}
	s := c.stage[off : off+len(buf)]
	if in {
		c.b.CopyFromHost(s, buf)
	}
	p, _ := c.b.DevicePointer(s)
	return p
}

// run queues a collective on the backend's stream, waits for it, and then
// calls after (which copies staged results back).
func (c *ncclComm) run(what string, enqueue func(stream unsafe.Pointer) C.ncclResult_t, after func()) error {
	if err := c.err(); err != nil {
		return err
	}
	if c.closed {
		return fmt.Errorf("dist: rank %d: %s after Close", c.rank, what)
	}
	c.seq++
	c.started(c.seq)
	what = fmt.Sprintf("collective #%d (%s)", c.seq, what)
	var code C.ncclResult_t
	if err := c.b.Enqueue(func(stream unsafe.Pointer) error {
		code = enqueue(stream)
		return nil
	}); err != nil {
		return c.fail(fmt.Errorf("dist: rank %d: %s: %w", c.rank, what, err))
	}
	if code != 0 {
		return c.fail(fmt.Errorf("dist: rank %d: %s on cuda:%d: %s", c.rank, what, c.b.Device(), ncclError(code)))
	}
	if err := c.wait(what); err != nil {
		return err
	}
	if after != nil {
		after()
	}
	return nil
}

// wait polls the stream until the collective is done, NCCL reports an
// error, the guard reports a dead rank, or the timeout passes (then the
// communicator is aborted).
func (c *ncclComm) wait(what string) error {
	t0 := time.Now()
	for {
		done, err := c.b.Done()
		if err != nil {
			C.nc_abort(c.comm)
			return c.fail(fmt.Errorf("dist: rank %d: %s on cuda:%d: %w; %s", c.rank, what, c.b.Device(), err, c.report()))
		}
		if done {
			return nil
		}
		var async C.ncclResult_t
		if C.nc_async_error(c.comm, &async); async != 0 {
			C.nc_abort(c.comm)
			return c.fail(fmt.Errorf("dist: rank %d: %s on cuda:%d: %s; %s", c.rank, what, c.b.Device(), ncclError(async), c.report()))
		}
		if err := c.err(); err != nil {
			C.nc_abort(c.comm)
			return err
		}
		w := time.Since(t0)
		if w > c.o.Timeout {
			C.nc_abort(c.comm)
			return c.fail(fmt.Errorf("dist: rank %d: %s on cuda:%d did not complete within %v; %s", c.rank, what, c.b.Device(), c.o.Timeout, c.report()))
		}
		if w < 2*time.Millisecond {
			runtime.Gosched()
		} else {
			time.Sleep(min(w/20, time.Millisecond))
		}
	}
}

// growStage makes the staging buffer hold n values.
func (c *ncclComm) growStage(n int) {
	if len(c.stage) >= n {
		return
	}
	if c.stage != nil {
		c.b.Free(c.stage)
	}
	c.stage = c.b.Alloc(n)
}

func (c *ncclComm) AllReduceSum(buf []float32) error {
	if len(buf) == 0 {
		return c.err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, onDev := c.b.DevicePointer(buf)
	if !onDev {
		c.growStage(len(buf))
	}
	p := c.device(buf, 0, true)
	return c.run(fmt.Sprintf("all-reduce of %d values", len(buf)), func(s unsafe.Pointer) C.ncclResult_t {
		return C.nc_allreduce(C.CUdeviceptr(p), C.size_t(len(buf)), c.comm, s)
	}, func() {
		if !onDev {
			c.b.CopyToHost(buf, c.stage[:len(buf)])
		}
	})
}

func (c *ncclComm) AllGather(dst, src []float32) error {
	if err := checkGather("AllGather", dst, src, c.size); err != nil {
		return err
	}
	if len(src) == 0 {
		return c.err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, srcDev := c.b.DevicePointer(src)
	_, dstDev := c.b.DevicePointer(dst)
	if !srcDev || !dstDev {
		c.growStage(len(src) + len(dst)) // [src | dst]
	}
	ps := c.device(src, 0, true)
	pd := c.device(dst, len(src), false)
	return c.run(fmt.Sprintf("all-gather of %d values", len(src)), func(s unsafe.Pointer) C.ncclResult_t {
		return C.nc_allgather(C.CUdeviceptr(ps), C.CUdeviceptr(pd), C.size_t(len(src)), c.comm, s)
	}, func() {
		if !dstDev {
			c.b.CopyToHost(dst, c.stage[len(src):len(src)+len(dst)])
		}
	})
}

func (c *ncclComm) Broadcast(buf []float32, root int) error {
	if err := checkRoot(root, c.size); err != nil {
		return err
	}
	if len(buf) == 0 {
		return c.err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, onDev := c.b.DevicePointer(buf)
	if !onDev {
		c.growStage(len(buf))
	}
	p := c.device(buf, 0, true)
	return c.run(fmt.Sprintf("broadcast of %d values from rank %d", len(buf), root), func(s unsafe.Pointer) C.ncclResult_t {
		return C.nc_broadcast(C.CUdeviceptr(p), C.size_t(len(buf)), C.int(root), c.comm, s)
	}, func() {
		if !onDev {
			c.b.CopyToHost(buf, c.stage[:len(buf)])
		}
	})
}

// Barrier is an all-reduce of one value (NCCL has no barrier).
func (c *ncclComm) Barrier() error { return c.AllReduceSum(make([]float32, 1)) }

func (c *ncclComm) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.stop()
	var err error
	if c.err() == nil {
		if c.stage != nil {
			c.b.Free(c.stage)
			c.stage = nil
		}
		if r := C.nc_destroy(c.comm); r != 0 {
			err = fmt.Errorf("dist: rank %d: ncclCommDestroy: %s", c.rank, ncclError(r))
		}
	}
	if c.mpi != nil {
		if e := c.mpi.Close(); err == nil {
			err = e
		}
	}
	return err
}
