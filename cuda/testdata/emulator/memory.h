// Device memory of the CUDA emulator, and the figures it counts.
//
// Memory model. All device memory (cuMemAlloc, cuMemAllocManaged) lives in
// one arena, a memfd mapped twice: the device view, which kernels, the
// GEMM, copies and memsets use, and the host view, whose addresses are the
// CUdeviceptr values handed to the library. The host view is PROT_NONE, so
// any access by the host (Go code reading or writing a device slice)
// faults; the SIGSEGV handler counts the access, records the code that
// made it, and opens that 4 KiB page until the next device operation
// closes it again, as managed memory migrates a page to the host and back.
// "Host page faults" thus counts what a GPU would migrate (managed memory)
// or crash on (device memory). Faults outside the arena go to the handler
// that was installed before (the Go runtime's).
//
// Each device has a capacity (GOCOCA_EMU_MEM bytes, default 16 GiB, or
// gococa_emu_set_capacity); an allocation beyond it fails with
// CUDA_ERROR_OUT_OF_MEMORY. Freed ranges are returned to the system
// (hole punching) and reused first-fit.
//
// Counters (gococa_emu_stats): stream synchronisations (cuStreamSynchronize
// and device-to-host copies into pageable memory, which wait for the
// stream), host-to-device and device-to-host copies and bytes, kernel
// launches, GEMMs, host page faults.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

typedef unsigned long long CUdeviceptr;

struct EmuStats {
	long long syncs;           // stream syncs + pageable device-to-host copies
	long long stream_syncs;    // cuStreamSynchronize / cuCtxSynchronize
	long long dtoh_pageable;   // device-to-host copies into pageable memory
	long long htod_calls, htod_bytes;
	long long dtoh_calls, dtoh_bytes;
	long long dtod_calls, dtod_bytes;
	long long memsets;
	long long launches, gemms;
	long long host_faults;     // host page accesses to device memory
	long long allocs, frees;   // driver allocations and frees
	long long live_bytes[8];   // device memory allocated, per device
	long long fault_overflow;  // pages the fault handler could not track
	long long collectives;     // NCCL calls
	long long device_faults;   // host_faults on device memory (not managed): a GPU would crash
};

static EmuStats emu_stats;
static std::recursive_mutex emu_mu; // one API call at a time (the fiber scheduler is global)

static const int emu_max_devices = 8;
static int emu_ndev = 2;
static size_t emu_capacity[emu_max_devices];
static const size_t emu_page = 4096;

static char* emu_host_base; // host view: the CUdeviceptr values
static char* emu_dev_base;  // device view: what kernels dereference
static size_t emu_arena;    // bytes of each view
static int emu_memfd = -1;

struct EmuBlock {
	size_t size;
	int dev;     // -1: managed (any device may use it)
	bool pinned; // host memory from cuMemAllocHost (not in the arena)
};
static std::map<size_t, EmuBlock> emu_blocks; // arena offset -> block
static std::map<size_t, size_t> emu_free;     // arena offset -> size of free range
static std::map<uintptr_t, size_t> emu_pinned; // pinned host ranges

static thread_local int emu_cur_dev = -1; // device of the current context

// emu_devpage[i] is 1 when arena page i belongs to device memory (not
// managed): the fault handler reads it without a lock.
static unsigned char* emu_devpage;

static long long emu_env_ll(const char* name, long long def) {
	const char* v = getenv(name);
	return v && *v ? atoll(v) : def;
}

// ---- host page faults ----

static const int emu_max_open = 1 << 16;
static uintptr_t emu_open_pages[emu_max_open]; // pages the host opened since the last device operation
static std::atomic<int> emu_nopen;

static const int emu_site_depth = 10;
static const int emu_max_sites = 256;
struct EmuSite {
	std::atomic<long long> count;
	uintptr_t pc[emu_site_depth];
	std::atomic<int> used; // 0 free, 1 being written, 2 ready
};
static EmuSite emu_sites[emu_max_sites];
static struct sigaction emu_old_segv;

