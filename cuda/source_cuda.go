//go:build cuda && cgo

package cuda

// kernelNames lists every kernel of kernelSource; New looks each one up,
// and the NVRTC test checks that the PTX defines each.
var kernelNames = []string{
	"k_fill", "k_map", "k_map_backward", "k_binary", "k_strided",
	"k_reduce_cols", "k_reduce_rows", "k_reduce_finish",
	"k_axpy", "k_scale", "k_sum_partial", "k_dsum", "k_nonfinite_partial",
	"k_softmax", "k_softmax_backward",
	"k_layernorm", "k_layernorm_dx", "k_layernorm_dgb", "k_cols_finish",
	"k_normalize", "k_normalize_backward",
	"k_attn_fwd", "k_attn_rowdot", "k_attn_bwd_dq", "k_attn_bwd_dkdv",
	"k_gather", "k_scatter_add", "k_ce_fwd", "k_ce_bwd", "k_ce_mean", "k_causal_mask",
	"k_id_sort", "k_scatter_add_sorted", "k_ids_cols", "k_ids_range", "k_causal_mask_ids",
	"k_adamw", "k_sgd", "k_gemm_beta", "k_clamp", "k_widen_bf16",
	"k_af_rows", "k_af_cols", "k_af_rfac", "k_af_rowsq", "k_af_sq", "k_af_apply",
}

