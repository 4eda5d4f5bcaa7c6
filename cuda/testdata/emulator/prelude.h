// CPU emulation of the CUDA C features gococa's kernels use, for testing
// the cuda package on machines without a GPU (see emulator_cuda_test.go).
// Every CUDA thread of a block is a fiber (ucontext) on the calling OS
// thread; __syncthreads, __syncwarp and the warp shuffles are barriers
// between those fibers, scheduled round-robin; blocks run one after
// another. This checks indexing, tiling, barriers and arithmetic, not
// timing, the memory model or occupancy.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ucontext.h>

struct uint3 {
	unsigned x, y, z;
};

struct EmuThread {
#if defined(__x86_64__)
	void* sp; // saved stack pointer (emu_switch)
#else
	ucontext_t ctx;
#endif
	uint3 tid;
	int warp, lane;
	bool done;
};

struct EmuBarrier {
	int alive, arrived;
	unsigned gen;
};

static EmuThread* emu_cur;
static uint3 emu_blockIdx, emu_blockDim, emu_gridDim;
static EmuBarrier emu_block;
static EmuBarrier emu_warps[32];
static double emu_xbuf[32][32];
#if defined(__x86_64__)
// emu_switch saves the callee-saved registers on the current stack, stores
// the stack pointer in *from and resumes the context whose stack pointer
// is to (a fiber switch without the system call swapcontext makes).
extern "C" void emu_switch(void** from, void* to);
asm(".text\n"
    ".globl emu_switch\n"
    ".type emu_switch,@function\n"
    "emu_switch:\n"
    "\tpushq %rbp\n\tpushq %rbx\n\tpushq %r12\n\tpushq %r13\n\tpushq %r14\n\tpushq %r15\n"
    "\tmovq %rsp, (%rdi)\n"
    "\tmovq %rsi, %rsp\n"
    "\tpopq %r15\n\tpopq %r14\n\tpopq %r13\n\tpopq %r12\n\tpopq %rbx\n\tpopq %rbp\n"
    "\tret\n");
static void* emu_sched_sp;
static inline void emu_yield() { emu_switch(&emu_cur->sp, emu_sched_sp); }
#else
static ucontext_t emu_sched;
static inline void emu_yield() { swapcontext(&emu_cur->ctx, &emu_sched); }
#endif
static bool emu_progress;
static float* emu_dyn_smem;

#define threadIdx (emu_cur->tid)
#define blockIdx emu_blockIdx
#define blockDim emu_blockDim
#define gridDim emu_gridDim
#define __global__
#define __device__ static
#define __forceinline__ inline
#define __shared__ static

static void emu_wait(EmuBarrier& b) {
	emu_progress = true;
	b.arrived++;
	if (b.arrived == b.alive) {
		b.arrived = 0;
		b.gen++;
		return;
	}
	const unsigned g = b.gen;
	while (b.gen == g) emu_yield();
}

// emu_leave removes an exiting thread from a barrier, releasing the others
// when they all wait.
static void emu_leave(EmuBarrier& b) {
	b.alive--;
	if (b.arrived > 0 && b.arrived == b.alive) {
		b.arrived = 0;
		b.gen++;
	}
}

static inline void __syncthreads() { emu_wait(emu_block); }
static inline void __syncwarp(unsigned mask = 0xffffffffu) {
	(void)mask;
	emu_wait(emu_warps[emu_cur->warp]);
}

template <class T>
static T __shfl_xor_sync(unsigned mask, T v, int o) {
	(void)mask;
	const int w = emu_cur->warp, l = emu_cur->lane;
	static_assert(sizeof(T) <= sizeof(double), "shuffle of a wide type");
	memcpy(&emu_xbuf[w][l], &v, sizeof(T));
	emu_wait(emu_warps[w]);
	T r;
	memcpy(&r, &emu_xbuf[w][l ^ o], sizeof(T));
	emu_wait(emu_warps[w]);
	return r;
}

static inline float __int_as_float(unsigned v) {
	float f;
	memcpy(&f, &v, sizeof f);
	return f;
}

static inline unsigned __float_as_uint(float f) {
	unsigned v;
	memcpy(&v, &f, sizeof v);
	return v;
}

template <class T>
static inline T min(T a, T b) { return a < b ? a : b; }
template <class T>
static inline T max(T a, T b) { return a > b ? a : b; }
