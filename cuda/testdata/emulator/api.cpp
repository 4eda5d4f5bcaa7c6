// The CUDA driver, NVRTC and cuBLAS entry points gococa loads, emulated on
// the CPU: device memory is the arena of memory.h (with the counters), a
// launch runs every block of the grid in turn with one fiber per thread,
// "compilation" checks that the source is the one this library was built
// from, and the GEMM is a plain loop. Included at the end of the generated
// translation unit, after the kernels and the table emu_kernels of their
// trampolines.
#include <string>
#include <thread>


static const int emu_stack = 64 << 10;
static EmuThread emu_threads[1024];
static char* emu_stacks[1024];
static void (*emu_fn)(void**);
static void** emu_params;
static const char* emu_name;

static int emu_env(const char* name, int def) {
	const char* v = getenv(name);
	return v && *v ? atoi(v) : def;
}

static void emu_entry() {
	EmuThread* t = emu_cur;
	emu_fn(emu_params);
	t->done = true;
	emu_progress = true;
	emu_leave(emu_block);
	emu_leave(emu_warps[t->warp]);
#if defined(__x86_64__)
	emu_yield(); // never resumed
	abort();
#endif
}

// emu_start prepares thread t to run emu_entry on its own stack.
static void emu_start(EmuThread& t, char* stack) {
#if defined(__x86_64__)
	uintptr_t top = ((uintptr_t)stack + emu_stack) & ~(uintptr_t)15;
	void** sp = (void**)top;
	*--sp = NULL;                   // return address of emu_entry (never used)
	*--sp = (void*)emu_entry;       // where emu_switch returns to
	for (int i = 0; i < 6; i++) *--sp = NULL; // rbp, rbx, r12-r15
	t.sp = sp;
#else
	getcontext(&t.ctx);
	t.ctx.uc_stack.ss_sp = stack;
	t.ctx.uc_stack.ss_size = emu_stack;
	t.ctx.uc_link = &emu_sched;
	makecontext(&t.ctx, emu_entry, 0);
#endif
}

static void emu_resume(EmuThread& t) {
#if defined(__x86_64__)
	emu_switch(&emu_sched_sp, t.sp);
#else
	swapcontext(&emu_sched, &t.ctx);
#endif
}

static int emu_run_block(unsigned n, unsigned shmem) {
	for (unsigned i = 0; i < n; i++) {
		EmuThread& t = emu_threads[i];
		if (emu_stacks[i] == NULL) emu_stacks[i] = (char*)malloc(emu_stack);
		emu_start(t, emu_stacks[i]);
		t.tid.x = i % emu_blockDim.x;
		t.tid.y = i / emu_blockDim.x % emu_blockDim.y;
		t.tid.z = i / (emu_blockDim.x * emu_blockDim.y);
		t.warp = i / 32;
		t.lane = i % 32;
		t.done = false;
	}
	emu_block.alive = n;
	emu_block.arrived = 0;
	for (unsigned w = 0; w < (n + 31) / 32; w++) {
		emu_warps[w].alive = n - 32 * w < 32 ? n - 32 * w : 32;
		emu_warps[w].arrived = 0;
	}
	// Shared memory starts as garbage (NaN), as uninitialised memory may.
	memset(emu_dyn_smem, 0xff, shmem);
	unsigned remaining = n;
	while (remaining > 0) {
		bool progress = false;
		for (unsigned i = 0; i < n; i++) {
			EmuThread& t = emu_threads[i];
			if (t.done) continue;
			emu_cur = &t;
			emu_progress = false;
			emu_resume(t);
			progress = progress || emu_progress;
			if (t.done) remaining--;
		}
		if (!progress && remaining > 0) {
			fprintf(stderr, "emulator: %s: block (%u,%u,%u) deadlocked at a barrier with %u threads waiting\n",
				emu_name, emu_blockIdx.x, emu_blockIdx.y, emu_blockIdx.z, remaining);
			return 1;
		}
	}
	return 0;
}

// ---- contexts and streams ----

// A stream runs its work at once, in the calling thread, except an NCCL
// collective, which a thread of its own runs (it waits for the other
// ranks): later work on the stream waits for it, cuStreamQuery polls it.
struct EmuStream {
	int dev;
	std::thread* pending;
	std::atomic<bool> done;
	int error;
};
static const int emu_ctx_base = 0x10;

static int emu_check_stream(void* s) {
	EmuStream* st = (EmuStream*)s;
	if (st == NULL || st->dev != emu_cur_dev) return 1;
	return 0;
}