// emu_read reads a word of this process without faulting (0 when it cannot).
static uintptr_t emu_read(uintptr_t addr) {
	uintptr_t v = 0;
	struct iovec local = {&v, sizeof v}, remote = {(void*)addr, sizeof v};
	if (addr == 0 || addr % sizeof(uintptr_t) != 0) return 0;
	if (syscall(SYS_process_vm_readv, getpid(), &local, 1, &remote, 1, 0) != (long)sizeof v) return 0;
	return v;
}

// emu_record notes the code that touched device memory: the faulting
// instruction, the word at the stack pointer (a leaf function's return
// address) and the return addresses of the frame-pointer chain.
static void emu_record(ucontext_t* uc) {
	uintptr_t pc[emu_site_depth] = {0};
	int n = 0;
#if defined(__x86_64__)
	pc[n++] = uc->uc_mcontext.gregs[REG_RIP];
	pc[n++] = emu_read(uc->uc_mcontext.gregs[REG_RSP]);
	uintptr_t fp = uc->uc_mcontext.gregs[REG_RBP];
#elif defined(__aarch64__)
	pc[n++] = uc->uc_mcontext.pc;
	pc[n++] = uc->uc_mcontext.regs[30];
	uintptr_t fp = uc->uc_mcontext.regs[29];
#else
	uintptr_t fp = 0;
#endif
	while (n < emu_site_depth && fp != 0) {
		uintptr_t ret = emu_read(fp + sizeof(uintptr_t));
		uintptr_t next = emu_read(fp);
		if (ret == 0) break;
		pc[n++] = ret;
		if (next <= fp) break;
		fp = next;
	}
	unsigned h = 0;
	for (int i = 0; i < emu_site_depth; i++) h = h * 31 + (unsigned)(pc[i] >> 2);
	for (int k = 0; k < emu_max_sites; k++) {
		EmuSite& s = emu_sites[(h + k) % emu_max_sites];
		int st = s.used.load();
		if (st == 0) {
			int zero = 0;
			if (!s.used.compare_exchange_strong(zero, 1)) continue;
			memcpy(s.pc, pc, sizeof pc);
			s.count = 1;
			s.used = 2;
			return;
		}
		if (st == 2 && memcmp(s.pc, pc, sizeof pc) == 0) {
			s.count++;
			return;
		}
	}
}

static bool emu_in_arena(const void* p) {
	return emu_host_base != NULL && (const char*)p >= emu_host_base && (const char*)p < emu_host_base + emu_arena;
}

static void emu_segv(int sig, siginfo_t* si, void* ctx) {
	if (emu_in_arena(si->si_addr)) {
		uintptr_t page = (uintptr_t)si->si_addr & ~(uintptr_t)(emu_page - 1);
		int i = emu_nopen.fetch_add(1);
		if (i < emu_max_open) {
			emu_open_pages[i] = page;
		} else {
			__atomic_fetch_add(&emu_stats.fault_overflow, 1, __ATOMIC_RELAXED);
		}
		if (mprotect((void*)page, emu_page, PROT_READ | PROT_WRITE) != 0) {
			__atomic_fetch_add(&emu_stats.fault_overflow, 1, __ATOMIC_RELAXED);
			mprotect(emu_host_base, emu_arena, PROT_READ | PROT_WRITE); // keep running; the figures are void
		}
		__atomic_fetch_add(&emu_stats.host_faults, 1, __ATOMIC_RELAXED);
		if (emu_devpage != NULL && __atomic_load_n(&emu_devpage[(page - (uintptr_t)emu_host_base) / emu_page], __ATOMIC_RELAXED)) {
			__atomic_fetch_add(&emu_stats.device_faults, 1, __ATOMIC_RELAXED);
		}
		emu_record((ucontext_t*)ctx);
		return;
	}
	// Not ours: hand it to the previous handler (the Go runtime's).
	if (emu_old_segv.sa_flags & SA_SIGINFO) {
		emu_old_segv.sa_sigaction(sig, si, ctx);
	} else if (emu_old_segv.sa_handler != SIG_DFL && emu_old_segv.sa_handler != SIG_IGN) {
		emu_old_segv.sa_handler(sig);
	} else {
		signal(sig, SIG_DFL);
		raise(sig);
	}
}

