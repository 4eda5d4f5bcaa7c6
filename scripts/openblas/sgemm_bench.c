// sgemm_bench times OpenBLAS cblas_sgemm (row-major, no transposes) on the
// shapes of gococa's BenchmarkSgemm and prints one line per shape:
//   size=MxKxN gflops=G cpu_gflops=C
// G is the best of 3 trials (wall clock), C GFLOP per CPU second of the
// process (all threads, spinning included) in that trial.
// Usage: sgemm_bench [reps-seconds]   (threads from OPENBLAS_NUM_THREADS)
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double clk(clockid_t id) {
	struct timespec ts;
	clock_gettime(id, &ts);
	return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double now(void) { return clk(CLOCK_MONOTONIC); }

static float *rnd(size_t n) {
	float *p = malloc(n * sizeof *p);
	for (size_t i = 0; i < n; i++) p[i] = 2.0f * rand() / RAND_MAX - 1.0f;
	return p;
}

int main(int argc, char **argv) {
	static const int sizes[][3] = {
		{512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048},
		{600, 512, 1536}, {600, 2048, 512}, {400, 768, 3072}, {8, 512, 49408},
	};
	double minTime = argc > 1 ? atof(argv[1]) : 1.0;
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		int m = sizes[s][0], k = sizes[s][1], n = sizes[s][2];
		float *a = rnd((size_t)m * k), *b = rnd((size_t)k * n), *c = rnd((size_t)m * n);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
		// Best of 3 trials, each repeating until minTime/3 seconds pass.
		double best = 0, bestCPU = 0;
		for (int t = 0; t < 3; t++) {
			int reps = 0;
			double t0 = now(), c0 = clk(CLOCK_PROCESS_CPUTIME_ID), el;
			do {
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
				reps++;
				el = now() - t0;
			} while (el < minTime / 3);
			double cpu = clk(CLOCK_PROCESS_CPUTIME_ID) - c0;
			double g = 2.0 * m * n * k * reps / el / 1e9;
			if (g > best) {
				best = g;
				bestCPU = 2.0 * m * n * k * reps / cpu / 1e9;
			}
		}
		printf("size=%dx%dx%d gflops=%.1f cpu_gflops=%.1f\n", m, k, n, best, bestCPU);
		fflush(stdout);
		free(a);
		free(b);
		free(c);
	}
	return 0;
}
