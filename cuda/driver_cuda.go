//go:build cuda && cgo

package cuda

// The CUDA driver, NVRTC and cuBLAS are loaded at run time with dlopen, so
// that building needs no CUDA headers or libraries: the few types and
// enum values used are declared below, as the CUDA 11/12 headers define
// them (the symbol names are the ABI's, with the _v2 suffixes the headers'
// macros add).

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef void* CUcontext;
typedef void* CUmodule;
typedef void* CUfunction;
typedef void* CUstream;
typedef int nvrtcResult;
typedef void* nvrtcProgram;
typedef int cublasStatus;
typedef void* cublasHandle;

static struct {
	void* lib;
	CUresult (*Init)(unsigned);
	CUresult (*DriverGetVersion)(int*);
	CUresult (*DeviceGetCount)(int*);
	CUresult (*DeviceGet)(CUdevice*, int);
	CUresult (*DeviceGetName)(char*, int, CUdevice);
	CUresult (*DeviceGetAttribute)(int*, int, CUdevice);
	CUresult (*DeviceTotalMem)(size_t*, CUdevice);
	CUresult (*DevicePrimaryCtxRetain)(CUcontext*, CUdevice);
	CUresult (*CtxSetCurrent)(CUcontext);
	CUresult (*StreamCreate)(CUstream*, unsigned);
	CUresult (*StreamSynchronize)(CUstream);
	CUresult (*StreamQuery)(CUstream);
	CUresult (*MemAllocManaged)(CUdeviceptr*, size_t, unsigned);
	CUresult (*MemAlloc)(CUdeviceptr*, size_t);
	CUresult (*MemFree)(CUdeviceptr);
	CUresult (*MemAllocHost)(void**, size_t);
	CUresult (*MemFreeHost)(void*);
	CUresult (*MemGetInfo)(size_t*, size_t*);
	CUresult (*MemcpyHtoDAsync)(CUdeviceptr, const void*, size_t, CUstream);
	CUresult (*MemcpyDtoHAsync)(void*, CUdeviceptr, size_t, CUstream);
	CUresult (*MemcpyDtoDAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
	CUresult (*MemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
	CUresult (*ModuleLoadData)(CUmodule*, const void*);
	CUresult (*ModuleGetFunction)(CUfunction*, CUmodule, const char*);
	CUresult (*FuncSetAttribute)(CUfunction, int, int);
	CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
		unsigned, CUstream, void**, void**);
	CUresult (*GetErrorString)(CUresult, const char**);
	CUresult (*GetErrorName)(CUresult, const char**);
} drv;

static struct {
	void* lib;
	nvrtcResult (*Version)(int*, int*);
	nvrtcResult (*GetNumSupportedArchs)(int*);
	nvrtcResult (*GetSupportedArchs)(int*);
	nvrtcResult (*CreateProgram)(nvrtcProgram*, const char*, const char*, int, const char* const*, const char* const*);
	nvrtcResult (*CompileProgram)(nvrtcProgram, int, const char* const*);
	nvrtcResult (*GetPTXSize)(nvrtcProgram, size_t*);
	nvrtcResult (*GetPTX)(nvrtcProgram, char*);
	nvrtcResult (*GetCUBINSize)(nvrtcProgram, size_t*);
	nvrtcResult (*GetCUBIN)(nvrtcProgram, char*);
	nvrtcResult (*GetProgramLogSize)(nvrtcProgram, size_t*);
	nvrtcResult (*GetProgramLog)(nvrtcProgram, char*);
	nvrtcResult (*DestroyProgram)(nvrtcProgram*);
	const char* (*GetErrorString)(nvrtcResult);
} rtc;

static struct {
	void* lib;
	cublasStatus (*Create)(cublasHandle*);
	cublasStatus (*SetStream)(cublasHandle, CUstream);
	cublasStatus (*SetMathMode)(cublasHandle, int);
	cublasStatus (*GemmStridedBatchedEx)(cublasHandle, int, int, int, int, int,
		const void*, const void*, int, int, long long,
		const void*, int, int, long long,
		const void*, void*, int, int, long long,
		int, int, int);
} blas;

// gococa_open tries each of the '\n'-separated names; on failure it writes
// the last dlerror into err.
static void* gococa_open(const char* names, char* err, int errlen) {
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", names);
	char* save = NULL;
	for (char* name = strtok_r(buf, "\n", &save); name != NULL; name = strtok_r(NULL, "\n", &save)) {
		void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
		if (h != NULL) {
			return h;
		}
		const char* e = dlerror();
		snprintf(err, errlen, "%s", e ? e : name);
	}
	return NULL;
}

#define GOCOCA_SYM(tbl, field, name) do { \
	*(void**)(&tbl.field) = dlsym(tbl.lib, name); \
	if (tbl.field == NULL) { snprintf(err, errlen, "symbol %s not found", name); return -1; } \
} while (0)

