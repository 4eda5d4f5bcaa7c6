//go:build cuda && cgo

package dist

// NCCL, loaded at run time with dlopen like the rest of the CUDA libraries
// (libcuda.so.1 and libnccl.so.2; no headers or libraries at build time).
// UNVERIFIED: written against NCCL 2.x's and the CUDA driver's C ABI and
// only compiled (go vet -tags cuda), never run on a GPU.
//
// One rank per process and GPU (the launcher's local rank picks the GPU).
// Rank 0 creates the communicator's id and hands it to the others through
// a file that every rank can read (Options.Rendezvous, a shared
// filesystem); the launcher's job id keeps a stale file from being taken.
// The collectives take host buffers: each copies its buffer to a device
// staging buffer, runs the NCCL call on this rank's stream, polls the
// stream until it is done or the timeout passes (then ncclCommAbort), and
// copies the result back.

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef void* CUcontext;
typedef void* CUstream;
typedef int ncclResult_t;
typedef void* ncclComm_t;
typedef struct { char internal[128]; } ncclUniqueId;

static struct {
	void *cu, *nccl;
	CUresult (*Init)(unsigned);
	CUresult (*DeviceGetCount)(int*);
	CUresult (*DeviceGet)(CUdevice*, int);
	CUresult (*DevicePrimaryCtxRetain)(CUcontext*, CUdevice);
	CUresult (*CtxSetCurrent)(CUcontext);
	CUresult (*StreamCreate)(CUstream*, unsigned);
	CUresult (*StreamQuery)(CUstream);
	CUresult (*MemAlloc)(CUdeviceptr*, size_t);
	CUresult (*MemFree)(CUdeviceptr);
	CUresult (*MemcpyHtoD)(CUdeviceptr, const void*, size_t);
	CUresult (*MemcpyDtoH)(void*, CUdeviceptr, size_t);
	CUresult (*GetErrorString)(CUresult, const char**);
	ncclResult_t (*GetUniqueId)(ncclUniqueId*);
	ncclResult_t (*CommInitRank)(ncclComm_t*, int, ncclUniqueId, int);
	ncclResult_t (*CommDestroy)(ncclComm_t);
	ncclResult_t (*CommAbort)(ncclComm_t);
	ncclResult_t (*CommGetAsyncError)(ncclComm_t, ncclResult_t*);
	const char* (*GetErrorString2)(ncclResult_t);
	ncclResult_t (*AllReduce)(const void*, void*, size_t, int, int, ncclComm_t, CUstream);
	ncclResult_t (*AllGather)(const void*, void*, size_t, int, ncclComm_t, CUstream);
	ncclResult_t (*Broadcast)(const void*, void*, size_t, int, int, ncclComm_t, CUstream);
} nc;

