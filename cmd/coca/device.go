package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gococa/gococa/asm"
	"github.com/gococa/gococa/cuda"
	"github.com/gococa/gococa/tensor"
)

const deviceUsage = "where the kernels run: cpu, or cuda (cuda:N for GPU N; plain cuda is GPU 0, or the local rank's GPU under a launcher such as mpirun or torchrun; needs a binary built with -tags cuda, an NVIDIA driver and CUDA's NVRTC and cuBLAS libraries)"

const precisionUsage = "precision of the matrix products: f32, or bf16 (both operands rounded to bfloat16, sums in float32: products up to twice as fast on CPUs with AVX512_BF16, the same numbers but no faster on others; weights and activations stay float32; with --weights bf16, decoding steps read the 16-bit weights as without it; CPU only)"

const trainPrecisionUsage = "precision of the matrix products, forward and backward: auto (bf16 on CPUs with AVX512_BF16, else f32; as open_clip's training defaults to mixed precision), f32, or bf16 (mixed precision: both operands rounded to bfloat16, sums in float32, products up to twice as fast on CPUs with AVX512_BF16, the same numbers but no faster on others; master weights, gradients and optimizer state stay float32; CPU only); the resolved value is recorded in run.json, and --resume keeps the run's (auto included)"

// checkPrecision validates --precision against --device; train also
// takes auto.
func checkPrecision(precision, device string, train bool) error {
	if train && precision == "auto" {
		return nil
	}
	p, err := tensor.ParsePrecision(precision)
	if err != nil && train {
		return usagef("--precision %q: want auto, f32 or bf16", precision)
	}
	if err != nil {
		return usagef("--%v", err)
	}
	if p == tensor.PrecisionBF16 && device != "cpu" {
		return usagef("--precision bf16 with --device %s: bfloat16 products run on the CPU only (the GPU computes in float32): drop one of them", device)
	}
	return nil
}

// notePrecision writes a line to log when bfloat16 products run without
// the CPU's bfloat16 instructions.
func notePrecision(precision string, log io.Writer) {
	if precision == "bf16" && !asm.HasBF16() {
		fmt.Fprintf(log, "precision bf16: no AVX512_BF16 at SIMD level %v: the products are rounded to bfloat16 and summed by the float32 kernels (the same numbers, no faster)\n", asm.Current())
	}
}

// addDeviceFlag adds --device to fs.
func addDeviceFlag(fs *flag.FlagSet) *string { return fs.String("device", "cpu", deviceUsage) }

// previousBackend is the backend before useDevice switched it; run
// restores it when the command returns.
var previousBackend tensor.Backend

// useDevice makes the device named by --device the tensor backend. It
// must run before the model is built, so that parameters and activations
// are allocated in the device's memory. It writes one line naming the GPU
// to log.
func useDevice(name string, log io.Writer) error {
	switch {
	case name == "cpu":
		return nil
	case name == "cuda" || strings.HasPrefix(name, "cuda:"):
		n := cuda.AutoDevice // the launcher's local rank, else 0
		if s, ok := strings.CutPrefix(name, "cuda:"); ok {
			v, err := strconv.Atoi(s)
			if err != nil || v < 0 {
				return fmt.Errorf("--device %s: want cuda:N with N a GPU number", name)
			}
			n = v
		}
		b, err := cuda.New(cuda.Options{Device: n})
		if err != nil {
			return fmt.Errorf("--device %s: %w", name, err)
		}
		old := tensor.SetBackend(b)
		if previousBackend == nil {
			previousBackend = old
		}
		fmt.Fprintf(log, "device: %v\n", b)
		return nil
	default:
		return fmt.Errorf("--device %q: want cpu or cuda (cuda:N)", name)
	}
}

// restoreDevice undoes useDevice.
func restoreDevice() {
	if previousBackend != nil {
		tensor.SetBackend(previousBackend)
		previousBackend = nil
	}
}
