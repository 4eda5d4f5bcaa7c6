// Package cuda is the GPU backend: tensor.Backend on NVIDIA GPUs, built
// with -tags cuda (and cgo). Without the tag the package still compiles:
// New then returns an error saying the binary was built without CUDA.
//
// Use:
//
//	b, err := cuda.New(cuda.Options{})  // GPU 0, exact float32 GEMMs
//	if err != nil { ... }               // no GPU, no driver, no NVRTC: one line saying which
//	tensor.SetBackend(b)                // before building the model
//
// Memory: the backend keeps tensors in CUDA managed memory, which the CPU
// and the GPU address alike. It implements tensor.Allocator, so the
// activation pool, parameters, gradients and optimizer state are
// allocated there and the kernels use them in place; host code (losses,
// checkpoints, Data) reads and writes them directly, the driver moving
// pages on demand. Any other slice a kernel receives (Go memory: token
// ids, targets, inputs made with FromSlice) is copied to device memory and
// back around the call. A caching allocator (size classes carved from
// 2 MiB slabs, larger blocks on their own) reuses freed blocks, so a
// steady training step makes no driver allocation. Device memory is not
// garbage collected: tensors made with New under this backend live as
// long as the process.
//
// Kernels: the GEMMs are cuBLAS (cublasGemmStridedBatchedEx: float32, or
// with Options.Math TF32 or BF16 tensor cores accumulating in float32);
// everything else is CUDA C in this package (source_cuda.go) compiled once
// per process by NVRTC for the GPU's architecture: elementwise maps and
// their backward, broadcast binary ops, strided copies and deterministic
// reductions, softmax, layer norm, L2 normalisation, flash-style attention
// (online softmax over key tiles, causal and additive masks, lse saved;
// backward without atomics; heads read and written in place in packed
// projections: tensor.StridedAttention), embedding gather and scatter-add (grouped by
// id on the host, so sums are in the serial order), cross-entropy, and
// the AdamW and SGD updates.
//
// Synchronisation: every Backend method waits for its kernels before it
// returns, so results are visible to the host at once; the cost is one
// stream synchronisation (a few microseconds) per call.
//
// Run-time requirements: Linux, an NVIDIA driver (libcuda.so.1), and the
// NVRTC and cuBLAS shared libraries of CUDA 11.8 or later (libnvrtc.so,
// libnvrtc.so.12 or libnvrtc.so.11.2; libcublas.so, .12 or .11), found by
// the dynamic loader or named by GOCOCA_LIBCUDA, GOCOCA_LIBNVRTC and
// GOCOCA_LIBCUBLAS; and a GPU that can access managed memory concurrently
// with the CPU (Pascal or newer). Nothing CUDA is needed to build.
package cuda
