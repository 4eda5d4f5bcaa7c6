//go:build cuda && cgo && linux

package cuda

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEmulator builds the kernels with the host C++ compiler against a
// CPU emulation of the CUDA runtime (testdata/emulator: one fiber per GPU
// thread, barriers and warp shuffles between them; the driver, NVRTC and
// cuBLAS entry points the package loads, with a loop for the GEMM) into
// one shared library, and runs the GPU tests in a child process that
// loads that library as libcuda, libnvrtc and libcublas. Everything but
// the real GPU is exercised: the cgo calls, staging and managed memory,
// launch parameters, every kernel's indexing, tiling and barriers. It
// proves nothing about the GPU's memory model, speed or the real
// libraries; TestConformance and the others do that on a GPU.
//
// GOCOCA_EMU_TESTS selects the child's tests (a -test.run pattern; default
// the conformance suite); GOCOCA_EMU_KEEP names a file to keep the library
// in.
func TestEmulator(t *testing.T) {
	if os.Getenv("GOCOCA_EMU_CHILD") != "" {
		t.Skip("running inside the emulator")
	}
	if testing.Short() {
		t.Skip("-short: the emulated GPU tests take minutes")
	}
	cxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("no g++: the CUDA emulator cannot be built")
	}
	dir := t.TempDir()
	src, err := emulatorSource(kernelSource)
	if err != nil {
		t.Fatal(err)
	}
	gen := filepath.Join(dir, "emulated_kernels.cpp")
	if err := os.WriteFile(gen, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	inc, err := filepath.Abs(filepath.Join("testdata", "emulator"))
	if err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(dir, "libemucuda.so")
	cmd := exec.Command(cxx, "-std=c++17", "-O2", "-fPIC", "-shared", "-pthread", "-Wall", "-Wno-unused-function",
		"-Wno-unused-variable", "-I", inc, "-o", lib, gen)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the emulator: %v\n%s", err, out)
	}
	if keep := os.Getenv("GOCOCA_EMU_KEEP"); keep != "" { // for trying the CLI: GOCOCA_LIBCUDA=... coca ... --device cuda
		b, err := os.ReadFile(lib)
		if err == nil {
			err = os.WriteFile(keep, b, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	run := os.Getenv("GOCOCA_EMU_TESTS")
	if run == "" {
		run = "^TestConformance$"
	}
	child := exec.Command(os.Args[0], "-test.run", run, "-test.v", "-test.count=1")
	child.Env = append(os.Environ(), "GOCOCA_EMU_CHILD=1",
		"GOCOCA_LIBCUDA="+lib, "GOCOCA_LIBNVRTC="+lib, "GOCOCA_LIBCUBLAS="+lib, "GOCOCA_LIBNCCL="+lib)
	out, err := child.CombinedOutput()
	// Top-level tests print at the start of a line; a skipped subtest (an
	// optional kernel the backend lacks) is indented.
	if err != nil || regexp.MustCompile(`(?m)^--- SKIP`).Match(out) || !regexp.MustCompile(`(?m)^--- PASS`).Match(out) {
		t.Fatalf("emulated GPU tests (%s): %v\n%s", run, err, tail(string(out), 200))
	}
	t.Logf("emulated GPU tests %s passed:\n%s", run, tail(string(out), 40))
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

var kernelDecl = regexp.MustCompile(`(?s)extern "C" __global__ void (\w+)\(([^)]*)\)`)

// emulatorSource returns the C++ translation unit of the emulator: the
// prelude, the kernels, a trampoline per kernel that unpacks the launch
// parameters into a call, the kernel table, the source (to check what
// NVRTC is asked to compile) and the emulated API.
func emulatorSource(kernels string) (string, error) {
	const dyn = "extern __shared__ float smem[];"
	var b strings.Builder
	b.WriteString("#include \"memory.h\"\n#include \"prelude.h\"\n")
	b.WriteString(strings.ReplaceAll(kernels, dyn, "float* smem = emu_dyn_smem;"))
	b.WriteString("\nstruct EmuKernel { const char* name; void (*fn)(void**); int maxShared; int nparams; unsigned long long ptrs; };\n")
	var table []string
	found := map[string]bool{}
	for _, m := range kernelDecl.FindAllStringSubmatch(kernels, -1) {
		name := m[1]
		var args []string
		var ptrs uint64 // pointer parameters: the launch moves them to the device view
		params := strings.Split(m[2], ",")
		if len(params) > 64 {
			return "", fmt.Errorf("kernel %s: %d parameters", name, len(params))
		}
		for i, p := range params {
			p = strings.Join(strings.Fields(p), " ")
			cut := strings.LastIndexAny(p, " *&")
			if cut < 0 {
				return "", fmt.Errorf("kernel %s: cannot parse parameter %q", name, p)
			}
			typ := strings.TrimSpace(p[:cut+1])
			if strings.HasSuffix(typ, "*") {
				ptrs |= 1 << i
			}
			args = append(args, fmt.Sprintf("*(%s*)p[%d]", typ, i))
		}
		fmt.Fprintf(&b, "static void emu_tramp_%s(void** p) { %s(%s); }\n", name, name, strings.Join(args, ", "))
		table = append(table, fmt.Sprintf("{%q, emu_tramp_%s, 0, %d, %#xull}", name, name, len(params), ptrs))
		found[name] = true
	}
	for _, k := range kernelNames {
		if !found[k] {
			return "", fmt.Errorf("kernel %s not found in the source", k)
		}
	}
	fmt.Fprintf(&b, "static EmuKernel emu_kernels[] = {\n\t%s,\n};\n", strings.Join(table, ",\n\t"))
	fmt.Fprintf(&b, "static const int emu_nkernels = %d;\n", len(table))
	if strings.Contains(kernels, ")GOCOCA\"") {
		return "", fmt.Errorf("kernel source contains the raw string delimiter")
	}
	fmt.Fprintf(&b, "static const char* emu_source = R\"GOCOCA(%s)GOCOCA\";\n", kernels)
	b.WriteString("#include \"api.cpp\"\n#include \"nccl.cpp\"\n")
	return b.String(), nil
}