// emu_stream_wait waits for a collective in flight on s (stream order).
static int emu_stream_wait(EmuStream* s) {
	if (s->pending != NULL) {
		s->pending->join();
		delete s->pending;
		s->pending = NULL;
	}
	return s->error;
}

// emu_begin starts an operation on stream s: the work before it has run,
// the host's pages are closed again.
static int emu_begin(void* s) {
	if (emu_check_stream(s) != 0) return 400; // CUDA_ERROR_INVALID_HANDLE
	int r = emu_stream_wait((EmuStream*)s);
	emu_device_op();
	return r;
}

extern "C" {

// ---- driver ----

typedef int CUresult;
enum { EMU_SM = 90 };

CUresult cuInit(unsigned) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	return emu_mem_init() == 0 ? 0 : 999;
}
CUresult cuDriverGetVersion(int* v) { *v = 12040; return 0; }
CUresult cuDeviceGetCount(int* n) { *n = emu_ndev; return 0; }
CUresult cuDeviceGet(int* d, int ordinal) { *d = ordinal; return ordinal >= 0 && ordinal < emu_ndev ? 0 : 101; }
CUresult cuDeviceGetName(char* name, int len, int) {
	snprintf(name, len, "gococa CUDA emulator");
	return 0;
}
CUresult cuDeviceGetAttribute(int* v, int attr, int) {
	switch (attr) {
	case 8: *v = 48 << 10; break;                         // shared memory per block
	case 16: *v = emu_env("GOCOCA_EMU_SMS", 2); break;    // multiprocessors
	case 75: *v = EMU_SM / 10; break;
	case 76: *v = EMU_SM % 10; break;
	case 83: case 89: *v = 1; break;                      // managed memory, concurrent access
	case 97: *v = 227 << 10; break;                       // opt-in shared memory per block
	default: *v = 0;
	}
	return 0;
}
CUresult cuDeviceTotalMem_v2(size_t* n, int d) {
	if (d < 0 || d >= emu_ndev) return 101;
	*n = emu_capacity[d];
	return 0;
}
CUresult cuDevicePrimaryCtxRetain(void** c, int d) {
	if (d < 0 || d >= emu_ndev) return 101;
	*c = (void*)(uintptr_t)(emu_ctx_base + d);
	return 0;
}
CUresult cuCtxSetCurrent(void* c) {
	int d = (int)((uintptr_t)c - emu_ctx_base);
	if (d < 0 || d >= emu_ndev) return 201; // CUDA_ERROR_INVALID_CONTEXT
	emu_cur_dev = d;
	return 0;
}
CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	if (emu_cur_dev < 0) return 201;
	*total = emu_capacity[emu_cur_dev];
	size_t used = (size_t)emu_stats.live_bytes[emu_cur_dev];
	*free = used < *total ? *total - used : 0;
	return 0;
}
CUresult cuStreamCreate(void** s, unsigned) {
	if (emu_cur_dev < 0) return 201;
	EmuStream* st = new EmuStream;
	st->dev = emu_cur_dev;
	st->pending = NULL;
	st->done = true;
	st->error = 0;
	*s = st;
	return 0;
}
CUresult cuStreamSynchronize(void* s) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	if (emu_check_stream(s) != 0) return 400;
	emu_stats.syncs++;
	emu_stats.stream_syncs++;
	return emu_stream_wait((EmuStream*)s);
}
CUresult cuStreamQuery(void* s) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	if (emu_check_stream(s) != 0) return 400;
	EmuStream* st = (EmuStream*)s;
	if (st->pending != NULL && !st->done) return 600; // CUDA_ERROR_NOT_READY
	return emu_stream_wait(st);
}