// emu_device_op closes the pages the host opened: the device works next.
static void emu_device_op() {
	int n = emu_nopen.exchange(0);
	if (n > emu_max_open) {
		mprotect(emu_host_base, emu_arena, PROT_NONE);
		return;
	}
	for (int i = 0; i < n; i++) mprotect((void*)emu_open_pages[i], emu_page, PROT_NONE);
}

// ---- the arena ----

static int emu_mem_init() {
	if (emu_host_base != NULL) return 0;
	emu_ndev = (int)emu_env_ll("GOCOCA_EMU_DEVICES", 2);
	if (emu_ndev < 1) emu_ndev = 1;
	if (emu_ndev > emu_max_devices) emu_ndev = emu_max_devices;
	long long cap = emu_env_ll("GOCOCA_EMU_MEM", 16LL << 30);
	for (int d = 0; d < emu_max_devices; d++) emu_capacity[d] = (size_t)cap;
	emu_arena = (size_t)64 << 30; // address space only: pages exist once touched
	emu_memfd = (int)syscall(SYS_memfd_create, "gococa-emulated-device", 0);
	if (emu_memfd < 0 || ftruncate(emu_memfd, (off_t)emu_arena) != 0) return 1;
	void* h = mmap(NULL, emu_arena, PROT_NONE, MAP_SHARED | MAP_NORESERVE, emu_memfd, 0);
	void* d = mmap(NULL, emu_arena, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, emu_memfd, 0);
	if (h == MAP_FAILED || d == MAP_FAILED) return 1;
	emu_devpage = (unsigned char*)calloc(emu_arena / emu_page, 1);
	if (emu_devpage == NULL) return 1;
	emu_host_base = (char*)h;
	emu_dev_base = (char*)d;
	emu_free[emu_page] = emu_arena - emu_page; // offset 0 stays unused: no null device pointer
	// Installed as the Go runtime installs its own (which stays the
	// handler of every other fault): on the signal stack, same mask.
	if (sigaction(SIGSEGV, NULL, &emu_old_segv) != 0) return 1;
	struct sigaction sa = emu_old_segv;
	sa.sa_sigaction = emu_segv;
	sa.sa_flags = (emu_old_segv.sa_flags | SA_SIGINFO | SA_ONSTACK) & ~SA_RESETHAND;
	if (sigaction(SIGSEGV, &sa, NULL) != 0) return 1;
	return 0;
}

// emu_alloc takes n bytes (rounded to pages) for device dev (-1: managed)
// and returns the host-view address, or 0 when the device is full.
static CUdeviceptr emu_alloc(size_t n, int dev) {
	n = (n + emu_page - 1) / emu_page * emu_page;
	if (n == 0) n = emu_page;
	int acct = dev < 0 ? (emu_cur_dev < 0 ? 0 : emu_cur_dev) : dev;
	if ((size_t)emu_stats.live_bytes[acct] + n > emu_capacity[acct]) return 0;
	for (auto it = emu_free.begin(); it != emu_free.end(); ++it) {
		if (it->second < n) continue;
		size_t off = it->first, rest = it->second - n;
		emu_free.erase(it);
		if (rest > 0) emu_free[off + n] = rest;
		emu_blocks[off] = EmuBlock{n, dev, false};
		if (dev >= 0) memset(emu_devpage + off / emu_page, 1, n / emu_page);
		emu_stats.live_bytes[acct] += n;
		emu_stats.allocs++;
		memset(emu_dev_base + off, 0xff, n); // garbage: nothing may rely on fresh memory being zero
		return (CUdeviceptr)(uintptr_t)(emu_host_base + off);
	}
	return 0;
}

static int emu_free_block(CUdeviceptr p) {
	if (!emu_in_arena((void*)(uintptr_t)p)) return 1;
	size_t off = (size_t)((char*)(uintptr_t)p - emu_host_base);
	auto it = emu_blocks.find(off);
	if (it == emu_blocks.end()) return 1;
	size_t n = it->second.size;
	int acct = it->second.dev < 0 ? 0 : it->second.dev;
	emu_stats.live_bytes[acct] -= n;
	emu_stats.frees++;
	emu_blocks.erase(it);
	memset(emu_devpage + off / emu_page, 0, n / emu_page);
	fallocate(emu_memfd, 0x02 | 0x01 /* PUNCH_HOLE | KEEP_SIZE */, (off_t)off, (off_t)n);
	// merge with the neighbouring free ranges
	auto next = emu_free.lower_bound(off);
	if (next != emu_free.end() && off + n == next->first) {
		n += next->second;
		emu_free.erase(next);
	}
	auto prev = emu_free.lower_bound(off);
	if (prev != emu_free.begin()) {
		--prev;
		if (prev->first + prev->second == off) {
			prev->second += n;
			return 0;
		}
	}
	emu_free[off] = n;
	return 0;
}

