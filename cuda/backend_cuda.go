//go:build cuda && cgo

package cuda

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"github.com/gococa/gococa/tensor"
)

// device is one GPU opened by this process: its primary context, one
// stream, the compiled kernels, a cuBLAS handle and the caching allocator.
// Every Backend of that GPU shares it; mu serialises their calls.
type device struct {
	mu        sync.Mutex
	ordinal   int
	dev       int32
	name      string
	cc        int // compute capability, 10·major + minor
	driver    int // CUDA version the driver supports, 1000·major + 10·minor
	memory    int64
	arch      string
	sms       int
	maxShared int // dynamic shared memory a block may opt in to
	ctx       unsafe.Pointer
	stream    unsafe.Pointer
	blas      unsafe.Pointer
	mod       unsafe.Pointer
	fn        map[string]*kernel
	alloc     allocator
	call      call
	args      argBuf
	keys      []uint64 // ScatterAdd scratch
	idx       []int32
	async     bool // device memory: calls return without waiting for their kernels
}

type kernel struct {
	f      unsafe.Pointer
	shared int // dynamic shared memory opted in to
}

var devices struct {
	sync.Mutex
	m map[int]*device
}

// Probe reports why no CUDA device can be used (nil when one can): the
// driver library is missing, cuInit fails, or there is no GPU. It does not
// compile the kernels.
func Probe() error {
	if err := loadDriver(); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	if err := cuInit(); err != nil {
		return fmt.Errorf("cuda: no usable NVIDIA GPU: %w", err)
	}
	n, err := cuDeviceCount()
	if err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	if n == 0 {
		return errors.New("cuda: no CUDA device found")
	}
	return nil
}

// Available reports whether a CUDA device can be used.
func Available() bool { return Probe() == nil }

// openDevice returns the process's device of the given ordinal, opening it
// (and compiling the kernels) on first use. A GPU holds its tensors in one
// kind of memory for the life of the process.
func openDevice(ordinal int, managed bool, limit int64) (*device, error) {
	devices.Lock()
	defer devices.Unlock()
	if d, ok := devices.m[ordinal]; ok {
		if d.alloc.managed != managed {
			return nil, fmt.Errorf("cuda: GPU %d was opened with %s memory in this process; it cannot also use %s memory",
				ordinal, memoryName(d.alloc.managed), memoryName(managed))
		}
		return d, nil
	}
	if err := Probe(); err != nil {
		return nil, err
	}
	d, err := initDevice(ordinal, managed, limit)
	if err != nil {
		return nil, fmt.Errorf("cuda: GPU %d: %w", ordinal, err)
	}
	if devices.m == nil {
		devices.m = map[int]*device{}
	}
	devices.m[ordinal] = d
	return d, nil
}

func memoryName(managed bool) string {
	if managed {
		return "managed"
	}
	return "device"
}