CUresult cuMemAllocManaged(CUdeviceptr* p, size_t n, unsigned flags) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	if (flags != 1) return 1;
	if (emu_cur_dev < 0) return 201;
	*p = emu_alloc(n, -1);
	return *p == 0 ? 2 : 0; // CUDA_ERROR_OUT_OF_MEMORY
}
CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t n) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	if (emu_cur_dev < 0) return 201;
	*p = emu_alloc(n, emu_cur_dev);
	return *p == 0 ? 2 : 0;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	return emu_free_block(p) == 0 ? 0 : 1;
}
CUresult cuMemAllocHost_v2(void** p, size_t n) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	void* m = NULL;
	if (posix_memalign(&m, 4096, n > 0 ? n : 1) != 0) return 2;
	memset(m, 0xff, n);
	emu_pinned[(uintptr_t)m] = n;
	*p = m;
	return 0;
}
CUresult cuMemFreeHost(void* p) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	if (emu_pinned.erase((uintptr_t)p) == 0) return 1;
	free(p);
	return 0;
}
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t n, void* s) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	if (int r = emu_begin(s)) return r;
	emu_xlate_bad = false;
	void* d = emu_ptr(dst);
	const void* h = emu_in_arena(src) ? emu_ptr((uintptr_t)src) : src;
	if (emu_xlate_bad) return 1;
	memcpy(d, h, n);
	emu_stats.htod_calls++;
	emu_stats.htod_bytes += n;
	return 0;
}
CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t n, void* s) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	if (int r = emu_begin(s)) return r;
	emu_xlate_bad = false;
	const void* d = emu_ptr(src);
	void* h = emu_in_arena(dst) ? emu_ptr((uintptr_t)dst) : dst;
	if (emu_xlate_bad) return 1;
	memcpy(h, d, n);
	emu_stats.dtoh_calls++;
	emu_stats.dtoh_bytes += n;
	if (!emu_is_pinned(dst)) { // a copy into pageable memory returns when it is done
		emu_stats.dtoh_pageable++;
		emu_stats.syncs++;
	}
	return 0;
}
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, void* s) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	if (int r = emu_begin(s)) return r;
	emu_xlate_bad = false;
	void* d = emu_ptr(dst);
	const void* from = emu_ptr(src);
	if (emu_xlate_bad) return 1;
	memmove(d, from, n);
	emu_stats.dtod_calls++;
	emu_stats.dtod_bytes += n;
	return 0;
}
CUresult cuMemsetD32Async(CUdeviceptr p, unsigned v, size_t n, void* s) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	if (int r = emu_begin(s)) return r;
	emu_xlate_bad = false;
	unsigned* u = (unsigned*)emu_ptr(p);
	if (emu_xlate_bad) return 1;
	for (size_t i = 0; i < n; i++) u[i] = v;
	emu_stats.memsets++;
	return 0;
}

static const char emu_image[] = "gococa-emulated-image";

CUresult cuModuleLoadData(void** m, const void* image) {
	if (strcmp((const char*)image, emu_image) != 0) return 200; // CUDA_ERROR_INVALID_IMAGE
	*m = (void*)0x30;
	return 0;
}
CUresult cuModuleGetFunction(void** f, void*, const char* name) {
	for (int i = 0; i < emu_nkernels; i++) {
		if (strcmp(emu_kernels[i].name, name) == 0) {
			*f = &emu_kernels[i];
			return 0;
		}
	}
	return 500; // CUDA_ERROR_NOT_FOUND
}
CUresult cuFuncSetAttribute(void* f, int attr, int v) {
	if (attr != 8 || v > (227 << 10)) return 1;
	((EmuKernel*)f)->maxShared = v;
	return 0;
}

CUresult cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
		unsigned shmem, void* stream, void** params, void** extra) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	EmuKernel* k = (EmuKernel*)f;
	if (extra != NULL) return 1;
	if (int r = emu_begin(stream)) return r;
	const unsigned n = bx * by * bz;
	if (n == 0 || n > 1024 || bz > 64 || gy > 65535 || gz > 65535 || gx == 0 || gx > 0x7fffffffu) {
		fprintf(stderr, "emulator: %s: bad launch grid (%u,%u,%u) block (%u,%u,%u)\n", k->name, gx, gy, gz, bx, by, bz);
		return 1; // CUDA_ERROR_INVALID_VALUE
	}
	if (shmem > (48u << 10) && shmem > (unsigned)k->maxShared) {
		fprintf(stderr, "emulator: %s: %u bytes of dynamic shared memory without opting in\n", k->name, shmem);
		return 1;
	}
	// Pointer parameters (k->ptrs, one bit each) move to the device view.
	static void* ptrs[64];
	static void* local[64];
	emu_kernel_name = k->name;
	emu_xlate_bad = false;
	for (int i = 0; i < k->nparams && i < 64; i++) {
		if (k->ptrs >> i & 1) {
			ptrs[i] = emu_xlate(*(char**)params[i]);
			local[i] = &ptrs[i];
		} else {
			local[i] = params[i];
		}
	}
	if (emu_xlate_bad) return 1;
	static unsigned smemCap = 0;
	if (shmem > smemCap) {
		free(emu_dyn_smem);
		emu_dyn_smem = (float*)malloc(shmem);
		smemCap = shmem;
	}
	emu_stats.launches++;
	emu_fn = k->fn;
	emu_params = local;
	emu_name = k->name;
	emu_blockDim = uint3{bx, by, bz};
	emu_gridDim = uint3{gx, gy, gz};
	for (unsigned z = 0; z < gz; z++)
		for (unsigned y = 0; y < gy; y++)
			for (unsigned x = 0; x < gx; x++) {
				emu_blockIdx = uint3{x, y, z};
				if (emu_run_block(n, shmem) != 0) return 719; // CUDA_ERROR_LAUNCH_FAILED
			}
	return 0;
}