static int gococa_load_driver(const char* names, char* err, int errlen) {
	if (drv.lib != NULL) return 0;
	void* lib = gococa_open(names, err, errlen);
	if (lib == NULL) return -1;
	drv.lib = lib;
	GOCOCA_SYM(drv, Init, "cuInit");
	GOCOCA_SYM(drv, DriverGetVersion, "cuDriverGetVersion");
	GOCOCA_SYM(drv, DeviceGetCount, "cuDeviceGetCount");
	GOCOCA_SYM(drv, DeviceGet, "cuDeviceGet");
	GOCOCA_SYM(drv, DeviceGetName, "cuDeviceGetName");
	GOCOCA_SYM(drv, DeviceGetAttribute, "cuDeviceGetAttribute");
	GOCOCA_SYM(drv, DeviceTotalMem, "cuDeviceTotalMem_v2");
	GOCOCA_SYM(drv, DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
	GOCOCA_SYM(drv, CtxSetCurrent, "cuCtxSetCurrent");
	GOCOCA_SYM(drv, StreamCreate, "cuStreamCreate");
	GOCOCA_SYM(drv, StreamSynchronize, "cuStreamSynchronize");
	GOCOCA_SYM(drv, StreamQuery, "cuStreamQuery");
	GOCOCA_SYM(drv, MemAllocManaged, "cuMemAllocManaged");
	GOCOCA_SYM(drv, MemAlloc, "cuMemAlloc_v2");
	GOCOCA_SYM(drv, MemFree, "cuMemFree_v2");
	GOCOCA_SYM(drv, MemAllocHost, "cuMemAllocHost_v2");
	GOCOCA_SYM(drv, MemFreeHost, "cuMemFreeHost");
	GOCOCA_SYM(drv, MemGetInfo, "cuMemGetInfo_v2");
	GOCOCA_SYM(drv, MemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
	GOCOCA_SYM(drv, MemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2");
	GOCOCA_SYM(drv, MemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2");
	GOCOCA_SYM(drv, MemsetD32Async, "cuMemsetD32Async");
	GOCOCA_SYM(drv, ModuleLoadData, "cuModuleLoadData");
	GOCOCA_SYM(drv, ModuleGetFunction, "cuModuleGetFunction");
	GOCOCA_SYM(drv, FuncSetAttribute, "cuFuncSetAttribute");
	GOCOCA_SYM(drv, LaunchKernel, "cuLaunchKernel");
	GOCOCA_SYM(drv, GetErrorString, "cuGetErrorString");
	GOCOCA_SYM(drv, GetErrorName, "cuGetErrorName");
	return 0;
}

static int gococa_load_nvrtc(const char* names, char* err, int errlen) {
	if (rtc.lib != NULL) return 0;
	void* lib = gococa_open(names, err, errlen);
	if (lib == NULL) return -1;
	rtc.lib = lib;
	GOCOCA_SYM(rtc, Version, "nvrtcVersion");
	GOCOCA_SYM(rtc, CreateProgram, "nvrtcCreateProgram");
	GOCOCA_SYM(rtc, CompileProgram, "nvrtcCompileProgram");
	GOCOCA_SYM(rtc, GetPTXSize, "nvrtcGetPTXSize");
	GOCOCA_SYM(rtc, GetPTX, "nvrtcGetPTX");
	GOCOCA_SYM(rtc, GetProgramLogSize, "nvrtcGetProgramLogSize");
	GOCOCA_SYM(rtc, GetProgramLog, "nvrtcGetProgramLog");
	GOCOCA_SYM(rtc, DestroyProgram, "nvrtcDestroyProgram");
	GOCOCA_SYM(rtc, GetErrorString, "nvrtcGetErrorString");
	// optional (NVRTC 11.1, 11.2)
	*(void**)(&rtc.GetCUBINSize) = dlsym(rtc.lib, "nvrtcGetCUBINSize");
	*(void**)(&rtc.GetCUBIN) = dlsym(rtc.lib, "nvrtcGetCUBIN");
	*(void**)(&rtc.GetNumSupportedArchs) = dlsym(rtc.lib, "nvrtcGetNumSupportedArchs");
	*(void**)(&rtc.GetSupportedArchs) = dlsym(rtc.lib, "nvrtcGetSupportedArchs");
	return 0;
}

static int gococa_load_cublas(const char* names, char* err, int errlen) {
	if (blas.lib != NULL) return 0;
	void* lib = gococa_open(names, err, errlen);
	if (lib == NULL) return -1;
	blas.lib = lib;
	GOCOCA_SYM(blas, Create, "cublasCreate_v2");
	GOCOCA_SYM(blas, SetStream, "cublasSetStream_v2");
	GOCOCA_SYM(blas, SetMathMode, "cublasSetMathMode");
	GOCOCA_SYM(blas, GemmStridedBatchedEx, "cublasGemmStridedBatchedEx");
	return 0;
}

// Thin wrappers: Go cannot call through C function pointers.

static CUresult gococa_cuInit(void) { return drv.Init(0); }
static CUresult gococa_cuDriverGetVersion(int* v) { return drv.DriverGetVersion(v); }
static CUresult gococa_cuDeviceGetCount(int* n) { return drv.DeviceGetCount(n); }
static CUresult gococa_cuDeviceGet(CUdevice* d, int ordinal) { return drv.DeviceGet(d, ordinal); }
static CUresult gococa_cuDeviceGetName(char* name, int len, CUdevice d) { return drv.DeviceGetName(name, len, d); }
static CUresult gococa_cuDeviceGetAttribute(int* v, int attr, CUdevice d) { return drv.DeviceGetAttribute(v, attr, d); }
static CUresult gococa_cuDeviceTotalMem(size_t* b, CUdevice d) { return drv.DeviceTotalMem(b, d); }
static CUresult gococa_cuDevicePrimaryCtxRetain(CUcontext* c, CUdevice d) { return drv.DevicePrimaryCtxRetain(c, d); }
static CUresult gococa_cuCtxSetCurrent(CUcontext c) { return drv.CtxSetCurrent(c); }
static CUresult gococa_cuStreamCreate(CUstream* s) { return drv.StreamCreate(s, 0); }
static CUresult gococa_cuStreamSynchronize(CUstream s) { return drv.StreamSynchronize(s); }
static CUresult gococa_cuStreamQuery(CUstream s) { return drv.StreamQuery(s); }
static CUresult gococa_cuMemAllocManaged(CUdeviceptr* p, size_t bytes) {
	return drv.MemAllocManaged(p, bytes, 1); // CU_MEM_ATTACH_GLOBAL
}
static CUresult gococa_cuMemAlloc(CUdeviceptr* p, size_t bytes) { return drv.MemAlloc(p, bytes); }
static CUresult gococa_cuMemFree(CUdeviceptr p) { return drv.MemFree(p); }
static CUresult gococa_cuMemAllocHost(void** p, size_t bytes) { return drv.MemAllocHost(p, bytes); }
static CUresult gococa_cuMemFreeHost(void* p) { return drv.MemFreeHost(p); }
static CUresult gococa_cuMemGetInfo(size_t* free, size_t* total) { return drv.MemGetInfo(free, total); }
static CUresult gococa_cuMemcpyDtoDAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream s) {
	return drv.MemcpyDtoDAsync(dst, src, bytes, s);
}
static CUresult gococa_cuMemcpyHtoDAsync(CUdeviceptr dst, const void* src, size_t bytes, CUstream s) {
	return drv.MemcpyHtoDAsync(dst, src, bytes, s);
}
static CUresult gococa_cuMemcpyDtoHAsync(void* dst, CUdeviceptr src, size_t bytes, CUstream s) {
	return drv.MemcpyDtoHAsync(dst, src, bytes, s);
}
static CUresult gococa_cuMemsetD32Async(CUdeviceptr p, unsigned v, size_t n, CUstream s) {
	return drv.MemsetD32Async(p, v, n, s);
}
static CUresult gococa_cuModuleLoadData(CUmodule* m, const void* image) { return drv.ModuleLoadData(m, image); }
static CUresult gococa_cuModuleGetFunction(CUfunction* f, CUmodule m, const char* name) {
	return drv.ModuleGetFunction(f, m, name);
}
static CUresult gococa_cuFuncSetAttribute(CUfunction f, int attr, int v) { return drv.FuncSetAttribute(f, attr, v); }

// gococa_launch launches f with nargs parameters whose values lie at the
// given byte offsets of argbuf (the driver copies them during the call).
static CUresult gococa_launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz,
		unsigned bx, unsigned by, unsigned bz, unsigned shmem, CUstream s,
		void* argbuf, const int* offs, int nargs) {
	void* params[64];
	if (nargs > 64) return 1; // CUDA_ERROR_INVALID_VALUE
	for (int i = 0; i < nargs; i++) params[i] = (char*)argbuf + offs[i];
	return drv.LaunchKernel(f, gx, gy, gz, bx, by, bz, shmem, s, params, NULL);
}

static const char* gococa_cuErrorName(CUresult r) {
	const char* s = NULL;
	if (drv.GetErrorName == NULL || drv.GetErrorName(r, &s) != 0 || s == NULL) return "CUDA_ERROR_UNKNOWN";
	return s;
}
static const char* gococa_cuErrorString(CUresult r) {
	const char* s = NULL;
	if (drv.GetErrorString == NULL || drv.GetErrorString(r, &s) != 0 || s == NULL) return "unknown error";
	return s;
}

static void* gococa_ptr(CUdeviceptr p) { return (void*)(uintptr_t)p; }

// The CPU emulator's extra entry points (testdata/emulator/memory.h), found
// only in that library: its counters, the code that touched device memory
// from the host, and its device capacity.
static void* gococa_emu_sym(const char* name) { return drv.lib ? dlsym(drv.lib, name) : NULL; }
static int gococa_emu_stats(void* f, long long* out) {
	if (f == NULL) return -1;
	((void (*)(long long*))f)(out);
	return 0;
}
static int gococa_emu_sites(void* f, uintptr_t* out, int max) { return ((int (*)(uintptr_t*, int))f)(out, max); }
static int gococa_emu_depth(void* f) { return ((int (*)(void))f)(); }
static void gococa_emu_reset(void* f) { ((void (*)(void))f)(); }
static size_t gococa_emu_capacity(void* f, int dev, size_t bytes) { return ((size_t (*)(int, size_t))f)(dev, bytes); }
static int gococa_emu_flag(void* f, int on) { return ((int (*)(int))f)(on); }

// NVRTC: compile src for arch ("compute_80": PTX; "sm_90": a CUBIN when
// cubin is set). The output (len bytes; PTX NUL-terminated) and the log are
// malloc'd for the caller to free. Returns the nvrtcResult of the first
// failing call (7, NVRTC_ERROR_INVALID_INPUT, when CUBIN output is not
// available).
static int gococa_has_cubin(void) { return rtc.GetCUBINSize != NULL && rtc.GetCUBIN != NULL; }
static nvrtcResult gococa_nvrtc_compile(const char* src, const char* arch, int cubin, char** out, size_t* len, char** log) {
	*out = NULL;
	*len = 0;
	*log = NULL;
	if (cubin && !gococa_has_cubin()) return 7;
	nvrtcProgram prog = NULL;
	nvrtcResult r = rtc.CreateProgram(&prog, src, "gococa_kernels.cu", 0, NULL, NULL);
	if (r != 0) return r;
	char archOpt[64];
	snprintf(archOpt, sizeof archOpt, "--gpu-architecture=%s", arch);
	const char* opts[] = {archOpt, "--std=c++14", "-default-device"};
	nvrtcResult cr = rtc.CompileProgram(prog, 3, opts);
	size_t n = 0;
	if (rtc.GetProgramLogSize(prog, &n) == 0 && n > 0) {
		*log = (char*)malloc(n + 1);
		if (*log != NULL && rtc.GetProgramLog(prog, *log) == 0) (*log)[n] = 0;
	}
	if (cr == 0) {
		r = cubin ? rtc.GetCUBINSize(prog, &n) : rtc.GetPTXSize(prog, &n);
		if (r == 0) {
			*out = (char*)malloc(n + 1);
			if (*out == NULL) {
				r = 2; // NVRTC_ERROR_OUT_OF_MEMORY
			} else {
				r = cubin ? rtc.GetCUBIN(prog, *out) : rtc.GetPTX(prog, *out);
				(*out)[n] = 0;
				*len = n;
			}
		}
		cr = r;
	}
	rtc.DestroyProgram(&prog);
	return cr;
}
static const char* gococa_nvrtc_error(nvrtcResult r) { return rtc.GetErrorString(r); }
static nvrtcResult gococa_nvrtc_version(int* major, int* minor) { return rtc.Version(major, minor); }
// gococa_nvrtc_archs writes up to max supported architectures (e.g. 90 for
// sm_90) and returns their number, or -1 when NVRTC cannot say.
static int gococa_nvrtc_archs(int* out, int max) {
	int n = 0;
	if (rtc.GetNumSupportedArchs == NULL || rtc.GetSupportedArchs == NULL) return -1;
	if (rtc.GetNumSupportedArchs(&n) != 0 || n <= 0) return -1;
	int* all = (int*)malloc(sizeof(int) * n);
	if (all == NULL || rtc.GetSupportedArchs(all) != 0) { free(all); return -1; }
	int k = n < max ? n : max;
	memcpy(out, all, sizeof(int) * k);
	free(all);
	return k;
}

static cublasStatus gococa_cublasCreate(cublasHandle* h) { return blas.Create(h); }
static cublasStatus gococa_cublasSetStream(cublasHandle h, CUstream s) { return blas.SetStream(h, s); }
static cublasStatus gococa_cublasSetMathMode(cublasHandle h, int mode) { return blas.SetMathMode(h, mode); }

// gococa_gemm runs a column-major strided-batched GEMM on float32 operands
// with the given cublasComputeType_t (CUBLAS_GEMM_DEFAULT algorithm).
static cublasStatus gococa_gemm(cublasHandle h, int ta, int tb, int m, int n, int k, float alpha,
		CUdeviceptr A, int lda, long long sA, CUdeviceptr B, int ldb, long long sB,
		float beta, CUdeviceptr C, int ldc, long long sC, int batch, int compute) {
	const int R32F = 0; // CUDA_R_32F
	return blas.GemmStridedBatchedEx(h, ta, tb, m, n, k, &alpha,
		(const void*)(uintptr_t)A, R32F, lda, sA, (const void*)(uintptr_t)B, R32F, ldb, sB,
		&beta, (void*)(uintptr_t)C, R32F, ldc, sC, batch, compute, -1);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// Library names tried in order; an environment variable names a file to
// use instead (for libraries outside the loader's path, such as the ones
// pip installs with PyTorch under site-packages/nvidia/*/lib). The
// versioned names of the driver's CUDA major version come first (NVRTC
// and cuBLAS 13 need a CUDA 13 driver; an older driver cannot load PTX of
// a newer NVRTC), then the older ones.
var (
	driverNames = []string{"libcuda.so.1", "libcuda.so"}
	nvrtcNames  = []string{"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"}
	cublasNames = []string{"libcublas.so", "libcublas.so.13", "libcublas.so.12", "libcublas.so.11"}
)

// driverMajor is the CUDA major version the driver supports (0 before a
// device is opened).
var driverMajor int

// byDriver orders versioned library names: the driver's major version
// first, then lower ones newest first, then higher ones.
func byDriver(names []string, major int) []string {
	if major == 0 {
		return names
	}
	ver := func(n string) int {
		_, v, ok := strings.Cut(n, ".so.")
		if !ok {
			return -1 // unversioned: first
		}
		m, _, _ := strings.Cut(v, ".")
		x, _ := strconv.Atoi(m)
		return x
	}
	out := append([]string(nil), names...)
	rank := func(n string) int {
		v := ver(n)
		switch {
		case v < 0:
			return -1000
		case v == major:
			return 0
		case v < major:
			return major - v
		default:
			return 100 + v
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return rank(a) - rank(b) })
	return out
}

func libNames(env string, names []string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	return strings.Join(names, "\n")
}

type loader func(names *C.char, err *C.char, errlen C.int) C.int

func loadLib(what, env string, names []string, load loader) error {
	cn := C.CString(libNames(env, names))
	defer C.free(unsafe.Pointer(cn))
	var buf [512]C.char
	if load(cn, &buf[0], C.int(len(buf))) != 0 {
		return fmt.Errorf("cannot load the %s (%s; set %s to its path): %s", what,
			strings.ReplaceAll(libNames(env, names), "\n", ", "), env, C.GoString(&buf[0]))
	}
	return nil
}

func loadDriver() error {
	return loadLib("CUDA driver library", "GOCOCA_LIBCUDA", driverNames, func(n, e *C.char, l C.int) C.int {
		return C.gococa_load_driver(n, e, l)
	})
}

func loadNVRTC() error {
	return loadLib("NVRTC library", "GOCOCA_LIBNVRTC", byDriver(nvrtcNames, driverMajor), func(n, e *C.char, l C.int) C.int {
		return C.gococa_load_nvrtc(n, e, l)
	})
}

func loadCublas() error {
	return loadLib("cuBLAS library", "GOCOCA_LIBCUBLAS", byDriver(cublasNames, driverMajor), func(n, e *C.char, l C.int) C.int {
		return C.gococa_load_cublas(n, e, l)
	})
}

// cuError is a failed driver call.
type cuError struct {
	call string
	code C.CUresult
}

func (e cuError) Error() string {
	return fmt.Sprintf("%s: %s (%d): %s", e.call, C.GoString(C.gococa_cuErrorName(e.code)), int(e.code),
		C.GoString(C.gococa_cuErrorString(e.code)))
}

func cuCheck(call string, r C.CUresult) error {
	if r != 0 {
		return cuError{call, r}
	}
	return nil
}

// errOutOfMemory is CUDA_ERROR_OUT_OF_MEMORY.
const cuErrOutOfMemory = 2

func isOutOfMemory(err error) bool {
	var e cuError
	return errors.As(err, &e) && e.code == cuErrOutOfMemory
}

// Device attributes (CUdevice_attribute).
const (
	attrMaxSharedPerBlock      = 8
	attrMultiprocessorCount    = 16
	attrComputeMajor           = 75
	attrComputeMinor           = 76
	attrManagedMemory          = 83
	attrConcurrentManaged      = 89
	attrMaxSharedPerBlockOptin = 97
)

// funcAttrMaxDynamicShared is CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES.
const funcAttrMaxDynamicShared = 8

// cuBLAS values.
const (
	cublasOpN = 0
	cublasOpT = 1

	cublasComputeF32       = 68 // CUBLAS_COMPUTE_32F
	cublasComputeF32FastBF = 75 // CUBLAS_COMPUTE_32F_FAST_16BF
	cublasComputeF32TF32   = 77 // CUBLAS_COMPUTE_32F_FAST_TF32

	cublasDefaultMath = 0 // CUBLAS_DEFAULT_MATH
)

func cublasCheck(call string, r C.cublasStatus) error {
	if r != 0 {
		return fmt.Errorf("%s: cuBLAS status %d", call, int(r))
	}
	return nil
}

// compile compiles the kernel source with NVRTC for arch: "compute_XX"
// gives PTX (NUL-terminated), "sm_XX" with cubin set a CUBIN. It returns
// the image and the compiler log (warnings).
func compile(src, arch string, cubin bool) (image []byte, log string, err error) {
	if err := loadNVRTC(); err != nil {
		return nil, "", err
	}
	csrc, carch := C.CString(src), C.CString(arch)
	defer C.free(unsafe.Pointer(csrc))
	defer C.free(unsafe.Pointer(carch))
	var out, clog *C.char
	var n C.size_t
	flag := C.int(0)
	if cubin {
		flag = 1
	}
	r := C.gococa_nvrtc_compile(csrc, carch, flag, &out, &n, &clog)
	if clog != nil {
		log = C.GoString(clog)
		C.free(unsafe.Pointer(clog))
	}
	if out != nil {
		image = C.GoBytes(unsafe.Pointer(out), C.int(n))
		C.free(unsafe.Pointer(out))
	}
	if r != 0 {
		return nil, log, fmt.Errorf("NVRTC %s: %s:\n%s", arch, C.GoString(C.gococa_nvrtc_error(r)), log)
	}
	return image, log, nil
}

// canCUBIN reports whether the NVRTC library can emit CUBINs.
func canCUBIN() bool { return C.gococa_has_cubin() != 0 }

// ---- driver calls (device pointers as uint64, handles as C pointers) ----

func cuInit() error { return cuCheck("cuInit", C.gococa_cuInit()) }

func cuDriverVersion() (int, error) {
	var v C.int
	err := cuCheck("cuDriverGetVersion", C.gococa_cuDriverGetVersion(&v))
	return int(v), err
}

func cuDeviceCount() (int, error) {
	var n C.int
	err := cuCheck("cuDeviceGetCount", C.gococa_cuDeviceGetCount(&n))
	return int(n), err
}

func cuDeviceGet(ordinal int) (int32, error) {
	var d C.CUdevice
	err := cuCheck("cuDeviceGet", C.gococa_cuDeviceGet(&d, C.int(ordinal)))
	return int32(d), err
}

func cuDeviceName(dev int32) string {
	var buf [256]C.char
	if C.gococa_cuDeviceGetName(&buf[0], C.int(len(buf)), C.CUdevice(dev)) != 0 {
		return "unknown device"
	}
	return C.GoString(&buf[0])
}

func cuDeviceAttr(dev int32, attr int) (int, error) {
	var v C.int
	err := cuCheck("cuDeviceGetAttribute", C.gococa_cuDeviceGetAttribute(&v, C.int(attr), C.CUdevice(dev)))
	return int(v), err
}

func cuDeviceTotalMem(dev int32) (int64, error) {
	var n C.size_t
	err := cuCheck("cuDeviceTotalMem", C.gococa_cuDeviceTotalMem(&n, C.CUdevice(dev)))
	return int64(n), err
}

func cuPrimaryCtxRetain(dev int32) (unsafe.Pointer, error) {
	var c C.CUcontext
	err := cuCheck("cuDevicePrimaryCtxRetain", C.gococa_cuDevicePrimaryCtxRetain(&c, C.CUdevice(dev)))
	return unsafe.Pointer(c), err
}

func cuCtxSetCurrent(ctx unsafe.Pointer) error {
	return cuCheck("cuCtxSetCurrent", C.gococa_cuCtxSetCurrent(C.CUcontext(ctx)))
}

func cuStreamCreate() (unsafe.Pointer, error) {
	var s C.CUstream
	err := cuCheck("cuStreamCreate", C.gococa_cuStreamCreate(&s))
	return unsafe.Pointer(s), err
}

func cuStreamSync(s unsafe.Pointer) error {
	return cuCheck("cuStreamSynchronize", C.gococa_cuStreamSynchronize(C.CUstream(s)))
}

// cuErrNotReady is CUDA_ERROR_NOT_READY (cuStreamQuery: work still queued).
const cuErrNotReady = 600

// cuStreamQuery reports whether every operation queued on s is done.
func cuStreamQuery(s unsafe.Pointer) (bool, error) {
	r := C.gococa_cuStreamQuery(C.CUstream(s))
	if r == cuErrNotReady {
		return false, nil
	}
	return r == 0, cuCheck("cuStreamQuery", r)
}

func cuMemAllocManaged(size int) (uint64, error) {
	var p C.CUdeviceptr
	err := cuCheck("cuMemAllocManaged", C.gococa_cuMemAllocManaged(&p, C.size_t(size)))
	return uint64(p), err
}

func cuMemAlloc(size int) (uint64, error) {
	var p C.CUdeviceptr
	err := cuCheck("cuMemAlloc", C.gococa_cuMemAlloc(&p, C.size_t(size)))
	return uint64(p), err
}

func cuMemFree(p uint64) error { return cuCheck("cuMemFree", C.gococa_cuMemFree(C.CUdeviceptr(p))) }

// cuMemAllocHost returns size bytes of page-locked host memory, which
// asynchronous copies use without waiting.
func cuMemAllocHost(size int) (unsafe.Pointer, error) {
	var p unsafe.Pointer
	err := cuCheck("cuMemAllocHost", C.gococa_cuMemAllocHost(&p, C.size_t(size)))
	return p, err
}

func cuMemFreeHost(p unsafe.Pointer) error {
	return cuCheck("cuMemFreeHost", C.gococa_cuMemFreeHost(p))
}

// cuMemGetInfo returns the free and total device memory of the current
// context's GPU.
func cuMemGetInfo() (free, total int64, err error) {
	var f, t C.size_t
	err = cuCheck("cuMemGetInfo", C.gococa_cuMemGetInfo(&f, &t))
	return int64(f), int64(t), err
}

func cuMemcpyDtoD(dst, src uint64, bytes int, s unsafe.Pointer) error {
	return cuCheck("cuMemcpyDtoDAsync", C.gococa_cuMemcpyDtoDAsync(C.CUdeviceptr(dst), C.CUdeviceptr(src), C.size_t(bytes), C.CUstream(s)))
}

// cuMemcpyHtoD copies from host memory src (a Go pointer is fine: the
// driver has copied it into its staging memory when the call returns).
func cuMemcpyHtoD(dst uint64, src unsafe.Pointer, bytes int, s unsafe.Pointer) error {
	return cuCheck("cuMemcpyHtoDAsync", C.gococa_cuMemcpyHtoDAsync(C.CUdeviceptr(dst), src, C.size_t(bytes), C.CUstream(s)))
}

// cuMemcpyDtoH copies to pageable host memory dst; such a copy has
// completed when the call returns.
func cuMemcpyDtoH(dst unsafe.Pointer, src uint64, bytes int, s unsafe.Pointer) error {
	return cuCheck("cuMemcpyDtoHAsync", C.gococa_cuMemcpyDtoHAsync(dst, C.CUdeviceptr(src), C.size_t(bytes), C.CUstream(s)))
}

func cuMemsetD32(p uint64, v uint32, n int, s unsafe.Pointer) error {
	return cuCheck("cuMemsetD32Async", C.gococa_cuMemsetD32Async(C.CUdeviceptr(p), C.uint(v), C.size_t(n), C.CUstream(s)))
}

func cuModuleLoad(image []byte) (unsafe.Pointer, error) {
	cimg := C.CBytes(image)
	defer C.free(cimg)
	var m C.CUmodule
	err := cuCheck("cuModuleLoadData", C.gococa_cuModuleLoadData(&m, cimg))
	return unsafe.Pointer(m), err
}

func cuModuleFunction(mod unsafe.Pointer, name string) (unsafe.Pointer, error) {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var f C.CUfunction
	err := cuCheck("cuModuleGetFunction("+name+")", C.gococa_cuModuleGetFunction(&f, C.CUmodule(mod), cn))
	return unsafe.Pointer(f), err
}

func cuFuncSetMaxShared(f unsafe.Pointer, bytes int) error {
	return cuCheck("cuFuncSetAttribute", C.gococa_cuFuncSetAttribute(C.CUfunction(f), funcAttrMaxDynamicShared, C.int(bytes)))
}

// cuLaunch launches f; the kernel's parameters are the values at the byte
// offsets offs of argbuf.
func cuLaunch(f unsafe.Pointer, grid, block [3]uint32, shmem int, s unsafe.Pointer, argbuf []byte, offs []int32) error {
	return cuCheck("cuLaunchKernel", C.gococa_launch(C.CUfunction(f),
		C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]), C.uint(block[0]), C.uint(block[1]), C.uint(block[2]),
		C.uint(shmem), C.CUstream(s), unsafe.Pointer(&argbuf[0]), (*C.int)(unsafe.Pointer(&offs[0])), C.int(len(offs))))
}

// hostPtr is the host address of managed memory at device address p (the
// same number under unified addressing).
func hostPtr(p uint64) unsafe.Pointer { return C.gococa_ptr(C.CUdeviceptr(p)) }

func cublasCreate() (unsafe.Pointer, error) {
	var h C.cublasHandle
	err := cublasCheck("cublasCreate", C.gococa_cublasCreate(&h))
	return unsafe.Pointer(h), err
}

func cublasSetStream(h, s unsafe.Pointer) error {
	return cublasCheck("cublasSetStream", C.gococa_cublasSetStream(C.cublasHandle(h), C.CUstream(s)))
}

func cublasSetMathMode(h unsafe.Pointer, mode int) error {
	return cublasCheck("cublasSetMathMode", C.gococa_cublasSetMathMode(C.cublasHandle(h), C.int(mode)))
}

// cublasGemm is a column-major strided-batched GEMM of float32 matrices
// (cublasGemmStridedBatchedEx) with the given compute type.
func cublasGemm(h unsafe.Pointer, ta, tb, m, n, k int, alpha float32, a uint64, lda int, sa int64,
	b uint64, ldb int, sb int64, beta float32, c uint64, ldc int, sc int64, batch, compute int) error {
	return cublasCheck("cublasGemmStridedBatchedEx", C.gococa_gemm(C.cublasHandle(h), C.int(ta), C.int(tb),
		C.int(m), C.int(n), C.int(k), C.float(alpha), C.CUdeviceptr(a), C.int(lda), C.longlong(sa),
		C.CUdeviceptr(b), C.int(ldb), C.longlong(sb), C.float(beta), C.CUdeviceptr(c), C.int(ldc), C.longlong(sc),
		C.int(batch), C.int(compute)))
}

// nvrtcVersion returns NVRTC's version.
func nvrtcVersion() (major, minor int, err error) {
	if err := loadNVRTC(); err != nil {
		return 0, 0, err
	}
	var ma, mi C.int
	if r := C.gococa_nvrtc_version(&ma, &mi); r != 0 {
		return 0, 0, fmt.Errorf("nvrtcVersion: %s", C.GoString(C.gococa_nvrtc_error(r)))
	}
	return int(ma), int(mi), nil
}

// nvrtcArchs returns the sm versions NVRTC compiles for (nil when it
// cannot say).
func nvrtcArchs() []int {
	var buf [64]C.int
	n := int(C.gococa_nvrtc_archs(&buf[0], C.int(len(buf))))
	if n <= 0 {
		return nil
	}
	out := make([]int, n)
	for i := range out {
		out[i] = int(buf[i])
	}
	return out
}

// ---- the CPU emulator's counters (testdata/emulator/memory.h) ----

// emuStats are the figures the CPU emulator of the CUDA runtime counts
// (the emulator's EmuStats struct, field for field). A real driver has none.
type emuStats struct {
	// Syncs: the host waited for the stream (StreamSyncs + DtoHPageable).
	Syncs        int64
	StreamSyncs  int64 // cuStreamSynchronize
	DtoHPageable int64 // device-to-host copies into pageable memory (they wait)
	HtoDCalls    int64
	HtoDBytes    int64
	DtoHCalls    int64
	DtoHBytes    int64
	DtoDCalls    int64
	DtoDBytes    int64
	Memsets      int64
	Launches     int64
	GEMMs        int64
	// HostFaults counts the 4 KiB pages of device memory the host touched
	// between device operations: what managed memory migrates, and what
	// device memory cannot serve at all.
	HostFaults    int64
	Allocs, Frees int64
	LiveBytes     [8]int64 // device memory allocated, per GPU
	// FaultOverflow is non-zero when the emulator lost track of pages the
	// host opened (the figures are then void).
	FaultOverflow int64
	Collectives   int64
	// DeviceFaults are the HostFaults on device memory (not managed),
	// which a GPU cannot serve: the process would crash there.
	DeviceFaults int64
}

// add returns s + o, field by field (LiveBytes is o's).
func (s emuStats) add(o emuStats) emuStats {
	n := o.LiveBytes
	o.LiveBytes = [8]int64{}
	var z emuStats
	r := s.Sub(z.Sub(o))
	r.LiveBytes = n
	return r
}

// Sub returns s − o, field by field (LiveBytes is s's).
func (s emuStats) Sub(o emuStats) emuStats {
	r := s
	r.Syncs -= o.Syncs
	r.StreamSyncs -= o.StreamSyncs
	r.DtoHPageable -= o.DtoHPageable
	r.HtoDCalls -= o.HtoDCalls
	r.HtoDBytes -= o.HtoDBytes
	r.DtoHCalls -= o.DtoHCalls
	r.DtoHBytes -= o.DtoHBytes
	r.DtoDCalls -= o.DtoDCalls
	r.DtoDBytes -= o.DtoDBytes
	r.Memsets -= o.Memsets
	r.Launches -= o.Launches
	r.GEMMs -= o.GEMMs
	r.HostFaults -= o.HostFaults
	r.Allocs -= o.Allocs
	r.Frees -= o.Frees
	r.FaultOverflow -= o.FaultOverflow
	r.Collectives -= o.Collectives
	r.DeviceFaults -= o.DeviceFaults
	return r
}

func (s emuStats) String() string {
	return fmt.Sprintf("%d host syncs (%d stream, %d pageable DtoH), HtoD %d B in %d copies, DtoH %d B in %d copies, "+
		"DtoD %d B, %d memsets, %d launches, %d GEMMs, %d host page faults",
		s.Syncs, s.StreamSyncs, s.DtoHPageable, s.HtoDBytes, s.HtoDCalls, s.DtoHBytes, s.DtoHCalls,
		s.DtoDBytes, s.Memsets, s.Launches, s.GEMMs, s.HostFaults)
}

func emuSym(name string) unsafe.Pointer {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	return C.gococa_emu_sym(cn)
}

// readEmuStats returns the emulator's counters since the process began;
// ok is false on a real driver (or before the driver is loaded).
func readEmuStats() (s emuStats, ok bool) {
	f := emuSym("gococa_emu_stats")
	if f == nil {
		return s, false
	}
	var buf [unsafe.Sizeof(emuStats{}) / 8]C.longlong
	C.gococa_emu_stats(f, &buf[0])
	s = *(*emuStats)(unsafe.Pointer(&buf[0]))
	return s, true
}

// emuSite is code that touched device memory from the host, with the
// number of page faults it caused.
type emuSite struct {
	PCs   []uintptr // the faulting instruction, then return addresses
	Count int64
}

// readEmuSites returns the code sites that faulted on device memory since
// the last resetEmuSites (nil on a real driver).
func readEmuSites() []emuSite {
	fs, fd := emuSym("gococa_emu_sites"), emuSym("gococa_emu_site_depth")
	if fs == nil || fd == nil {
		return nil
	}
	depth := int(C.gococa_emu_depth(fd))
	buf := make([]C.uintptr_t, 256*(depth+1))
	n := int(C.gococa_emu_sites(fs, &buf[0], 256))
	out := make([]emuSite, 0, min(n, 256))
	for i := range min(n, 256) {
		rec := buf[i*(depth+1) : (i+1)*(depth+1)]
		s := emuSite{Count: int64(rec[depth])}
		for _, pc := range rec[:depth] {
			if pc != 0 {
				s.PCs = append(s.PCs, uintptr(pc))
			}
		}
		out = append(out, s)
	}
	return out
}

// resetEmuSites forgets the recorded sites.
func resetEmuSites() {
	if f := emuSym("gococa_emu_reset_sites"); f != nil {
		C.gococa_emu_reset(f)
	}
}

// setEmuCapacity sets the emulated memory of GPU dev to bytes and returns
// the previous capacity (0 on a real driver).
func setEmuCapacity(dev int, bytes int64) int64 {
	f := emuSym("gococa_emu_set_capacity")
	if f == nil {
		return 0
	}
	return int64(C.gococa_emu_capacity(f, C.int(dev), C.size_t(bytes)))
}

// setEmuSkipGEMM makes the emulator's GEMMs leave C·beta instead of
// computing products (for runs that only count) and returns the previous
// setting; false on a real driver.
func setEmuSkipGEMM(on bool) bool {
	f := emuSym("gococa_emu_set_skip_gemm")
	if f == nil {
		return false
	}
	v := 0
	if on {
		v = 1
	}
	return C.gococa_emu_flag(f, C.int(v)) != 0
}