func initDevice(ordinal int, managed bool, limit int64) (*device, error) {
	n, _ := cuDeviceCount()
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("no such device (%d present)", n)
	}
	d := &device{ordinal: ordinal, fn: map[string]*kernel{}, async: !managed}
	d.alloc.free = map[int][]uint64{}
	d.alloc.managed = managed
	d.alloc.device = fmt.Sprintf("cuda:%d", ordinal)
	d.alloc.idle = func() error { return cuStreamSync(d.stream) }
	var err error
	if d.dev, err = cuDeviceGet(ordinal); err != nil {
		return nil, err
	}
	d.name = cuDeviceName(d.dev)
	if d.driver, err = cuDriverVersion(); err != nil {
		return nil, err
	}
	driverMajor = d.driver / 1000
	if d.memory, err = cuDeviceTotalMem(d.dev); err != nil {
		return nil, err
	}
	attr := func(a int) int {
		v, e := cuDeviceAttr(d.dev, a)
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	major, minor := attr(attrComputeMajor), attr(attrComputeMinor)
	managedAttr, concurrent := attr(attrManagedMemory), attr(attrConcurrentManaged)
	d.sms = max(attr(attrMultiprocessorCount), 1)
	d.maxShared = max(attr(attrMaxSharedPerBlockOptin), attr(attrMaxSharedPerBlock))
	if err != nil {
		return nil, err
	}
	d.cc = 10*major + minor
	d.alloc.limit = d.memory
	if limit > 0 {
		d.alloc.limit = limit
	}
	if managed && (managedAttr == 0 || concurrent == 0) {
		return nil, fmt.Errorf("%s (sm_%d) cannot use managed memory concurrently with the CPU "+
			"(CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS is 0: managed memory needs Linux and a Pascal or newer GPU; "+
			"Options.Memory \"device\" does not)", d.name, d.cc)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if d.ctx, err = cuPrimaryCtxRetain(d.dev); err != nil {
		return nil, err
	}
	if err = cuCtxSetCurrent(d.ctx); err != nil {
		return nil, err
	}
	if d.stream, err = cuStreamCreate(); err != nil {
		return nil, err
	}
	if err = d.loadKernels(); err != nil {
		return nil, err
	}
	if err = loadCublas(); err != nil {
		return nil, err
	}
	if d.blas, err = cublasCreate(); err != nil {
		return nil, err
	}
	if err = cublasSetStream(d.blas, d.stream); err != nil {
		return nil, err
	}
	if err = cublasSetMathMode(d.blas, cublasDefaultMath); err != nil {
		return nil, err
	}
	return d, nil
}

// loadKernels compiles the kernel source for this GPU: a CUBIN when NVRTC
// knows its architecture, else PTX for the newest architecture NVRTC
// knows below it (the driver compiles that for the GPU).
func (d *device) loadKernels() error {
	if err := loadNVRTC(); err != nil {
		return err
	}
	arch := d.cc
	if archs := nvrtcArchs(); archs != nil {
		arch = 0
		for _, a := range archs {
			if a <= d.cc && a > arch {
				arch = a
			}
		}
		if arch == 0 {
			ma, mi, _ := nvrtcVersion()
			return fmt.Errorf("NVRTC %d.%d compiles for none of the architectures up to sm_%d", ma, mi, d.cc)
		}
	}
	var errs []error
	if arch == d.cc && canCUBIN() {
		d.arch = fmt.Sprintf("sm_%d", arch)
		img, _, err := compile(kernelSource, d.arch, true)
		if err == nil {
			if d.mod, err = cuModuleLoad(img); err == nil {
				return d.lookupKernels()
			}
		}
		errs = append(errs, err)
	}
	d.arch = fmt.Sprintf("compute_%d", arch)
	img, _, err := compile(kernelSource, d.arch, false)
	if err == nil {
		if d.mod, err = cuModuleLoad(img); err == nil {
			return d.lookupKernels()
		}
		if ce := (cuError{}); errors.As(err, &ce) && ce.code == 222 { // CUDA_ERROR_UNSUPPORTED_PTX_VERSION
			err = fmt.Errorf("%w (the NVRTC library is newer than the driver: update the driver or point GOCOCA_LIBNVRTC at an older libnvrtc)", err)
		}
	}
	return errors.Join(append(errs, err)...)
}

func (d *device) lookupKernels() error {
	for _, name := range kernelNames {
		f, err := cuModuleFunction(d.mod, name)
		if err != nil {
			return err
		}
		d.fn[name] = &kernel{f: f}
	}
	return nil
}

// Backend runs the tensor kernel set on one GPU. Its buffers (it
// implements tensor.Allocator) live in CUDA managed memory or in device
// memory (Options.Memory): kernels use such slices in place, and any other
// slice is copied to the device (and back, when written) around the call.
//
// With managed memory every method waits for its work to finish before it
// returns, so the host may read the results at once; that costs a
// synchronisation per call. With device memory the methods only queue
// their work on the GPU's stream and return; the host waits only where it
// reads a value (Sum, SumSquares, CrossEntropy, CopyToHost, a result
// written into Go memory).
type Backend struct {
	d       *device
	math    string
	compute int // cublasComputeType_t of the GEMMs
}

var _ interface {
	tensor.Backend
	tensor.Allocator
	tensor.StridedAttention
	tensor.MapBackwardStorer
	tensor.CrossEntropyBackwardStorer
} = (*Backend)(nil)

// New opens GPU o.Device (compiling the kernels on the first call for that
// GPU in the process) and returns its backend; select it with
// tensor.SetBackend before building the model, so that parameters and
// activations are allocated in its memory.
func New(o Options) (tensor.Backend, error) {
	mem := o.Memory
	if mem == "" {
		mem = os.Getenv("GOCOCA_CUDA_MEMORY")
	}
	managed := false
	switch mem {
	case "", "device":
	case "managed":
		managed = true
	default:
		return nil, fmt.Errorf("cuda: memory %q: want managed or device", mem)
	}
	if o.MemoryLimit < 0 {
		return nil, fmt.Errorf("cuda: memory limit %d bytes: want 0 (the GPU's memory) or more", o.MemoryLimit)
	}
	m := o.Math
	if m == "" {
		m = os.Getenv("GOCOCA_CUDA_MATH")
	}
	compute := 0
	switch m {
	case "", "fp32":
		m, compute = "fp32", cublasComputeF32
	case "tf32":
		compute = cublasComputeF32TF32
	case "bf16":
		compute = cublasComputeF32FastBF
	default:
		return nil, fmt.Errorf("cuda: GEMM precision %q: want fp32, tf32 or bf16", m)
	}
	ordinal := o.Device
	if ordinal == AutoDevice {
		var err error
		if ordinal, err = LauncherDevice(); err != nil {
			return nil, err
		}
	} else if ordinal < 0 {
		return nil, fmt.Errorf("cuda: device %d: want a GPU number or AutoDevice", ordinal)
	}
	d, err := openDevice(ordinal, managed, o.MemoryLimit)
	if err != nil {
		return nil, err
	}
	return &Backend{d: d, math: m, compute: compute}, nil
}

// Name returns "cuda".
func (b *Backend) Name() string { return "cuda" }

// String describes the GPU and the settings.
func (b *Backend) String() string {
	return fmt.Sprintf("cuda:%d %s (sm_%d, %.0f GiB, driver for CUDA %d.%d, kernels for %s, %s GEMMs, %s memory)", b.d.ordinal, b.d.name,
		b.d.cc, float64(b.d.memory)/(1<<30), b.d.driver/1000, b.d.driver%1000/10, b.d.arch, b.math, memoryName(b.d.alloc.managed))
}

// Device returns the GPU's ordinal (N of cuda:N).
func (b *Backend) Device() int { return b.d.ordinal }

// Alloc returns n zeroed values of the backend's memory (tensor.Allocator).
// Out of GPU memory it panics with a message naming the GPU and the bytes
// in use.
func (b *Backend) Alloc(n int) []float32 {
	if n <= 0 {
		return []float32{}
	}
	c := b.d.begin("Alloc")
	defer c.end()
	p, err := b.d.alloc.get(4 * n)
	c.check(err)
	c.check(cuMemsetD32(p, 0, n, b.d.stream))
	return floats(p, n)
}

// Free hands a buffer from Alloc back to the cache (tensor.Allocator).
func (b *Backend) Free(x []float32) {
	if cap(x) == 0 {
		return
	}
	b.d.alloc.put(sliceAddr(x), 4*cap(x))
}

// Owns reports whether x lies in the memory of this GPU's allocator
// (tensor.Allocator).
func (b *Backend) Owns(x []float32) bool {
	return cap(x) > 0 && b.d.alloc.find(sliceAddr(x), max(4*len(x), 1))
}

// ---- one backend call ----

// call is the state of one Backend method: the device is locked and its
// context current on this thread; host slices staged to device memory
// are copied back by end.
type call struct {
	d      *device
	op     string
	stages []stage
	temps  []temp
	nosync bool // end does not wait for the stream (Enqueue, Done)
}

type stage struct {
	host  unsafe.Pointer
	bytes int
	dev   uint64
	out   bool
}

type temp struct {
	p uint64
	n int
}

// begin starts a call; the method must defer c.end().
func (d *device) begin(op string) *call {
	d.mu.Lock()
	runtime.LockOSThread()
	if err := cuCtxSetCurrent(d.ctx); err != nil {
		runtime.UnlockOSThread()
		d.mu.Unlock()
		panic(fmt.Sprintf("cuda: %s: %v", op, err))
	}
	c := &d.call
	c.d, c.op, c.nosync = d, op, false
	c.stages, c.temps = c.stages[:0], c.temps[:0]
	return c
}

// end copies staged outputs back, waits for the stream (unless the device
// works asynchronously and nothing was copied back), and releases the
// call's temporary device memory and the device. Temporaries go back to
// the allocator at once: whatever reuses them is queued after this call's
// kernels on the same stream.
func (c *call) end() {
	d := c.d
	if r := recover(); r != nil {
		c.release()
		runtime.UnlockOSThread()
		d.mu.Unlock()
		panic(r)
	}
	var err error
	for _, s := range c.stages {
		if s.out && err == nil {
			err = cuMemcpyDtoH(s.host, s.dev, s.bytes, d.stream) // into Go memory: returns when done
		}
	}
	if err == nil && !d.async && !c.nosync {
		err = cuStreamSync(d.stream)
	}
	if err == nil {
		c.release()
	}
	op := c.op
	runtime.UnlockOSThread()
	d.mu.Unlock()
	if err != nil {
		panic(fmt.Sprintf("cuda: %s: %v", op, err))
	}
}

func (c *call) release() {
	for _, t := range c.temps {
		c.d.alloc.put(t.p, t.n)
	}
	c.temps = c.temps[:0]
	clear(c.stages) // drop the host pointers
	c.stages = c.stages[:0]
}

// check panics with the call's name on a CUDA error.
func (c *call) check(err error) {
	if err != nil {
		panic(fmt.Sprintf("cuda: %s: %v", c.op, err))
	}
}

// scratch returns n bytes of device memory for this call.
func (c *call) scratch(n int) uint64 {
	p, err := c.d.alloc.get(n)
	c.check(err)
	c.temps = append(c.temps, temp{p, n})
	return p
}

// stage returns the device address of the host bytes at p: p itself when
// it lies in managed memory, else a device copy (made at most once per
// call for the same bytes; copied in unless writeOnly, and back by end
// when out).
func (c *call) stage(p unsafe.Pointer, bytes int, out, writeOnly bool) uint64 {
	if bytes == 0 {
		return 0
	}
	addr := uint64(uintptr(p))
	if c.d.alloc.find(addr, bytes) {
		return addr
	}
	for i := range c.stages {
		if s := &c.stages[i]; s.host == p && s.bytes == bytes {
			s.out = s.out || out
			return s.dev
		}
	}
	dev := c.scratch(bytes)
	if !writeOnly {
		c.check(cuMemcpyHtoD(dev, p, bytes, c.d.stream))
	}
	c.stages = append(c.stages, stage{host: p, bytes: bytes, dev: dev, out: out})
	return dev
}

func fptr(x []float32) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(x)) }

