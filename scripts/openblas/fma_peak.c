// fma_peak measures the float32 FMA peak of this CPU: each thread runs 24
// independent chains of 512-bit (AVX-512F) or 256-bit (AVX2+FMA) fused
// multiply-adds, enough to cover the FMA latency on every core this project
// runs on. It prints, per vector width and thread count:
//   isa=avx512 threads=T gflops=G cpu_gflops=C
// G is wall-clock GFLOP/s of all threads together; C is GFLOP per CPU second
// (each thread's CPU time; steadier on a shared machine).
// Usage: fma_peak [seconds] [threads...]    (default 1 s, threads 1 and 2)
// Build: cc -O2 -pthread -o fma_peak fma_peak.c
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clk(clockid_t id) {
	struct timespec ts;
	clock_gettime(id, &ts);
	return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

struct job {
	int avx512;
	long iters;
	double cpu;
	float sink;
};

#define CHAINS 24

__attribute__((target("avx512f"))) static float run512(long iters) {
	__m512 acc[CHAINS];
	__m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
	for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
	for (long n = 0; n < iters; n++) {
#pragma GCC unroll 24
		for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
		__asm__ volatile("" : "+v"(x));
	}
	__m512 s = acc[0];
	for (int i = 1; i < CHAINS; i++) s = _mm512_add_ps(s, acc[i]);
	return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float run256(long iters) {
	__m256 acc[12];
	__m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
	for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
	for (long n = 0; n < iters; n++) {
#pragma GCC unroll 12
		for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
		__asm__ volatile("" : "+x"(x));
	}
	__m256 s = acc[0];
	for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, acc[i]);
	float o[8];
	_mm256_storeu_ps(o, s);
	return o[0] + o[7];
}

static void *worker(void *p) {
	struct job *j = p;
	double c0 = clk(CLOCK_THREAD_CPUTIME_ID);
	j->sink = j->avx512 ? run512(j->iters) : run256(j->iters);
	j->cpu = clk(CLOCK_THREAD_CPUTIME_ID) - c0;
	return NULL;
}

int main(int argc, char **argv) {
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	int nt[8] = {1, 2}, nn = 2;
	if (argc > 2) {
		nn = 0;
		for (int i = 2; i < argc && nn < 8; i++) nt[nn++] = atoi(argv[i]);
	}
	__builtin_cpu_init();
	for (int isa = 1; isa >= 0; isa--) {
		if (isa && !__builtin_cpu_supports("avx512f")) continue;
		if (!isa && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) continue;
		int lanes = isa ? 16 : 8, chains = isa ? CHAINS : 12;
		for (int k = 0; k < nn; k++) {
			int t = nt[k];
			// Calibrate the iteration count on one thread, then take the best of 3.
			long iters = 1 << 20;
			for (;;) {
				double t0 = clk(CLOCK_MONOTONIC);
				struct job j = {isa, iters, 0, 0};
				worker(&j);
				if (clk(CLOCK_MONOTONIC) - t0 > 0.05) break;
				iters *= 2;
			}
			double per = 0;
			{
				double t0 = clk(CLOCK_MONOTONIC);
				struct job j = {isa, iters, 0, 0};
				worker(&j);
				per = (clk(CLOCK_MONOTONIC) - t0) / iters;
			}
			iters = (long)(secs / 3 / per);
			double best = 0, bestCPU = 0;
			for (int r = 0; r < 3; r++) {
				pthread_t th[64];
				struct job js[64];
				double t0 = clk(CLOCK_MONOTONIC);
				for (int i = 0; i < t; i++) {
					js[i] = (struct job){isa, iters, 0, 0};
					pthread_create(&th[i], NULL, worker, &js[i]);
				}
				double cpu = 0;
				for (int i = 0; i < t; i++) {
					pthread_join(th[i], NULL);
					cpu += js[i].cpu;
				}
				double el = clk(CLOCK_MONOTONIC) - t0;
				double flops = 2.0 * lanes * chains * (double)iters * t;
				if (flops / el > best) best = flops / el;
				if (flops / cpu > bestCPU) bestCPU = flops / cpu;
			}
			printf("isa=%s threads=%d gflops=%.1f cpu_gflops=%.1f\n", isa ? "avx512" : "avx2", t, best / 1e9, bestCPU / 1e9);
			fflush(stdout);
		}
	}
	return 0;
}
