//go:build cuda && cgo

package cuda

import (
	"strings"
	"testing"
)

// TestNVRTCCompile compiles the kernel source to PTX for compute_80 and
// compute_90, and to CUBINs for sm_80 and sm_90, with the NVRTC library
// found at run time (no GPU needed) and fails on any error or warning, or
// on a kernel missing from the PTX.
func TestNVRTCCompile(t *testing.T) {
	if err := loadNVRTC(); err != nil {
		t.Skipf("NVRTC not available, kernels not compiled: %v", err)
	}
	major, minor, err := nvrtcVersion()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("NVRTC %d.%d, supported architectures %v", major, minor, nvrtcArchs())
	for _, arch := range []string{"compute_80", "compute_90"} {
		t.Run(arch, func(t *testing.T) {
			img, log, err := compile(kernelSource, arch, false)
			ptx := string(img)
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(log) != "" {
				t.Fatalf("NVRTC %s warnings:\n%s", arch, log)
			}
			for _, k := range kernelNames {
				if !strings.Contains(ptx, ".entry "+k+"(") {
					t.Errorf("%s: kernel %s not in the PTX", arch, k)
				}
			}
			t.Logf("%s: %d bytes of PTX", arch, len(ptx))
		})
	}
	// New compiles straight to a CUBIN when NVRTC knows the GPU's
	// architecture.
	if !canCUBIN() {
		t.Logf("NVRTC %d.%d cannot emit CUBINs: not checked", major, minor)
		return
	}
	for _, arch := range []string{"sm_80", "sm_90"} {
		t.Run(arch, func(t *testing.T) {
			img, log, err := compile(kernelSource, arch, true)
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(log) != "" {
				t.Fatalf("NVRTC %s warnings:\n%s", arch, log)
			}
			if len(img) < 4 || string(img[:4]) != "\x7fELF" {
				t.Fatalf("%s: the CUBIN is not an ELF image", arch)
			}
			t.Logf("%s: %d bytes of CUBIN", arch, len(img))
		})
	}
}