// in: x is read. inout: x is read and written. out: every element of x is
// written. ints: x is read.
func (c *call) in(x []float32) uint64    { return c.stage(fptr(x), 4*len(x), false, false) }
func (c *call) inout(x []float32) uint64 { return c.stage(fptr(x), 4*len(x), true, false) }
func (c *call) out(x []float32) uint64   { return c.stage(fptr(x), 4*len(x), true, true) }
func (c *call) ints(x []int32) uint64 {
	return c.stage(unsafe.Pointer(unsafe.SliceData(x)), 4*len(x), false, false)
}

// ---- kernel launches ----

// argBuf holds one launch's parameter values at their natural alignment.
type argBuf struct {
	buf  [2048]byte
	offs [64]int32
	n    int
	size int
}

func (c *call) args() *argBuf {
	a := &c.d.args
	a.n, a.size = 0, 0
	return a
}

func (a *argBuf) slot(size, align int) []byte {
	a.size = (a.size + align - 1) / align * align
	a.offs[a.n] = int32(a.size)
	a.n++
	b := a.buf[a.size : a.size+size]
	a.size += size
	return b
}

func (a *argBuf) ptr(p uint64) *argBuf { binary.LittleEndian.PutUint64(a.slot(8, 8), p); return a }
func (a *argBuf) i64(v int64) *argBuf {
	binary.LittleEndian.PutUint64(a.slot(8, 8), uint64(v))
	return a
}
func (a *argBuf) i32(v int) *argBuf {
	binary.LittleEndian.PutUint32(a.slot(4, 4), uint32(int32(v)))
	return a
}
func (a *argBuf) f64(v float64) *argBuf {
	binary.LittleEndian.PutUint64(a.slot(8, 8), math.Float64bits(v))
	return a
}
func (a *argBuf) f32(v float32) *argBuf {
	binary.LittleEndian.PutUint32(a.slot(4, 4), math.Float32bits(v))
	return a
}
func (a *argBuf) flag(v bool) *argBuf {
	if v {
		return a.i32(1)
	}
	return a.i32(0)
}