CUresult cuGetErrorString(CUresult r, const char** s) {
	*s = r == 0 ? "no error" : "emulated error";
	return 0;
}
CUresult cuGetErrorName(CUresult r, const char** s) {
	switch (r) {
	case 0: *s = "CUDA_SUCCESS"; break;
	case 2: *s = "CUDA_ERROR_OUT_OF_MEMORY"; break;
	case 600: *s = "CUDA_ERROR_NOT_READY"; break;
	default: *s = "CUDA_ERROR_EMULATED";
	}
	return 0;
}

// ---- NVRTC ----

typedef int nvrtcResult;
struct EmuProgram {
	std::string src;
	bool compiled;
};

nvrtcResult nvrtcVersion(int* major, int* minor) { *major = 12; *minor = 4; return 0; }
nvrtcResult nvrtcGetNumSupportedArchs(int* n) { *n = 2; return 0; }
nvrtcResult nvrtcGetSupportedArchs(int* a) { a[0] = 80; a[1] = 90; return 0; }
nvrtcResult nvrtcCreateProgram(void** p, const char* src, const char*, int, const char* const*, const char* const*) {
	*p = new EmuProgram{src, false};
	return 0;
}
nvrtcResult nvrtcCompileProgram(void* p, int, const char* const*) {
	EmuProgram* e = (EmuProgram*)p;
	// The library holds the kernels built from one source; a different
	// one would be run without being compiled.
	if (e->src != emu_source) return 6; // NVRTC_ERROR_COMPILATION
	e->compiled = true;
	return 0;
}
static nvrtcResult emu_image_size(void* p, size_t* n) {
	if (!((EmuProgram*)p)->compiled) return 7;
	*n = sizeof emu_image;
	return 0;
}
static nvrtcResult emu_image_copy(void* p, char* out) {
	if (!((EmuProgram*)p)->compiled) return 7;
	memcpy(out, emu_image, sizeof emu_image);
	return 0;
}
nvrtcResult nvrtcGetPTXSize(void* p, size_t* n) { return emu_image_size(p, n); }
nvrtcResult nvrtcGetPTX(void* p, char* out) { return emu_image_copy(p, out); }
nvrtcResult nvrtcGetCUBINSize(void* p, size_t* n) { return emu_image_size(p, n); }
nvrtcResult nvrtcGetCUBIN(void* p, char* out) { return emu_image_copy(p, out); }
nvrtcResult nvrtcGetProgramLogSize(void* p, size_t* n) {
	(void)p;
	*n = 1;
	return 0;
}
nvrtcResult nvrtcGetProgramLog(void* p, char* out) {
	(void)p;
	out[0] = 0;
	return 0;
}
nvrtcResult nvrtcDestroyProgram(void** p) {
	delete (EmuProgram*)*p;
	*p = NULL;
	return 0;
}
const char* nvrtcGetErrorString(nvrtcResult r) { return r == 0 ? "NVRTC_SUCCESS" : "emulated NVRTC error"; }

// ---- cuBLAS ----

typedef int cublasStatus_t;
cublasStatus_t cublasCreate_v2(void** h) { *h = (void*)0x40; return 0; }
static void* emu_blas_stream[emu_max_devices]; // the stream set on the handle, per device
cublasStatus_t cublasSetStream_v2(void* h, void* s) {
	if (h != (void*)0x40 || emu_check_stream(s) != 0) return 7;
	emu_blas_stream[emu_cur_dev] = s;
	return 0;
}
cublasStatus_t cublasSetMathMode(void*, int) { return 0; }

// Rounding of GEMM inputs on tensor cores: CUBLAS_COMPUTE_32F_FAST_TF32
// (77) keeps 10 mantissa bits, CUBLAS_COMPUTE_32F_FAST_16BF (75) 7 (each
// rounded to nearest, ties to even); CUBLAS_COMPUTE_32F (68) none.
static float emu_round_input(float x, int compute) {
	int drop = compute == 77 ? 13 : compute == 75 ? 16 : 0;
	if (drop == 0) return x;
	unsigned int u;
	memcpy(&u, &x, 4);
	if ((u & 0x7f800000u) == 0x7f800000u) return x; // inf, nan
	unsigned int half = 1u << (drop - 1), lsb = (u >> drop) & 1u;
	u = (u + half - 1 + lsb) & ~((1u << drop) - 1);
	memcpy(&x, &u, 4);
	return x;
}

