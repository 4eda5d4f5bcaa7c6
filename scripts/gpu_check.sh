#!/usr/bin/env bash
# The CUDA backend's checks on a machine with an NVIDIA GPU (issue 9):
# the GPU tests (kernel conformance, staged and in place; the golden
# fixtures; 20 training steps against the CPU's losses) and the
# training-step benchmark (GOCOCA_BENCH_MODELS, default coca_ViT-B-32:64;
# GOCOCA_CUDA_MATH=tf32|bf16 for tensor-core GEMMs). The CUDA libraries
# are found on the loader path or through GOCOCA_LIBCUDA, GOCOCA_LIBNVRTC
# and GOCOCA_LIBCUBLAS. A test that finds no GPU fails here instead of
# skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
go test -count=1 -v -tags cuda -run '^(TestConformance|TestGoldenFixtures|TestTrainMatchesCPU|TestGEMMPrecision)$' ./cuda/ | tee "$log" |
  grep -E '^(=== RUN|--- |ok|FAIL|PASS)|cuda:[0-9]|worst relative|FAIL' || true
if grep -q '^--- SKIP' "$log" || ! grep -q '^ok' "$log"; then
  echo "GPU tests skipped or failed"; exit 1
fi
go test -count=1 -tags cuda -run '^$' -bench TrainStep -benchtime "${BENCHTIME:-10x}" ./cuda/