static const char* nc_load(void) {
	nc.cu = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
	if (!nc.cu) return "libcuda.so.1 not found (no NVIDIA driver)";
	nc.nccl = dlopen("libnccl.so.2", RTLD_NOW | RTLD_GLOBAL);
	if (!nc.nccl) return "libnccl.so.2 not found (install NCCL 2)";
#define CU(f, s) if (!(nc.f = dlsym(nc.cu, s))) return "libcuda.so.1 lacks " s;
#define NC(f, s) if (!(nc.f = dlsym(nc.nccl, s))) return "libnccl.so.2 lacks " s;
	CU(Init, "cuInit") CU(DeviceGetCount, "cuDeviceGetCount") CU(DeviceGet, "cuDeviceGet")
	CU(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain") CU(CtxSetCurrent, "cuCtxSetCurrent")
	CU(StreamCreate, "cuStreamCreate") CU(StreamQuery, "cuStreamQuery")
	CU(MemAlloc, "cuMemAlloc_v2") CU(MemFree, "cuMemFree_v2")
	CU(MemcpyHtoD, "cuMemcpyHtoD_v2") CU(MemcpyDtoH, "cuMemcpyDtoH_v2") CU(GetErrorString, "cuGetErrorString")
	NC(GetUniqueId, "ncclGetUniqueId") NC(CommInitRank, "ncclCommInitRank") NC(CommDestroy, "ncclCommDestroy")
	NC(CommAbort, "ncclCommAbort") NC(CommGetAsyncError, "ncclCommGetAsyncError") NC(GetErrorString2, "ncclGetErrorString")
	NC(AllReduce, "ncclAllReduce") NC(AllGather, "ncclAllGather") NC(Broadcast, "ncclBroadcast")
#undef CU
#undef NC
	return 0;
}

static CUresult nc_init(void) { return nc.Init(0); }
static CUresult nc_device_count(int *n) { return nc.DeviceGetCount(n); }
static CUresult nc_open_device(int ordinal, CUcontext *ctx, CUstream *s) {
	CUdevice d; CUresult r;
	if ((r = nc.DeviceGet(&d, ordinal))) return r;
	if ((r = nc.DevicePrimaryCtxRetain(ctx, d))) return r;
	if ((r = nc.CtxSetCurrent(*ctx))) return r;
	return nc.StreamCreate(s, 0);
}
static CUresult nc_set_current(CUcontext ctx) { return nc.CtxSetCurrent(ctx); }
static CUresult nc_stream_query(CUstream s) { return nc.StreamQuery(s); }
static CUresult nc_alloc(CUdeviceptr *p, size_t n) { return nc.MemAlloc(p, n); }
static CUresult nc_free(CUdeviceptr p) { return nc.MemFree(p); }
static CUresult nc_htod(CUdeviceptr d, const void *h, size_t n) { return nc.MemcpyHtoD(d, h, n); }
static CUresult nc_dtoh(void *h, CUdeviceptr d, size_t n) { return nc.MemcpyDtoH(h, d, n); }
static const char* nc_cu_error(CUresult r) { const char *s = 0; nc.GetErrorString(r, &s); return s ? s : "unknown CUDA error"; }
static const char* nc_error(ncclResult_t r) { return nc.GetErrorString2(r); }
static ncclResult_t nc_unique_id(void *id) { return nc.GetUniqueId((ncclUniqueId*)id); }
static ncclResult_t nc_comm_init(ncclComm_t *c, int n, const void *id, int rank) {
	ncclUniqueId u;
	const char *b = id;
	for (int i = 0; i < 128; i++) u.internal[i] = b[i];
	return nc.CommInitRank(c, n, u, rank);
}
static ncclResult_t nc_destroy(ncclComm_t c) { return nc.CommDestroy(c); }
static ncclResult_t nc_abort(ncclComm_t c) { return nc.CommAbort(c); }
static ncclResult_t nc_async_error(ncclComm_t c, ncclResult_t *e) { return nc.CommGetAsyncError(c, e); }
// ncclFloat32 = 7, ncclSum = 0
static ncclResult_t nc_allreduce(CUdeviceptr buf, size_t n, ncclComm_t c, CUstream s) {
	return nc.AllReduce((void*)buf, (void*)buf, n, 7, 0, c, s);
}
static ncclResult_t nc_allgather(CUdeviceptr src, CUdeviceptr dst, size_t n, ncclComm_t c, CUstream s) {
	return nc.AllGather((void*)src, (void*)dst, n, 7, c, s);
}
static ncclResult_t nc_broadcast(CUdeviceptr buf, size_t n, int root, ncclComm_t c, CUstream s) {
	return nc.Broadcast((void*)buf, (void*)buf, n, 7, root, c, s);
}
*/
import "C"

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

const cudaErrorNotReady = 600

type ncclComm struct {
	mu     sync.Mutex
	rank   int
	size   int
	o      Options
	ctx    C.CUcontext
	stream C.CUstream
	comm   C.ncclComm_t
	stage  C.CUdeviceptr // device staging buffer
	cap    int           // its size in bytes
	seq    int64
	closed bool
	guard
}

var ncclOpened atomic.Bool

func openNCCL(o Options) (Comm, error) {
	if !ncclOpened.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("dist: NCCL was already opened in this process")
	}
	rank, size, local, key, err := launcherEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	if msg := C.nc_load(); msg != nil {
		return nil, fmt.Errorf("dist: nccl: %s", C.GoString(msg))
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if r := C.nc_init(); r != 0 {
		return nil, fmt.Errorf("dist: nccl: cuInit: %s", C.GoString(C.nc_cu_error(r)))
	}
	var n C.int
	if r := C.nc_device_count(&n); r != 0 || n == 0 {
		return nil, fmt.Errorf("dist: nccl: no CUDA device")
	}
	c := &ncclComm{rank: rank, size: size, o: o, guard: guard{rank: rank, log: o.Log}}
	var ctx C.CUcontext
	var stream C.CUstream
	if r := C.nc_open_device(C.int(local%int(n)), &ctx, &stream); r != 0 {
		return nil, fmt.Errorf("dist: nccl: rank %d: GPU %d: %s", rank, local%int(n), C.GoString(C.nc_cu_error(r)))
	}
	c.ctx, c.stream = ctx, stream
	id, err := rendezvous(rank, size, key, o)
	if err != nil {
		return nil, err
	}
	var comm C.ncclComm_t
	if r := C.nc_comm_init(&comm, C.int(size), unsafe.Pointer(&id[0]), C.int(rank)); r != 0 {
		return nil, fmt.Errorf("dist: nccl: rank %d: ncclCommInitRank: %s", rank, C.GoString(C.nc_error(r)))
	}
	c.comm = comm
	if err := c.exchange(size, c.AllGather); err != nil {
		return nil, err
	}
	c.watch()
	return c, nil
}

// rendezvous hands rank 0's NCCL id to the others through the file
// o.Rendezvous (default $GOCOCA_NCCL_ID): "job key, newline, hex id".
func rendezvous(rank, size int, key string, o Options) ([]byte, error) {
	id := make([]byte, 128)
	if size == 1 {
		if r := C.nc_unique_id(unsafe.Pointer(&id[0])); r != 0 {
			return nil, fmt.Errorf("dist: nccl: ncclGetUniqueId: %s", C.GoString(C.nc_error(r)))
		}
		return id, nil
	}
	path := o.Rendezvous
	if path == "" {
		path = os.Getenv("GOCOCA_NCCL_ID")
	}
	if path == "" {
		return nil, fmt.Errorf("dist: nccl: %d ranks need a rendezvous file that every rank can read (set GOCOCA_NCCL_ID to a path on a shared filesystem)", size)
	}
	if rank == 0 {
		if r := C.nc_unique_id(unsafe.Pointer(&id[0])); r != 0 {
			return nil, fmt.Errorf("dist: nccl: ncclGetUniqueId: %s", C.GoString(C.nc_error(r)))
		}
		tmp := path + fmt.Sprintf(".tmp%d", os.Getpid())
		if err := os.WriteFile(tmp, []byte(key+"\n"+hex.EncodeToString(id)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("dist: nccl: rendezvous: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, fmt.Errorf("dist: nccl: rendezvous: %w", err)
		}
		return id, nil
	}
	deadline := time.Now().Add(o.Timeout)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			lines := strings.Split(string(b), "\n")
			if len(lines) >= 2 && lines[0] == key {
				if d, err := hex.DecodeString(lines[1]); err == nil && len(d) == 128 {
					return d, nil
				}
				return nil, fmt.Errorf("dist: nccl: rendezvous file %s: malformed id", path)
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("dist: nccl: rank %d: rank 0 wrote no id for this job to %s within %v", rank, filepath.Clean(path), o.Timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *ncclComm) Rank() int { return c.rank }
func (c *ncclComm) Size() int { return c.size }

// run copies in to the start of the device staging buffer (need bytes),
// enqueues op, waits for the stream, and copies the result from byte
// outOff of the staging buffer into out.
func (c *ncclComm) run(what string, in []float32, need int, op func() C.ncclResult_t, out []float32, outOff int) error {
	if err := c.err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("dist: rank %d: %s after Close", c.rank, what)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c.seq++
	what = fmt.Sprintf("collective #%d (%s)", c.seq, what)
	if r := C.nc_set_current(c.ctx); r != 0 {
		return c.fail(fmt.Errorf("dist: rank %d: %s: %s", c.rank, what, C.GoString(C.nc_cu_error(r))))
	}
	if need > c.cap {
		if c.cap > 0 {
			C.nc_free(c.stage)
		}
		c.cap = 0
		var p C.CUdeviceptr
		if r := C.nc_alloc(&p, C.size_t(need)); r != 0 {
			return c.fail(fmt.Errorf("dist: rank %d: %s: staging buffer of %d bytes: %s", c.rank, what, need, C.GoString(C.nc_cu_error(r))))
		}
		c.stage, c.cap = p, need
	}
	if len(in) > 0 {
		if r := C.nc_htod(c.stage, unsafe.Pointer(&in[0]), C.size_t(4*len(in))); r != 0 {
			return c.fail(fmt.Errorf("dist: rank %d: %s: %s", c.rank, what, C.GoString(C.nc_cu_error(r))))
		}
	}
	if r := op(); r != 0 {
		return c.fail(fmt.Errorf("dist: rank %d: %s: %s", c.rank, what, C.GoString(C.nc_error(r))))
	}
	t0 := time.Now()
	for {
		r := C.nc_stream_query(c.stream)
		if r == 0 {
			break
		}
		if r != cudaErrorNotReady {
			return c.fail(fmt.Errorf("dist: rank %d: %s: %s", c.rank, what, C.GoString(C.nc_cu_error(r))))
		}
		var async C.ncclResult_t
		if C.nc_async_error(c.comm, &async); async != 0 {
			C.nc_abort(c.comm)
			return c.fail(fmt.Errorf("dist: rank %d: %s: %s; %s", c.rank, what, C.GoString(C.nc_error(async)), c.report()))
		}
		if err := c.err(); err != nil {
			C.nc_abort(c.comm)
			return err
		}
		w := time.Since(t0)
		if w > c.o.Timeout {
			C.nc_abort(c.comm)
			return c.fail(fmt.Errorf("dist: rank %d: %s did not complete within %v; %s", c.rank, what, c.o.Timeout, c.report()))
		}
		if w < 2*time.Millisecond {
			runtime.Gosched()
		} else {
			time.Sleep(min(w/20, time.Millisecond))
		}
	}
	if len(out) > 0 {
		if r := C.nc_dtoh(unsafe.Pointer(&out[0]), c.stage+C.CUdeviceptr(outOff), C.size_t(4*len(out))); r != 0 {
			return c.fail(fmt.Errorf("dist: rank %d: %s: %s", c.rank, what, C.GoString(C.nc_cu_error(r))))
		}
	}
	return nil
}

func (c *ncclComm) AllReduceSum(buf []float32) error {
	if len(buf) == 0 {
		return c.err()
	}
	return c.run(fmt.Sprintf("all-reduce of %d values", len(buf)), buf, 4*len(buf), func() C.ncclResult_t {
		return C.nc_allreduce(c.stage, C.size_t(len(buf)), c.comm, c.stream)
	}, buf, 0)
}

func (c *ncclComm) AllGather(dst, src []float32) error {
	if err := checkGather("AllGather", dst, src, c.size); err != nil {
		return err
	}
	if len(src) == 0 {
		return c.err()
	}
	// staging: [src | dst]
	return c.run(fmt.Sprintf("all-gather of %d values", len(src)), src, 4*(len(src)+len(dst)), func() C.ncclResult_t {
		return C.nc_allgather(c.stage, c.stage+C.CUdeviceptr(4*len(src)), C.size_t(len(src)), c.comm, c.stream)
	}, dst, 4*len(src))
}

func (c *ncclComm) Broadcast(buf []float32, root int) error {
	if err := checkRoot(root, c.size); err != nil {
		return err
	}
	if len(buf) == 0 {
		return c.err()
	}
	return c.run(fmt.Sprintf("broadcast of %d values from rank %d", len(buf), root), buf, 4*len(buf), func() C.ncclResult_t {
		return C.nc_broadcast(c.stage, C.size_t(len(buf)), C.int(root), c.comm, c.stream)
	}, buf, 0)
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
	if c.err() != nil {
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	C.nc_set_current(c.ctx)
	if c.cap > 0 {
		C.nc_free(c.stage)
	}
	if r := C.nc_destroy(c.comm); r != 0 {
		return fmt.Errorf("dist: rank %d: ncclCommDestroy: %s", c.rank, C.GoString(C.nc_error(r)))
	}
	return nil
}
