// Package cuda is the GPU backend: tensor.Backend on NVIDIA GPUs, built
// with -tags cuda (and cgo). Without the tag the package still compiles:
// New then returns an error saying the binary was built without CUDA.
//
// Use:
//
//	b, err := cuda.New(cuda.Options{Device: cuda.AutoDevice}) // GPU 0, or the launcher's local rank's
//	if err != nil { ... }  // no GPU, no driver, no NVRTC: one line saying which
//	tensor.SetBackend(b)   // before building the model
//
// Memory (Options.Memory). With "device", the default, tensors live in
// device memory (the backend implements tensor.Allocator, so the
// activation pool, parameters, gradients and optimizer state are
// allocated there and the kernels use them in place) and the calls only
// queue their kernels on the GPU's one stream; the host waits only where
// it reads a value (Sum, SumSquares, CopyToHost, a result written into Go
// memory) and never touches device memory itself (the process would
// crash): values move with explicit copies (CopyToHost, CopyFromHost;
// tensor.Item, Items, HostValues, CopyOut, CopyIn, CopyFrom). The values
// the host used to write are written by kernels (tensor.CausalMasker and
// tensor.IDBackend: the text mask from the token ids; tensor.IDs: the
// ids copied once per step and the labels and targets derived on the
// device; tensor.CrossEntropyMeaner: the loss and its gradient; the
// backward seed by Fill; tensor.NonFiniteCounter: package train's check
// that an update left the parameters finite), so a training step waits
// twice (the losses, the gradient norm) and a cached caption once per
// token. With "managed" (GOCOCA_CUDA_MEMORY=managed) tensors live in CUDA
// managed memory, which the CPU and the GPU address alike, and every
// backend call waits for its kernels before it returns, so host code may
// read them at once: one stream synchronisation per call.
//
// Either way, any other slice a kernel receives (Go memory: token ids,
// targets, inputs made with FromSlice) is copied to the device, and back
// when written, around the call. A caching allocator (size classes carved
// from 2 MiB slabs, larger blocks on their own) reuses freed blocks in
// stream order, so a steady training step makes no driver allocation. It
// takes at most the GPU's memory (Options.MemoryLimit) even for managed
// memory, which the driver would otherwise page in and out on every
// access: out of memory it returns its cached blocks to the driver and
// retries, then panics with a message naming the GPU and the figures.
// Device memory is not garbage collected: tensors made with New under
// this backend live as long as the process.
//
// Kernels: the GEMMs are cuBLAS (cublasGemmStridedBatchedEx: float32, or
// with Options.Math TF32 or BF16 tensor cores accumulating in float32);
// everything else is CUDA C in this package (source_cuda.go) compiled once
// per process by NVRTC for the GPU's architecture: elementwise maps and
// their backward (accumulating, or storing into a fresh gradient:
// tensor.MapBackwardStorer, tensor.CrossEntropyBackwardStorer), broadcast
// binary ops, strided copies and deterministic reductions, softmax, layer
// norm, L2 normalisation, flash-style attention (online softmax over key
// tiles, causal and additive masks, lse saved; backward without atomics;
// heads read and written in place in packed projections:
// tensor.StridedAttention), embedding gather and scatter-add (grouped by
// id, on the host for ids in Go memory and by a counting sort on the
// device for tensor.IDs, so sums are in the serial order), cross-entropy, the
// AdamW and SGD updates, and for package optim multi-tensor calls (the
// gradient norm, scaling, zeroing and AdamW of all parameters in one call
// each), a clamp and Adafactor, and the widening of bfloat16 weights
// (tensor.BF16Widener: products with bfloat16 weights widen them on the
// device and run cuBLAS). Decoding steps (tensor.AttendKV, the key/value
// caches) use the generic kernels: the backend implements neither
// tensor.KVAttention nor tensor.BF16Multiplier, whose fallbacks are
// batched GEMMs and softmax.
//
// Several GPUs: one process (rank) per GPU. AutoDevice picks the GPU of
// the launcher's local rank (LauncherDevice); package dist's NCCL
// communicator runs on the backend's GPU and stream (Enqueue, Done,
// DevicePointer), so collectives on device buffers need no copy and no
// synchronisation before them.
//
// Run-time requirements: Linux, an NVIDIA driver (libcuda.so.1), and the
// NVRTC and cuBLAS shared libraries of CUDA 11.8 or later (libnvrtc.so,
// .so.13, .so.12 or .so.11.2; libcublas.so, .so.13, .so.12 or .so.11,
// those of the driver's CUDA version first), found by the dynamic loader
// or named by GOCOCA_LIBCUDA, GOCOCA_LIBNVRTC and GOCOCA_LIBCUBLAS; for
// managed memory a GPU that can access it concurrently with the CPU
// (Pascal or newer). Nothing CUDA is needed to build.
//
// Testing without a GPU: TestEmulator builds the kernels against a CPU
// emulation of the CUDA runtime, cuBLAS, NVRTC and NCCL
// (testdata/emulator) and runs the GPU tests in a child process. The
// emulator counts host synchronisations, host↔device copies and host
// accesses to device memory (TestStepCounts, TestCaptionCounts,
// TestRunCounts), and every GPU test fails where the host touched device
// memory.
package cuda
