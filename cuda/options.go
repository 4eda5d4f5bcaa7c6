package cuda

// Options configures the CUDA backend.
type Options struct {
	// Device is the GPU ordinal (0 for the first), or AutoDevice: the
	// launcher's local rank (OMPI_COMM_WORLD_LOCAL_RANK, LOCAL_RANK,
	// SLURM_LOCALID, MPI_LOCALRANKID), so that each rank of a
	// data-parallel job on one machine gets its own GPU; GPU 0 without a
	// launcher (see LauncherDevice).
	Device int
	// Math is the precision of the GEMMs: "fp32" (exact float32, the
	// default), "tf32" (tensor cores with TF32 inputs, float32
	// accumulation) or "bf16" (inputs rounded to bfloat16, float32
	// accumulation). For N(0,1) inputs the relative error of a product
	// (‖C − exact‖/‖exact‖) is held to 1e-6, 1.5e-3 and 1.2e-2
	// (TestGEMMPrecision). Empty means the GOCOCA_CUDA_MATH environment
	// variable, else fp32. The other kernels are float32 whatever it is.
	Math string
	// Memory is where tensors live: "device" (device memory, the
	// default: the backend calls are asynchronous, one stream, and the
	// host moves values with CopyToHost and CopyFromHost, or through
	// tensor.Item, Items and HostValues; touching device memory from the
	// host crashes the process) or "managed" (CUDA managed memory: the
	// host may read and write tensors directly, and every backend call
	// waits for its kernels). Empty means the GOCOCA_CUDA_MEMORY
	// environment variable, else device. See the package documentation.
	Memory string
	// MemoryLimit caps the bytes the backend takes from the driver (0:
	// the GPU's memory). Managed memory beyond the GPU's memory would be
	// paged in and out on every access; past the limit an allocation
	// fails with an error (a panic naming the GPU and the figures)
	// instead, after the allocator has returned its cache to the driver.
	MemoryLimit int64
}

// AutoDevice as Options.Device picks the launcher's local rank's GPU.
const AutoDevice = -1