// emu_block_of returns the block holding host-view address p (NULL if none).
static const EmuBlock* emu_block_of(const void* p, size_t* off_in_block) {
	if (!emu_in_arena(p)) return NULL;
	size_t off = (size_t)((const char*)p - emu_host_base);
	auto it = emu_blocks.upper_bound(off);
	if (it == emu_blocks.begin()) return NULL;
	--it;
	if (off >= it->first + it->second.size) return NULL;
	if (off_in_block) *off_in_block = off - it->first;
	return &it->second;
}

static bool emu_is_pinned(const void* p) {
	auto it = emu_pinned.upper_bound((uintptr_t)p);
	if (it == emu_pinned.begin()) return false;
	--it;
	return (uintptr_t)p < it->first + it->second;
}

static const char* emu_kernel_name; // for messages

// emu_xlate maps a host-view pointer a kernel or a library call receives to
// the device view. A pointer outside the arena is left as it is; a kernel
// given memory of another device than its context's is an error, as on a
// GPU without peer access.
static bool emu_xlate_bad;
template <class T>
static T* emu_xlate(T* p) {
	if (!emu_in_arena((const void*)p)) return p;
	const EmuBlock* b = emu_block_of((const void*)p, NULL);
	if (b == NULL) {
		fprintf(stderr, "emulator: %s: pointer %p is not allocated device memory\n",
			emu_kernel_name ? emu_kernel_name : "call", (const void*)p);
		emu_xlate_bad = true;
	} else if (b->dev >= 0 && emu_cur_dev >= 0 && b->dev != emu_cur_dev) {
		fprintf(stderr, "emulator: %s: pointer %p is memory of device %d, used on device %d\n",
			emu_kernel_name ? emu_kernel_name : "call", (const void*)p, b->dev, emu_cur_dev);
		emu_xlate_bad = true;
	}
	return (T*)((char*)emu_dev_base + ((const char*)p - emu_host_base));
}

// emu_ptr translates an address given to a copy or memset (device or host).
static void* emu_ptr(uintptr_t p) { return emu_xlate((char*)p); }

extern "C" {

void gococa_emu_stats(EmuStats* out) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	*out = emu_stats;
	out->host_faults = __atomic_load_n(&emu_stats.host_faults, __ATOMIC_RELAXED);
}

void gococa_emu_reset_sites(void) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	for (int i = 0; i < emu_max_sites; i++) {
		emu_sites[i].used = 0;
		emu_sites[i].count = 0;
	}
}

// gococa_emu_sites writes up to max sites (emu_site_depth program counters
// each, then the count) and returns how many there are.
int gococa_emu_sites(uintptr_t* out, int max) {
	int n = 0;
	for (int i = 0; i < emu_max_sites; i++) {
		EmuSite& s = emu_sites[i];
		if (s.used != 2) continue;
		if (n < max) {
			memcpy(out + n * (emu_site_depth + 1), s.pc, sizeof s.pc);
			out[n * (emu_site_depth + 1) + emu_site_depth] = (uintptr_t)s.count.load();
		}
		n++;
	}
	return n;
}

int gococa_emu_site_depth(void) { return emu_site_depth; }

// gococa_emu_set_capacity sets device dev's memory (bytes) and returns the
// previous capacity.
size_t gococa_emu_set_capacity(int dev, size_t bytes) {
	std::lock_guard<std::recursive_mutex> l(emu_mu);
	if (dev < 0 || dev >= emu_max_devices) return 0;
	size_t old = emu_capacity[dev];
	emu_capacity[dev] = bytes;
	return old;
}

} // extern "C"