// kernelSource is every kernel except the GEMMs (cuBLAS), compiled once per
// process by NVRTC for the device's architecture. Conventions: element
// counts and offsets are 64-bit (i64); elementwise kernels use grid-stride
// loops; row kernels take one block per row (blockDim a multiple of 32);
// reductions are deterministic (fixed partition, fixed order, no atomics).
// Kernels named *backward or *_bwd accumulate into their gradients, as the
// tensor.Backend contract says.
const kernelSource = `
typedef long long i64;
#define NEG_INF (__int_as_float(0xff800000))
#define MAXD 8
#define FOR_N(i, n) for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)gridDim.x * blockDim.x)

// Dims describes a walk over shape with up to three operands' element
// strides (s0, s1, s2); axes past rank are unused. small is set when the
// walk has fewer than 2³² elements: indices are then split with 32-bit
// divisions.
struct Dims {
	int rank;
	int small;
	i64 shape[MAXD];
	i64 s0[MAXD];
	i64 s1[MAXD];
	i64 s2[MAXD];
};

__device__ __forceinline__ void offsets3(const Dims& d, i64 i, i64& o0, i64& o1, i64& o2) {
	o0 = 0; o1 = 0; o2 = 0;
	if (d.small) {
		unsigned u = (unsigned)i;
#pragma unroll
		for (int k = MAXD - 1; k >= 0; --k) {
			if (k < d.rank) {
				const unsigned n = (unsigned)d.shape[k];
				const unsigned q = u / n;
				const i64 c = u - q * n;
				u = q;
				o0 += c * d.s0[k];
				o1 += c * d.s1[k];
				o2 += c * d.s2[k];
			}
		}
		return;
	}
#pragma unroll
	for (int k = MAXD - 1; k >= 0; --k) {
		if (k < d.rank) {
			const i64 n = d.shape[k];
			const i64 q = i / n;
			const i64 c = i - q * n;
			i = q;
			o0 += c * d.s0[k];
			o1 += c * d.s1[k];
			o2 += c * d.s2[k];
		}
	}
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
	for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

__device__ __forceinline__ double warp_sum_d(double v) {
#pragma unroll
	for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
	for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}

// block_sum returns the sum of v over the block to every thread. sh holds
// 33 values; blockDim.x is a multiple of 32.
__device__ float block_sum(float v, float* sh) {
	const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
	v = warp_sum(v);
	__syncthreads();
	if (lane == 0) sh[w] = v;
	__syncthreads();
	if (w == 0) {
		float t = lane < nw ? sh[lane] : 0.f;
		t = warp_sum(t);
		if (lane == 0) sh[32] = t;
	}
	__syncthreads();
	return sh[32];
}

__device__ double block_sum_d(double v, double* sh) {
	const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
	v = warp_sum_d(v);
	__syncthreads();
	if (lane == 0) sh[w] = v;
	__syncthreads();
	if (w == 0) {
		double t = lane < nw ? sh[lane] : 0.0;
		t = warp_sum_d(t);
		if (lane == 0) sh[32] = t;
	}
	__syncthreads();
	return sh[32];
}

__device__ float block_max(float v, float* sh) {
	const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
	v = warp_max(v);
	__syncthreads();
	if (lane == 0) sh[w] = v;
	__syncthreads();
	if (w == 0) {
		float t = lane < nw ? sh[lane] : NEG_INF;
		t = warp_max(t);
		if (lane == 0) sh[32] = t;
	}
	__syncthreads();
	return sh[32];
}

// ---- elementwise ----

extern "C" __global__ void k_fill(float* dst, i64 n, float v) {
	FOR_N(i, n) dst[i] = v;
}

// k_causal_mask: dst (b, n, n) = the additive causal mask (−∞ above the
// diagonal), except row "row" of each block, copied from rm (b, n).
extern "C" __global__ void k_causal_mask(float* dst, const float* rm, i64 total, int n, int row) {
	FOR_N(k, total) {
		const i64 j = k % n, r = k / n, i = r % n, bi = r / n;
		dst[k] = i == row ? rm[bi * n + j] : (j > i ? NEG_INF : 0.f);
	}
}

// k_clamp: x = min(max(x, lo), hi); NaN stays NaN.
extern "C" __global__ void k_clamp(float* x, i64 n, float lo, float hi) {
	FOR_N(i, n) {
		const float v = x[i];
		if (v < lo) x[i] = lo;
		else if (v > hi) x[i] = hi;
	}
}

// k_widen_bf16: dst[i] = the float32 value of the bfloat16 src[i] (the
// high half of its bits).
extern "C" __global__ void k_widen_bf16(float* dst, const unsigned short* src, i64 n) {
	FOR_N(i, n) dst[i] = __int_as_float(((unsigned)src[i]) << 16);
}

__device__ __forceinline__ float sigm(float u) { return 1.f / (1.f + expf(-u)); }

// The MapOp values of package tensor: exp, GELU (erf), QuickGELU, GELU
// (tanh form, as x·σ(2k(x + c·x³))), sigmoid, tanh, neg.
__device__ __forceinline__ float map_f(int op, float x) {
	switch (op) {
	case 0: return expf(x);
	case 1: return x * (0.5f * erfcf(-x * 0.70710678118654752f));
	case 2: return x * sigm(1.702f * x);
	case 3: return x * sigm(1.5957691216057308f * (x + 0.044715f * x * x * x));
	case 4: return sigm(x);
	case 5: return tanhf(x);
	default: return -x;
	}
}

// map_df is f'(x) given x and y = f(x).
__device__ __forceinline__ float map_df(int op, float x, float y) {
	switch (op) {
	case 0: return y;
	case 1: {
		float ph = 0.5f * erfcf(-x * 0.70710678118654752f);
		return ph + x * 0.3989422804014327f * expf(-0.5f * x * x);
	}
	case 2: {
		float e = expf(-fmaxf(1.702f * x, -80.f));
		float s = 1.f / (1.f + e);
		return s + 1.702f * x * s * (e * s);
	}
	case 3: {
		float x2 = x * x;
		float u = 1.5957691216057308f * (x + 0.044715f * x2 * x);
		float du = 1.5957691216057308f * (1.f + 3.f * 0.044715f * x2);
		float e = expf(-fmaxf(u, -80.f));
		float s = 1.f / (1.f + e);
		return s + x * s * (e * s) * du;
	}
	case 4: return y * (1.f - y);
	case 5: return 1.f - y * y;
	default: return -1.f;
	}
}

extern "C" __global__ void k_map(int op, float* dst, const float* x, i64 n) {
	FOR_N(i, n) dst[i] = map_f(op, x[i]);
}

// k_map_backward: dx += dy·f'(x), or with store dx = dy·f'(x)
// (tensor.MapBackwardStorer: a fresh gradient needs no zeroing).
extern "C" __global__ void k_map_backward(int op, float* dx, const float* x, const float* y, const float* dy, i64 n, int store) {
	if (store) {
		FOR_N(i, n) dx[i] = dy[i] * map_df(op, x[i], y[i]);
	} else {
		FOR_N(i, n) dx[i] += dy[i] * map_df(op, x[i], y[i]);
	}
}

// k_binary: dst[s0] = a[s1] op b[s2] (op: add, sub, mul, div).
extern "C" __global__ void k_binary(int op, float* dst, const float* a, const float* b, Dims d, i64 n) {
	FOR_N(i, n) {
		i64 o0, o1, o2;
		offsets3(d, i, o0, o1, o2);
		float x = a[o1], y = b[o2], z;
		switch (op) {
		case 0: z = x + y; break;
		case 1: z = x - y; break;
		case 2: z = x * y; break;
		default: z = x / y; break;
		}
		dst[o0] = z;
	}
}

// k_strided: dst[s0] = src[s1], or += with acc; no two elements of the walk
// share a destination.
extern "C" __global__ void k_strided(float* dst, const float* src, Dims d, i64 n, int acc) {
	FOR_N(i, n) {
		i64 o0, o1, o2;
		offsets3(d, i, o0, o1, o2);
		if (acc) dst[o0] += src[o1];
		else dst[o0] = src[o1];
	}
}

// Reductions dst[K.s0] += Σ_r src[K.s1 + R.s1] over the kept index space K
// (nK outputs) and the reduced one R (nR terms). blockIdx.y picks a chunk
// of R; with partial set, chunk sums go to partial[chunk·nK + o] and
// k_reduce_finish adds them up in chunk order.

// k_reduce_cols: 32 outputs per block (threadIdx.x), 8 threads per output
// striding over the chunk (threadIdx.y), for K's innermost axis contiguous.
extern "C" __global__ void k_reduce_cols(float* dst, const float* src, Dims K, Dims R, i64 nK, i64 nR, i64 chunk, float* partial) {
	__shared__ float sh[8][33];
	const i64 o = (i64)blockIdx.x * 32 + threadIdx.x;
	const i64 r0 = (i64)blockIdx.y * chunk;
	const i64 r1 = min(nR, r0 + chunk);
	float s = 0.f;
	i64 od = 0, os = 0, unused;
	if (o < nK) {
		offsets3(K, o, od, os, unused);
		for (i64 r = r0 + threadIdx.y; r < r1; r += 8) {
			i64 a, b, c;
			offsets3(R, r, a, b, c);
			s += src[os + b];
		}
	}
	sh[threadIdx.y][threadIdx.x] = s;
	__syncthreads();
	if (threadIdx.y == 0 && o < nK) {
		float t = 0.f;
#pragma unroll
		for (int y = 0; y < 8; y++) t += sh[y][threadIdx.x];
		if (partial) partial[(i64)blockIdx.y * nK + o] = t;
		else dst[od] += t;
	}
}

// k_reduce_rows: one block per output (blockIdx.x) and chunk, its threads
// striding over the chunk, for R's innermost axis contiguous.
extern "C" __global__ void k_reduce_rows(float* dst, const float* src, Dims K, Dims R, i64 nK, i64 nR, i64 chunk, float* partial) {
	__shared__ float sh[33];
	const i64 o = blockIdx.x;
	const i64 r0 = (i64)blockIdx.y * chunk;
	const i64 r1 = min(nR, r0 + chunk);
	i64 od, os, unused;
	offsets3(K, o, od, os, unused);
	float s = 0.f;
	for (i64 r = r0 + threadIdx.x; r < r1; r += blockDim.x) {
		i64 a, b, c;
		offsets3(R, r, a, b, c);
		s += src[os + b];
	}
	s = block_sum(s, sh);
	if (threadIdx.x == 0) {
		if (partial) partial[(i64)blockIdx.y * nK + o] = s;
		else dst[od] += s;
	}
}

extern "C" __global__ void k_reduce_finish(float* dst, const float* partial, Dims K, i64 nK, int chunks) {
	FOR_N(o, nK) {
		i64 od, a, b;
		offsets3(K, o, od, a, b);
		float t = 0.f;
		for (int c = 0; c < chunks; c++) t += partial[(i64)c * nK + o];
		dst[od] += t;
	}
}

extern "C" __global__ void k_axpy(float alpha, const float* x, float* y, i64 n) {
	FOR_N(i, n) y[i] += alpha * x[i];
}

extern "C" __global__ void k_scale(float alpha, float* dst, const float* x, i64 n) {
	FOR_N(i, n) dst[i] = alpha * x[i];
}

// k_sum_partial: part[block] = Σ x (or Σ x²) over the block's grid-stride
// share, in float64.
extern "C" __global__ void k_sum_partial(const float* x, i64 n, int squares, double* part) {
	__shared__ double sh[33];
	double s = 0.0;
	FOR_N(i, n) {
		double v = x[i];
		s += squares ? v * v : v;
	}
	s = block_sum_d(s, sh);
	if (threadIdx.x == 0) part[blockIdx.x] = s;
}

// k_nonfinite_partial: part[block] = the number of ±Inf and NaN values
// in the block's grid-stride share, in float64.
extern "C" __global__ void k_nonfinite_partial(const float* x, i64 n, double* part) {
	__shared__ double sh[33];
	double s = 0.0;
	FOR_N(i, n) s += (__float_as_uint(x[i]) & 0x7f800000u) == 0x7f800000u ? 1.0 : 0.0;
	s = block_sum_d(s, sh);
	if (threadIdx.x == 0) part[blockIdx.x] = s;
}

// k_dsum: out[0] = Σ x (one block).
extern "C" __global__ void k_dsum(const double* x, i64 n, double* out) {
	__shared__ double sh[33];
	double s = 0.0;
	for (i64 i = threadIdx.x; i < n; i += blockDim.x) s += x[i];
	s = block_sum_d(s, sh);
	if (threadIdx.x == 0) out[0] = s;
}

// k_ce_mean: out[0] = sum[0] / count, rounded to float (tensor.CrossEntropyMeaner).
extern "C" __global__ void k_ce_mean(float* out, const double* sum, int count) {
	if (threadIdx.x == 0 && blockIdx.x == 0) out[0] = (float)(sum[0] / (double)count);
}

// ---- rows ----

// k_softmax: softmax (or log-softmax) of each row; a row that is −Inf
// everywhere gives zeros (−Inf). dst may alias x.
extern "C" __global__ void k_softmax(float* dst, const float* x, int n, int lg) {
	__shared__ float sh[33];
	const float* xr = x + (i64)blockIdx.x * n;
	float* dr = dst + (i64)blockIdx.x * n;
	float m = NEG_INF;
	for (int i = threadIdx.x; i < n; i += blockDim.x) m = fmaxf(m, xr[i]);
	m = block_max(m, sh);
	if (m == NEG_INF) {
		for (int i = threadIdx.x; i < n; i += blockDim.x) dr[i] = lg ? NEG_INF : 0.f;
		return;
	}
	float s = 0.f;
	for (int i = threadIdx.x; i < n; i += blockDim.x) s += expf(xr[i] - m);
	s = block_sum(s, sh);
	if (lg) {
		float lse = m + logf(s);
		for (int i = threadIdx.x; i < n; i += blockDim.x) dr[i] = xr[i] - lse;
	} else {
		float inv = 1.f / s;
		for (int i = threadIdx.x; i < n; i += blockDim.x) dr[i] = expf(xr[i] - m) * inv;
	}
}

extern "C" __global__ void k_softmax_backward(float* dx, const float* y, const float* dy, int n, int lg) {
	__shared__ float sh[33];
	const i64 off = (i64)blockIdx.x * n;
	const float *yr = y + off, *dyr = dy + off;
	float* dxr = dx + off;
	float d = 0.f;
	for (int i = threadIdx.x; i < n; i += blockDim.x) d += lg ? dyr[i] : yr[i] * dyr[i];
	d = block_sum(d, sh);
	for (int i = threadIdx.x; i < n; i += blockDim.x) {
		dxr[i] += lg ? dyr[i] - expf(yr[i]) * d : yr[i] * (dyr[i] - d);
	}
}

// k_layernorm: mean, biased variance in a second pass, rstd = 1/√(var+eps)
// (in float64, as the CPU backend rounds it); y may alias x.
extern "C" __global__ void k_layernorm(float* y, float* mean, float* rstd, const float* x, const float* g, const float* b, int n, float eps) {
	__shared__ float sh[33];
	const i64 row = blockIdx.x;
	const float* xr = x + row * n;
	float* yr = y + row * n;
	if (n == 0) {
		if (threadIdx.x == 0) {
			mean[row] = 0.f;
			rstd[row] = (float)(1.0 / sqrt((double)eps));
		}
		return;
	}
	float s = 0.f;
	for (int i = threadIdx.x; i < n; i += blockDim.x) s += xr[i];
	const float mu = block_sum(s, sh) / (float)n;
	float v = 0.f;
	for (int i = threadIdx.x; i < n; i += blockDim.x) {
		float t = xr[i] - mu;
		v += t * t;
	}
	v = block_sum(v, sh) / (float)n;
	const float rs = (float)(1.0 / sqrt((double)v + (double)eps));
	for (int i = threadIdx.x; i < n; i += blockDim.x) yr[i] = (xr[i] - mu) * rs * g[i] + b[i];
	if (threadIdx.x == 0) {
		mean[row] = mu;
		rstd[row] = rs;
	}
}

// k_layernorm_dx: dx += rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dy·gamma.
extern "C" __global__ void k_layernorm_dx(float* dx, const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd, int n) {
	__shared__ float sh[33];
	const i64 row = blockIdx.x, off = row * n;
	const float mu = mean[row], rs = rstd[row];
	float a = 0.f, b = 0.f;
	for (int i = threadIdx.x; i < n; i += blockDim.x) {
		float xh = (x[off + i] - mu) * rs;
		float g = dy[off + i] * gamma[i];
		a += g;
		b += g * xh;
	}
	a = block_sum(a, sh) / (float)n;
	b = block_sum(b, sh) / (float)n;
	for (int i = threadIdx.x; i < n; i += blockDim.x) {
		float xh = (x[off + i] - mu) * rs;
		float g = dy[off + i] * gamma[i];
		dx[off + i] += rs * (g - a - xh * b);
	}
}

// k_layernorm_dgb: column sums Σ dy·x̂ (dgamma) and Σ dy (dbeta) over a
// chunk of rows (blockIdx.y); 32 columns per block, 8 row strides.
// With partial set the chunk sums go to partial[(chunk·2 + {0,1})·n + c].
extern "C" __global__ void k_layernorm_dgb(float* dg, float* db, float* partial, const float* dy, const float* x, const float* mean, const float* rstd, int rows, int n, int chunk) {
	__shared__ float shg[8][33], shb[8][33];
	const int c = blockIdx.x * 32 + threadIdx.x;
	const int r0 = blockIdx.y * chunk, r1 = min(rows, r0 + chunk);
	float sg = 0.f, sb = 0.f;
	if (c < n) {
		for (int r = r0 + threadIdx.y; r < r1; r += 8) {
			float d = dy[(i64)r * n + c];
			sg += d * ((x[(i64)r * n + c] - mean[r]) * rstd[r]);
			sb += d;
		}
	}
	shg[threadIdx.y][threadIdx.x] = sg;
	shb[threadIdx.y][threadIdx.x] = sb;
	__syncthreads();
	if (threadIdx.y == 0 && c < n) {
		float tg = 0.f, tb = 0.f;
#pragma unroll
		for (int y = 0; y < 8; y++) {
			tg += shg[y][threadIdx.x];
			tb += shb[y][threadIdx.x];
		}
		if (partial) {
			partial[((i64)blockIdx.y * 2) * n + c] = tg;
			partial[((i64)blockIdx.y * 2 + 1) * n + c] = tb;
		} else {
			if (dg) dg[c] += tg;
			if (db) db[c] += tb;
		}
	}
}

// k_cols_finish: dst[c] += Σ_k partial[k·stride + c].
extern "C" __global__ void k_cols_finish(float* dst, const float* partial, i64 n, int chunks, i64 stride) {
	FOR_N(c, n) {
		float t = 0.f;
		for (int k = 0; k < chunks; k++) t += partial[(i64)k * stride + c];
		dst[c] += t;
	}
}

// k_normalize: y = x / max(‖x‖, eps) per row, the norm in float64.
extern "C" __global__ void k_normalize(float* y, float* norms, const float* x, int n, float eps) {
	__shared__ double sh[33];
	const i64 off = (i64)blockIdx.x * n;
	double s = 0.0;
	for (int i = threadIdx.x; i < n; i += blockDim.x) {
		double v = x[off + i];
		s += v * v;
	}
	s = block_sum_d(s, sh);
	const double nrm = sqrt(s);
	const float d = (float)fmax(nrm, (double)eps);
	for (int i = threadIdx.x; i < n; i += blockDim.x) y[off + i] = x[off + i] / d;
	if (threadIdx.x == 0) norms[blockIdx.x] = (float)nrm;
}

extern "C" __global__ void k_normalize_backward(float* dx, const float* dy, const float* y, const float* norms, int n, float eps) {
	__shared__ double sh[33];
	const i64 off = (i64)blockIdx.x * n;
	const float nrm = norms[blockIdx.x];
	if (nrm <= eps) { // y = x/eps is linear
		for (int i = threadIdx.x; i < n; i += blockDim.x) dx[off + i] += dy[off + i] / eps;
		return;
	}
	double d = 0.0;
	for (int i = threadIdx.x; i < n; i += blockDim.x) d += (double)y[off + i] * (double)dy[off + i];
	const float df = (float)block_sum_d(d, sh);
	for (int i = threadIdx.x; i < n; i += blockDim.x) dx[off + i] += (dy[off + i] - y[off + i] * df) / nrm;
}

// ---- attention ----
//
// q, out (B,H,Lq,D); k, v (B,H,Lk,D), each at a layout Lay: element
// (b, h, i, c) at b·Lay.b + h·Lay.h + i·Lay.r + c (contiguous operands
// have (H·L·D, L·D, D); packed projections (B, L, H·D) have (L·C, D, C));
// lse (B,H,Lq) contiguous; mask (B,Lq,Lk) additive or null; causal hides
// key j from query i when j > i + Lk − Lq. Scores are
// s = (scale·q)·k + mask, computed the same way in every kernel. Blocks of
// 128 threads (4 warps); one lane per key (or per query in dK/dV) for the
// scores, one lane per feature for the products. K (and V, Q, dO) tiles of
// 32 rows sit in shared memory with an odd row pitch P, so that lanes
// reading one row each hit different banks.

struct Lay {
	i64 b, h, r;
};

__device__ __forceinline__ int key_limit(int i, int lq, int lk, int causal) {
	if (!causal) return lk;
	int l = i + lk - lq + 1;
	return l < 0 ? 0 : (l > lk ? lk : l);
}

__device__ __forceinline__ int pitch(int d) { return (d & 1) ? d : d + 1; }

// k_attn_fwd: grid (B·H, ⌈Lq/(4·qw)⌉); warp w owns queries q0 + w·qw + qq
// (qq < qw ≤ 4) and keeps their running max m, sum l and output
// accumulator (online softmax over key tiles of 32). Shared memory:
// K tile 32·P, then per warp q (qw·D), acc (qw·D), p (32).
extern "C" __global__ void k_attn_fwd(float* out, float* lse, const float* q, const float* k, const float* v,
		const float* mask, Lay ql, Lay kl, Lay vl, Lay ol, int h, int lq, int lk, int d, float scale, int causal, int qw) {
	extern __shared__ float smem[];
	const int P = pitch(d);
	const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
	const int bh = blockIdx.x, bi = bh / h, hi = bh - bi * h;
	const int q0 = blockIdx.y * 4 * qw;
	float* Ks = smem;
	float* qs = Ks + 32 * P + w * (2 * qw * d + 32);
	float* acc = qs + qw * d;
	float* pb = acc + qw * d;
	const float* qh = q + bi * ql.b + hi * ql.h;
	const float* kh = k + bi * kl.b + hi * kl.h;
	const float* vh = v + bi * vl.b + hi * vl.h;
	float m[4], l[4];
#pragma unroll
	for (int qq = 0; qq < 4; qq++) {
		m[qq] = NEG_INF;
		l[qq] = 0.f;
	}
	for (int qq = 0; qq < qw; qq++) {
		const int i = q0 + w * qw + qq;
		for (int t = lane; t < d; t += 32) {
			qs[qq * d + t] = i < lq ? scale * qh[(i64)i * ql.r + t] : 0.f;
			acc[qq * d + t] = 0.f;
		}
	}
	const int last = min(q0 + 4 * qw, lq) - 1;
	const int kend = last < 0 ? 0 : key_limit(last, lq, lk, causal);
	for (int j0 = 0; j0 < kend; j0 += 32) {
		__syncthreads();
		for (int e = threadIdx.x; e < 32 * d; e += blockDim.x) {
			const int jj = e / d, t = e - jj * d;
			Ks[jj * P + t] = j0 + jj < lk ? kh[(i64)(j0 + jj) * kl.r + t] : 0.f;
		}
		__syncthreads();
		const int nk = min(32, lk - j0);
#pragma unroll
		for (int qq = 0; qq < 4; qq++) {
			if (qq >= qw) break;
			const int i = q0 + w * qw + qq;
			if (i >= lq) break;
			const int j = j0 + lane;
			float s = NEG_INF;
			if (lane < nk && j < key_limit(i, lq, lk, causal)) {
				const float* qv = qs + qq * d;
				const float* kr = Ks + lane * P;
				float dot = 0.f;
				for (int t = 0; t < d; t++) dot += qv[t] * kr[t];
				s = dot;
				if (mask) s += mask[((i64)bi * lq + i) * lk + j];
			}
			const float mn = fmaxf(m[qq], warp_max(s));
			if (mn == NEG_INF) continue; // nothing visible yet (warp-uniform)
			const float p = expf(s - mn);
			const float corr = expf(m[qq] - mn);
			l[qq] = l[qq] * corr + warp_sum(p);
			m[qq] = mn;
			pb[lane] = p;
			__syncwarp();
			for (int t = lane; t < d; t += 32) {
				float a = acc[qq * d + t] * corr;
				for (int jj = 0; jj < nk; jj++) a += pb[jj] * vh[(i64)(j0 + jj) * vl.r + t];
				acc[qq * d + t] = a;
			}
			__syncwarp();
		}
	}
#pragma unroll
	for (int qq = 0; qq < 4; qq++) {
		if (qq >= qw) break;
		const int i = q0 + w * qw + qq;
		if (i >= lq) break;
		float* o = out + bi * ol.b + hi * ol.h + (i64)i * ol.r;
		if (l[qq] == 0.f) { // no visible key: zeros, lse −Inf
			for (int t = lane; t < d; t += 32) o[t] = 0.f;
			if (lane == 0) lse[(i64)bh * lq + i] = NEG_INF;
		} else {
			const float inv = 1.f / l[qq];
			for (int t = lane; t < d; t += 32) o[t] = acc[qq * d + t] * inv;
			if (lane == 0) lse[(i64)bh * lq + i] = m[qq] + logf(l[qq]);
		}
	}
}

// k_attn_rowdot: D[r] = Σ dout[r]·out[r] for the rows r = (b·H + h)·Lq + i,
// one warp per row.
extern "C" __global__ void k_attn_rowdot(float* D, const float* dout, const float* out, Lay dl, Lay ol, int h, int lq, i64 rows, int d) {
	const i64 r = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
	const int lane = threadIdx.x & 31;
	if (r >= rows) return; // whole warps
	const i64 bh = r / lq, i = r - bh * lq, bi = bh / h, hi = bh - bi * h;
	const float* g = dout + bi * dl.b + hi * dl.h + i * dl.r;
	const float* o = out + bi * ol.b + hi * ol.h + i * ol.r;
	float s = 0.f;
	for (int t = lane; t < d; t += 32) s += g[t] * o[t];
	s = warp_sum(s);
	if (lane == 0) D[r] = s;
}

// k_attn_bwd_dq: dq += scale·Σ_j ds·k (dq = with acc 0) with p = exp(s −
// lse), dp = dout·v, ds = p·(dp − D). Same tiling as the forward; shared
// memory: K and V tiles 2·32·P, then per warp q, dout, acc (qw·D each) and
// ds (32).
extern "C" __global__ void k_attn_bwd_dq(float* dq, const float* dout, const float* q, const float* k, const float* v,
		const float* lse, const float* Dr, const float* mask, Lay gl, Lay dl, Lay ql, Lay kl, Lay vl,
		int h, int lq, int lk, int d, float scale, int causal, int qw, int accumulate) {
	extern __shared__ float smem[];
	const int P = pitch(d);
	const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
	const int bh = blockIdx.x, bi = bh / h, hi = bh - bi * h;
	const int q0 = blockIdx.y * 4 * qw;
	float* Ks = smem;
	float* Vs = Ks + 32 * P;
	float* qs = Vs + 32 * P + w * (3 * qw * d + 32);
	float* dos = qs + qw * d;
	float* acc = dos + qw * d;
	float* pb = acc + qw * d;
	const float* qh = q + bi * ql.b + hi * ql.h;
	const float* dh = dout + bi * dl.b + hi * dl.h;
	const float* kh = k + bi * kl.b + hi * kl.h;
	const float* vh = v + bi * vl.b + hi * vl.h;
	for (int qq = 0; qq < qw; qq++) {
		const int i = q0 + w * qw + qq;
		for (int t = lane; t < d; t += 32) {
			qs[qq * d + t] = i < lq ? scale * qh[(i64)i * ql.r + t] : 0.f;
			dos[qq * d + t] = i < lq ? dh[(i64)i * dl.r + t] : 0.f;
			acc[qq * d + t] = 0.f;
		}
	}
	const int last = min(q0 + 4 * qw, lq) - 1;
	const int kend = last < 0 ? 0 : key_limit(last, lq, lk, causal);
	for (int j0 = 0; j0 < kend; j0 += 32) {
		__syncthreads();
		for (int e = threadIdx.x; e < 32 * d; e += blockDim.x) {
			const int jj = e / d, t = e - jj * d;
			const bool in = j0 + jj < lk;
			Ks[jj * P + t] = in ? kh[(i64)(j0 + jj) * kl.r + t] : 0.f;
			Vs[jj * P + t] = in ? vh[(i64)(j0 + jj) * vl.r + t] : 0.f;
		}
		__syncthreads();
		const int nk = min(32, lk - j0);
#pragma unroll
		for (int qq = 0; qq < 4; qq++) {
			if (qq >= qw) break;
			const int i = q0 + w * qw + qq;
			if (i >= lq) break;
			const int j = j0 + lane;
			float ds = 0.f;
			if (lane < nk && j < key_limit(i, lq, lk, causal)) {
				const float* qv = qs + qq * d;
				const float* kr = Ks + lane * P;
				float s = 0.f;
				for (int t = 0; t < d; t++) s += qv[t] * kr[t];
				if (mask) s += mask[((i64)bi * lq + i) * lk + j];
				if (s != NEG_INF) {
					const float p = expf(s - lse[(i64)bh * lq + i]);
					const float* dv = dos + qq * d;
					const float* vr = Vs + lane * P;
					float dp = 0.f;
					for (int t = 0; t < d; t++) dp += dv[t] * vr[t];
					ds = p * (dp - Dr[(i64)bh * lq + i]);
				}
			}
			pb[lane] = ds;
			__syncwarp();
			for (int t = lane; t < d; t += 32) {
				float a = acc[qq * d + t];
				for (int jj = 0; jj < nk; jj++) a += pb[jj] * Ks[jj * P + t];
				acc[qq * d + t] = a;
			}
			__syncwarp();
		}
	}
	for (int qq = 0; qq < qw; qq++) {
		const int i = q0 + w * qw + qq;
		if (i >= lq) break;
		float* g = dq + bi * gl.b + hi * gl.h + (i64)i * gl.r;
		for (int t = lane; t < d; t += 32) g[t] = (accumulate ? g[t] : 0.f) + scale * acc[qq * d + t];
	}
}

// k_attn_bwd_dkdv: dv += Σ_i p·dout, dk += Σ_i ds·(scale·q) (= with acc
// 0); grid (B·H,
// ⌈Lk/(4·kw)⌉); warp w owns keys j0 + w·kw + kk (kk < kw ≤ 4); lanes run
// over query tiles of 32. Shared memory: Q (scaled) and dO tiles 2·32·P,
// lse and D of the tile (2·32), then per warp k, v, dk acc, dv acc (kw·D
// each), p and ds (2·32).
extern "C" __global__ void k_attn_bwd_dkdv(float* dk, float* dv, const float* dout, const float* q, const float* k, const float* v,
		const float* lse, const float* Dr, const float* mask, Lay gkl, Lay gvl, Lay dl, Lay ql, Lay kl, Lay vl,
		int h, int lq, int lk, int d, float scale, int causal, int kw, int accumulate) {
	extern __shared__ float smem[];
	const int P = pitch(d);
	const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
	const int bh = blockIdx.x, bi = bh / h, hi = bh - bi * h;
	const int j0 = blockIdx.y * 4 * kw;
	float* Qs = smem;
	float* DOs = Qs + 32 * P;
	float* ls = DOs + 32 * P;
	float* Ds = ls + 32;
	float* kr = Ds + 32 + w * (4 * kw * d + 64);
	float* vr = kr + kw * d;
	float* adk = vr + kw * d;
	float* adv = adk + kw * d;
	float* pb = adv + kw * d;
	float* db = pb + 32;
	const float* kh = k + bi * kl.b + hi * kl.h;
	const float* vh = v + bi * vl.b + hi * vl.h;
	for (int kk = 0; kk < kw; kk++) {
		const int j = j0 + w * kw + kk;
		for (int t = lane; t < d; t += 32) {
			kr[kk * d + t] = j < lk ? kh[(i64)j * kl.r + t] : 0.f;
			vr[kk * d + t] = j < lk ? vh[(i64)j * vl.r + t] : 0.f;
			adk[kk * d + t] = 0.f;
			adv[kk * d + t] = 0.f;
		}
	}
	// With causality, queries before i = j0 − (Lk − Lq) see none of this
	// block's keys.
	int istart = 0;
	if (causal) {
		istart = j0 - lk + lq;
		istart = istart < 0 ? 0 : istart / 32 * 32;
	}
	const float* qh = q + bi * ql.b + hi * ql.h;
	const float* dh = dout + bi * dl.b + hi * dl.h;
	for (int i0 = istart; i0 < lq; i0 += 32) {
		__syncthreads();
		for (int e = threadIdx.x; e < 32 * d; e += blockDim.x) {
			const int ii = e / d, t = e - ii * d;
			const bool in = i0 + ii < lq;
			Qs[ii * P + t] = in ? scale * qh[(i64)(i0 + ii) * ql.r + t] : 0.f;
			DOs[ii * P + t] = in ? dh[(i64)(i0 + ii) * dl.r + t] : 0.f;
		}
		if (threadIdx.x < 32) {
			const bool in = i0 + (int)threadIdx.x < lq;
			ls[threadIdx.x] = in ? lse[(i64)bh * lq + i0 + threadIdx.x] : 0.f;
			Ds[threadIdx.x] = in ? Dr[(i64)bh * lq + i0 + threadIdx.x] : 0.f;
		}
		__syncthreads();
		const int nq = min(32, lq - i0);
#pragma unroll
		for (int kk = 0; kk < 4; kk++) {
			if (kk >= kw) break;
			const int j = j0 + w * kw + kk;
			if (j >= lk) break;
			const int i = i0 + lane;
			float p = 0.f, ds = 0.f;
			if (lane < nq && j < key_limit(i, lq, lk, causal)) {
				const float* qv = Qs + lane * P;
				const float* kv = kr + kk * d;
				float s = 0.f;
				for (int t = 0; t < d; t++) s += qv[t] * kv[t];
				if (mask) s += mask[((i64)bi * lq + i) * lk + j];
				if (s != NEG_INF) {
					p = expf(s - ls[lane]);
					const float* dov = DOs + lane * P;
					const float* vv = vr + kk * d;
					float dp = 0.f;
					for (int t = 0; t < d; t++) dp += dov[t] * vv[t];
					ds = p * (dp - Ds[lane]);
				}
			}
			pb[lane] = p;
			db[lane] = ds;
			__syncwarp();
			for (int t = lane; t < d; t += 32) {
				float a = adv[kk * d + t], c = adk[kk * d + t];
				for (int ii = 0; ii < nq; ii++) {
					a += pb[ii] * DOs[ii * P + t];
					c += db[ii] * Qs[ii * P + t];
				}
				adv[kk * d + t] = a;
				adk[kk * d + t] = c;
			}
			__syncwarp();
		}
	}
	for (int kk = 0; kk < kw; kk++) {
		const int j = j0 + w * kw + kk;
		if (j >= lk) break;
		float* gk = dk + bi * gkl.b + hi * gkl.h + (i64)j * gkl.r;
		float* gv = dv + bi * gvl.b + hi * gvl.h + (i64)j * gvl.r;
		for (int t = lane; t < d; t += 32) {
			gk[t] = (accumulate ? gk[t] : 0.f) + adk[kk * d + t];
			gv[t] = (accumulate ? gv[t] : 0.f) + adv[kk * d + t];
		}
	}
}

// ---- embedding, cross-entropy ----

extern "C" __global__ void k_gather(float* dst, const float* table, const int* ids, i64 total, int dim) {
	FOR_N(i, total) {
		const i64 r = i / dim;
		const int c = (int)(i - r * dim);
		dst[i] = table[(i64)ids[r] * dim + c];
	}
}

// k_scatter_add: for each distinct id (blockIdx.x) and column, adds the
// rows of dy at positions pos[start[u]..start[u+1]) in that (ascending)
// order: the sums and their order are those of a sequential loop.
extern "C" __global__ void k_scatter_add(float* dtable, const float* dy, const int* uniq, const int* start, const int* pos, int dim) {
	const int u = blockIdx.x;
	const int c = blockIdx.y * blockDim.x + threadIdx.x;
	if (c >= dim) return;
	const i64 o = (i64)uniq[u] * dim + c;
	float acc = dtable[o];
	for (int p = start[u]; p < start[u + 1]; p++) acc += dy[(i64)pos[p] * dim + c];
	dtable[o] = acc;
}

// k_id_sort: pos[slot] = i for each position i < n, where slot = the
// number of ids below ids[i] plus the number of equal ids before i: the
// positions grouped by id (ascending), in ascending order within an id (a
// stable counting sort; no atomics, the same result every run).
extern "C" __global__ void k_id_sort(int* pos, const int* ids, int n) {
	FOR_N(i, n) {
		const int v = ids[i];
		int slot = 0;
		for (int j = 0; j < n; j++) {
			const int w = ids[j];
			slot += (w < v) | ((w == v) & (j < i));
		}
		pos[slot] = (int)i;
	}
}

// k_scatter_add_sorted: k_scatter_add over positions grouped by k_id_sort:
// the block of the first slot of each id (blockIdx.x) adds that id's rows
// of dy in ascending position order; the other blocks return.
extern "C" __global__ void k_scatter_add_sorted(float* dtable, const float* dy, const int* ids, const int* pos, int n, int dim) {
	const int s = blockIdx.x;
	const int c = blockIdx.y * blockDim.x + threadIdx.x;
	const int v = ids[pos[s]];
	if (c >= dim || (s > 0 && ids[pos[s - 1]] == v)) return;
	const i64 o = (i64)v * dim + c;
	float acc = dtable[o];
	for (int p = s; p < n && ids[pos[p]] == v; p++) acc += dy[(i64)pos[p] * dim + c];
	dtable[o] = acc;
}

// k_ids_cols: dst (total/w rows of w) = columns [off, off+w) of src's rows
// of ld ids.
extern "C" __global__ void k_ids_cols(int* dst, const int* src, i64 total, int w, int ld, int off) {
	FOR_N(k, total) {
		const i64 r = k / w;
		dst[k] = src[r * ld + off + (k - r * w)];
	}
}

// k_ids_range: dst[i] = first + i.
extern "C" __global__ void k_ids_range(int* dst, i64 n, int first) {
	FOR_N(i, n) dst[i] = first + (int)i;
}

// k_causal_mask_ids: dst (b, n, n) = the additive causal mask, except row
// "row" of each block, where key j is −∞ when id j − shift of the block's
// ids (b, l) is pad (keys outside the ids are never hidden).
extern "C" __global__ void k_causal_mask_ids(float* dst, const int* ids, i64 total, int n, int row, int l, int pad, int shift) {
	FOR_N(k, total) {
		const i64 j = k % n, r = k / n, i = r % n, bi = r / n;
		float v;
		if (i == row) {
			const i64 t = j - shift;
			v = (t >= 0 && t < l && ids[bi * l + t] == pad) ? NEG_INF : 0.f;
		} else {
			v = j > i ? NEG_INF : 0.f;
		}
		dst[k] = v;
	}
}

// k_ce_fwd: lse of each row and term[row] = lse − logit[target] (0 for an
// ignored row), in float64.
extern "C" __global__ void k_ce_fwd(float* lse, double* term, const float* logits, const int* targets, int n, int ignore) {
	__shared__ float sh[33];
	const i64 row = blockIdx.x;
	const float* xr = logits + row * n;
	float m = NEG_INF;
	for (int i = threadIdx.x; i < n; i += blockDim.x) m = fmaxf(m, xr[i]);
	m = block_max(m, sh);
	float l = m;
	if (m != NEG_INF) {
		float s = 0.f;
		for (int i = threadIdx.x; i < n; i += blockDim.x) s += expf(xr[i] - m);
		l = m + logf(block_sum(s, sh));
	}
	if (threadIdx.x == 0) {
		lse[row] = l;
		const int t = targets[row];
		term[row] = t == ignore ? 0.0 : (double)l - (double)xr[t];
	}
}

// k_ce_bwd: dlogits += g·(softmax − onehot) for rows not ignored; with
// store, dlogits = g·(softmax − onehot), and zeros in ignored rows
// (tensor.CrossEntropyBackwardStorer: the vocabulary-wide gradient needs
// no zeroing pass). With gp, g = gp[0] / count, read on the device
// (tensor.CrossEntropyMeaner).
extern "C" __global__ void k_ce_bwd(float* dl, const float* logits, const float* lse, const int* targets, int n, int ignore, float g, int store, const float* gp, int count) {
	if (gp) g = gp[0] / (float)count;
	const i64 row = blockIdx.x;
	const int t = targets[row];
	float* dr = dl + row * n;
	if (t == ignore) {
		if (store) {
			for (int i = threadIdx.x; i < n; i += blockDim.x) dr[i] = 0.f;
		}
		return;
	}
	const float l = lse[row];
	const float* xr = logits + row * n;
	for (int i = threadIdx.x; i < n; i += blockDim.x) {
		float d = g * expf(xr[i] - l);
		if (!store) d = dr[i] + d;
		if (i == t) d -= g;
		dr[i] = d;
	}
}

// ---- Adafactor (package optim's Adafactor, one parameter per call) ----
// A factored parameter is b matrices of r rows and c columns; G = g² + eps1.

// k_af_rows: one block per row k: row[k] = bt·row[k] + ombt·mean_j G.
extern "C" __global__ void k_af_rows(float* row, const float* g, int c, float bt, float ombt, float eps1) {
	__shared__ double sh[33];
	const float* gr = g + (i64)blockIdx.x * c;
	double s = 0.0;
	for (int j = threadIdx.x; j < c; j += blockDim.x) s += (double)(gr[j] * gr[j] + eps1);
	s = block_sum_d(s, sh);
	if (threadIdx.x == 0) row[blockIdx.x] = row[blockIdx.x] * bt + ombt * (float)(s / (double)c);
}

// k_af_cols: one thread per column j of matrix blockIdx.y: col = bt·col +
// ombt·mean_i G (summed in row order), cfac = 1/√col.
extern "C" __global__ void k_af_cols(float* col, float* cfac, const float* g, int r, int c, float bt, float ombt, float eps1) {
	const int j = blockIdx.x * blockDim.x + threadIdx.x;
	if (j >= c) return;
	const float* gb = g + (i64)blockIdx.y * r * c;
	double s = 0.0;
	for (int i = 0; i < r; i++) {
		const float v = gb[(i64)i * c + j];
		s += (double)(v * v + eps1);
	}
	const i64 k = (i64)blockIdx.y * c + j;
	const float v = col[k] * bt + ombt * (float)(s / (double)r);
	col[k] = v;
	cfac[k] = 1.f / (float)sqrt((double)v);
}

// k_af_rfac: one block per matrix: rfac = 1/√(row / mean row).
extern "C" __global__ void k_af_rfac(float* rfac, const float* row, int r) {
	__shared__ double sh[33];
	const float* rr = row + (i64)blockIdx.x * r;
	double s = 0.0;
	for (int i = threadIdx.x; i < r; i += blockDim.x) s += (double)rr[i];
	s = block_sum_d(s, sh);
	const float mean = (float)(s / (double)r);
	for (int i = threadIdx.x; i < r; i += blockDim.x) rfac[(i64)blockIdx.x * r + i] = 1.f / (float)sqrt((double)(rr[i] / mean));
}

// k_af_rowsq: one block per row k of matrix k/r: part[k] = rfac[k]²·Σ_j
// (cfac_j·g_j)², the row's share of Σ u² for u = rfac·cfac·g.
extern "C" __global__ void k_af_rowsq(double* part, const float* g, const float* rfac, const float* cfac, int r, int c) {
	__shared__ double sh[33];
	const i64 k = blockIdx.x;
	const float* gr = g + k * c;
	const float* cf = cfac + (k / r) * c;
	double s = 0.0;
	for (int j = threadIdx.x; j < c; j += blockDim.x) {
		const double u = (double)(cf[j] * gr[j]);
		s += u * u;
	}
	s = block_sum_d(s, sh);
	if (threadIdx.x == 0) {
		const double x = (double)rfac[k];
		part[k] = x * x * s;
	}
}

// k_af_sq (not factored): sq = bt·sq + ombt·G; part[block] = Σ u² for
// u = g/√sq over the block's share.
extern "C" __global__ void k_af_sq(float* sq, double* part, const float* g, i64 n, float bt, float ombt, float eps1) {
	__shared__ double sh[33];
	double s = 0.0;
	FOR_N(j, n) {
		const float gj = g[j];
		const float v = sq[j] * bt + ombt * (gj * gj + eps1);
		sq[j] = v;
		const double u = (double)(1.f / (float)sqrt((double)v) * gj);
		s += u * u;
	}
	s = block_sum_d(s, sh);
	if (threadIdx.x == 0) part[blockIdx.x] = s;
}

// k_af_apply: the update u, clipped to RMS clip and times lr (the factor
// scale from Σu² at *sumsq), through the first moment m when there is
// one, then w = w + wd·w − u. Factored (rfac not null): u = rfac·cfac·g;
// else u = g/√sq.
extern "C" __global__ void k_af_apply(float* w, float* m, const float* g, const float* sq, const float* rfac, const float* cfac,
		const double* sumsq, i64 n, int r, int c, double clip, double lr, float wd, float b1, float omb1) {
	const float rms = (float)(sqrt(*sumsq) / sqrt((double)n));
	float den = (float)((double)rms / clip);
	if (den < 1.f || den != den) den = 1.f;
	const float scale = (float)(lr / (double)den);
	FOR_N(i, n) {
		const float gi = g[i];
		float u;
		if (rfac != 0) {
			const i64 rc = (i64)r * c;
			const i64 bb = i / rc, j = i % c;
			const float rf = rfac[bb * r + (i % rc) / c];
			const float t = rf * cfac[bb * c + j] * gi * scale;
			u = m != 0 ? m[i] * b1 + t * omb1 : t;
		} else {
			const float t = gi / (float)sqrt((double)sq[i]) * scale;
			u = m != 0 ? m[i] * b1 + t * omb1 : t;
		}
		if (m != 0) m[i] = u;
		const float x = w[i];
		w[i] = x + wd * x - u;
	}
}

// ---- optimizer updates (tensor.AdamWStep, tensor.SGDStep) ----

extern "C" __global__ void k_adamw(float* w, const float* g, float* m, float* v, i64 n,
		float b1, float b2, float omb1, float omb2, float decay, float negStep, float eps) {
	FOR_N(j, n) {
		const float gj = g[j];
		const float mj = m[j] * b1 + gj * omb1;
		const float vj = v[j] * b2 + omb2 * gj * gj;
		m[j] = mj;
		v[j] = vj;
		w[j] = w[j] * decay + negStep * mj / (sqrtf(vj) + eps);
	}
}

extern "C" __global__ void k_sgd(float* w, const float* g, float* b, i64 n, float negLR, float wd, float mu, float omd,
		int momentum, int first, int nesterov) {
	FOR_N(j, n) {
		const float gj = g[j], wj = w[j];
		if (!momentum) {
			w[j] = wd == 0.f ? wj + gj * negLR : wj + (gj + wj * wd) * negLR;
		} else if (first) {
			float d = gj + wj * wd;
			b[j] = d;
			if (nesterov) d += d * mu;
			w[j] = wj + d * negLR;
		} else if (nesterov) {
			const float d = gj + wj * wd;
			const float bj = b[j] * mu + d * omd;
			b[j] = bj;
			w[j] = wj + (d + bj * mu) * negLR;
		} else {
			const float bj = b[j] * mu + (gj + wj * wd) * omd;
			b[j] = bj;
			w[j] = wj + bj * negLR;
		}
	}
}

// k_gemm_beta: C = beta·C (zero when beta is 0) for a GEMM with k = 0;
// C is m×n with row stride ldc, batch matrices strideC apart.
extern "C" __global__ void k_gemm_beta(float* c, int m, int n, int ldc, i64 strideC, int batch, float beta) {
	const i64 total = (i64)batch * m * n;
	FOR_N(i, total) {
		const i64 bt = i / ((i64)m * n);
		const i64 r = i - bt * m * n;
		const i64 o = bt * strideC + (r / n) * ldc + r % n;
		c[o] = beta == 0.f ? 0.f : beta * c[o];
	}
}
`
