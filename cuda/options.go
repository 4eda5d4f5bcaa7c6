package cuda

// Options configures the CUDA backend.
type Options struct {
	// Device is the GPU ordinal (0 for the first).
	Device int
	// Math is the precision of the GEMMs: "fp32" (exact float32, the
	// default), "tf32" (tensor cores with TF32 inputs, float32
	// accumulation) or "bf16" (inputs rounded to bfloat16, float32
	// accumulation). For N(0,1) inputs the relative error of a product
	// (‖C − exact‖/‖exact‖) is held to 1e-6, 1.5e-3 and 1.2e-2
	// (TestGEMMPrecision). Empty means the GOCOCA_CUDA_MATH environment
	// variable, else fp32. The other kernels are float32 whatever it is.
	Math string
}