// dims appends a Dims struct (see kernelSource): rank, small, then shape
// and three stride arrays of maxDims int64 each.
func (a *argBuf) dims(w *walk) *argBuf {
	b := a.slot(8+4*8*maxDims, 8)
	binary.LittleEndian.PutUint32(b[0:], uint32(len(w.shape)))
	small := uint32(0)
	if w.numel() < 1<<32 {
		small = 1
	}
	binary.LittleEndian.PutUint32(b[4:], small)
	for i := range maxDims {
		var sh int64 = 1
		var s [3]int64
		if i < len(w.shape) {
			sh = w.shape[i]
			s = [3]int64{w.st[0][i], w.st[1][i], w.st[2][i]}
		}
		binary.LittleEndian.PutUint64(b[8+8*i:], uint64(sh))
		for k := range 3 {
			binary.LittleEndian.PutUint64(b[8+8*maxDims*(k+1)+8*i:], uint64(s[k]))
		}
	}
	return a
}

func dim3(x, y int) [3]uint32 { return [3]uint32{uint32(x), uint32(y), 1} }

// launch runs kernel name with the parameters appended since args().
func (c *call) launch(name string, grid, block [3]uint32, shared int) {
	k := c.d.fn[name]
	if k == nil {
		panic("cuda: no kernel " + name)
	}
	if grid[0] == 0 || grid[1] == 0 || grid[2] == 0 {
		return
	}
	if shared > 48<<10 && shared > k.shared {
		if shared > c.d.maxShared {
			panic(fmt.Sprintf("cuda: %s: %s needs %d bytes of shared memory, the GPU allows %d", c.op, name, shared, c.d.maxShared))
		}
		c.check(cuFuncSetMaxShared(k.f, shared))
		k.shared = shared
	}
	a := &c.d.args
	c.check(cuLaunch(k.f, grid, block, shared, c.d.stream, a.buf[:a.size], a.offs[:a.n]))
}

// elems is the grid of an elementwise (grid-stride) kernel over n values.
func (c *call) elems(n int64) [3]uint32 {
	blocks := min((n+255)/256, int64(c.d.sms)*32)
	return dim3(int(max(blocks, 1)), 1)
}

var block256 = dim3(256, 1)

// rowThreads is the block size of a row kernel for rows of n values.
func rowThreads(n int) [3]uint32 {
	t := 32
	for t < 256 && t < n {
		t *= 2
	}
	return dim3(t, 1)
}