// Column-major C = alpha·op(A)·op(B) + beta·C per batch entry, with
// cuBLAS's argument checks; C is not read when beta is 0. In the FAST_TF32
// and FAST_16BF modes the inputs are rounded as tensor cores round them and
// the products accumulate in float32 (fp32: in double, a correctly rounded
// reference).
static cublasStatus_t emu_gemm(void* h, int ta, int tb, int m, int n, int k,
		const void* alphap, const void* Ap, int at, int lda, long long sa,
		const void* Bp, int bt, int ldb, long long sb,
		const void* betap, void* Cp, int ct, int ldc, long long sc,
		int batch, int compute, int algo) {
	if (h != (void*)0x40 || at != 0 || bt != 0 || ct != 0 || algo != -1) return 7;
	if (compute != 68 && compute != 75 && compute != 77) return 7;
	if (m < 0 || n < 0 || k < 0 || batch < 0) return 7;
	if (lda < (ta == 0 ? (m > 1 ? m : 1) : (k > 1 ? k : 1))) return 7;
	if (ldb < (tb == 0 ? (k > 1 ? k : 1) : (n > 1 ? n : 1))) return 7;
	if (ldc < (m > 1 ? m : 1)) return 7;
	const float alpha = *(const float*)alphap, beta = *(const float*)betap;
	const float* A = (const float*)Ap;
	const float* B = (const float*)Bp;
	float* C = (float*)Cp;
	for (int b = 0; b < batch; b++) {
		for (int j = 0; j < n; j++) {
			for (int i = 0; i < m; i++) {
				double s = 0;
				float s32 = 0;
				for (int p = 0; p < k; p++) {
					float x = ta == 0 ? A[b * sa + i + (long long)p * lda] : A[b * sa + p + (long long)i * lda];
					float y = tb == 0 ? B[b * sb + p + (long long)j * ldb] : B[b * sb + j + (long long)p * ldb];
					if (compute == 68) {
						s += (double)x * (double)y;
					} else {
						s32 += emu_round_input(x, compute) * emu_round_input(y, compute);
					}
				}
				if (compute != 68) s = s32;
				float* c = &C[b * sc + i + (long long)j * ldc];
				*c = beta == 0 ? (float)(alpha * s) : (float)(alpha * s + beta * (double)*c);
			}
		}
	}
	return 0;
}

// The GEMM entry point: stream order, device views of the operands, and
// the counters around emu_gemm. GOCOCA_EMU_SKIP_GEMM=1 (or
// gococa_emu_set_skip_gemm) leaves C·beta instead of computing the
// product, for runs that only count (the emulated GEMM is a plain loop,
// far too slow for a large model).
static int emu_skip_gemm = -1;
int gococa_emu_set_skip_gemm(int on) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	int old = emu_skip_gemm > 0;
	emu_skip_gemm = on;
	return old;
}
cublasStatus_t cublasGemmStridedBatchedEx(void* h, int ta, int tb, int m, int n, int k,
		const void* alphap, const void* Ap, int at, int lda, long long sa,
		const void* Bp, int bt, int ldb, long long sb,
		const void* betap, void* Cp, int ct, int ldc, long long sc,
		int batch, int compute, int algo) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	if (emu_cur_dev < 0 || emu_begin(emu_blas_stream[emu_cur_dev]) != 0) return 7;
	emu_kernel_name = "cublasGemmStridedBatchedEx";
	emu_xlate_bad = false;
	const void* A = emu_xlate((const char*)Ap);
	const void* B = emu_xlate((const char*)Bp);
	void* C = emu_xlate((char*)Cp);
	if (emu_xlate_bad) return 7;
	emu_stats.gemms++;
	if (emu_skip_gemm < 0) emu_skip_gemm = (int)emu_env_ll("GOCOCA_EMU_SKIP_GEMM", 0);
	if (emu_skip_gemm > 0 && m > 0 && n > 0 && k > 0) {
		const float beta = *(const float*)betap;
		float* c = (float*)C;
		for (int b = 0; b < batch; b++)
			for (int j = 0; j < n; j++)
				for (int i = 0; i < m; i++) {
					float* e = &c[b * sc + i + (long long)j * ldc];
					*e = beta == 0 ? 0 : beta * *e;
				}
		return 0;
	}
	return emu_gemm(h, ta, tb, m, n, k, alphap, A, at, lda, sa, B, bt, ldb, sb, betap, C, ct, ldc, sc, batch, compute, algo);
}

} // extern "C"
