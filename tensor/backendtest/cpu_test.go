package backendtest

import (
	"testing"

	"github.com/gococa/gococa/tensor"
)

// TestCPU runs the conformance suite on the CPU backend.
func TestCPU(t *testing.T) {
	b := tensor.CurrentBackend()
	if b.Name() != "cpu" {
		t.Fatalf("default backend is %q, want cpu", b.Name())
	}
	Run(t, b, nil)
}
