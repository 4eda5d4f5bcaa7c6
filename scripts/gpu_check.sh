#!/usr/bin/env bash
# The CUDA backend's checks on a machine with an NVIDIA GPU, runnable on a
# bare GPU machine: no Go, no network, no module cache.
#
#   bash scripts/gpu_check.sh --prepare   where Go is: builds the CUDA test
#       binary (go test -c -tags cuda) and the coca CLI (-tags cuda) into
#       runs/gpu-check/ (ignored by git) and copies this script there. Carry
#       runs/gpu-check to the GPU machine with the working tree.
#   bash scripts/gpu_check.sh             on the GPU machine, from the
#       repository root (or bash runs/gpu-check/run.sh). Without prepared
#       binaries it tries an offline build with a local Go.
#
# Steps, each under its own time limit within a total budget (BUDGET_S,
# default 470 s); every log and a summary go to $OUT (default
# runs/gpu-check/out):
#   0. environment and CUDA library discovery: the loader cache, CUDA
#      toolkits, conda and pip's site-packages/nvidia/*/lib (PyTorch ships
#      NVRTC, cuBLAS and NCCL there); the newest libnvrtc / libcublas
#      (.so.13, .so.12, .so.11.2) not newer than the driver's CUDA version,
#      exported as GOCOCA_LIBNVRTC / GOCOCA_LIBCUBLAS / GOCOCA_LIBNCCL and on
#      LD_LIBRARY_PATH (NVRTC loads its builtins and cuBLAS its Lt library
#      through the loader path).
#   1. the kernels compile with this machine's NVRTC (TestNVRTCCompile).
#   2. the GPU tests: conformance (staged and in place), the kernels beyond
#      the Backend interface, every golden fixture, 20 training steps against
#      the CPU's losses, the TF32/BF16 GEMM modes' error against their stated
#      tolerances (TestGEMMPrecision), and two NCCL ranks when there are two
#      GPUs.
#   3. BenchmarkTrainStep coca_ViT-B-32 batch 64 (fp32), optimizer none and
#      adamw, with nvidia-smi sampling utilisation; TFLOP/s from the FLOPs of
#      a step counted on the CPU backend (99.3 GFLOP per image).
#   4. PyTorch on the same GPU with the project's reference graph
#      (golden/pytorch/coca_ref.py), same config and batch, when python3 has
#      torch with CUDA.
#   5. the same with TF32 tensor cores, and `coca verify` under TF32.
#   6. while time is left: a 1-rank NCCL run of `coca train --dist nccl`
#      when libnccl is present, and the BF16 benchmark.
# Exit status: 0 when steps 1-2 passed, 1 when one failed, 2 when nothing
# could run (no binary, no GPU, no library). The tests fail instead of
# skipping when they find no GPU.
set -uo pipefail

ROOT=$(git rev-parse --show-toplevel 2>/dev/null || (cd "$(dirname "$0")/.." && pwd))
[ -f "$ROOT/go.mod" ] || ROOT=$(cd "$(dirname "$0")/../.." && pwd) # run from runs/gpu-check/run.sh
cd "$ROOT" || exit 2
W=runs/gpu-check

if [ "${1:-}" = "--prepare" ]; then
	set -e
	mkdir -p "$W"
	export CGO_ENABLED=1
	echo "building $W/cuda.test and $W/coca (-tags cuda)..."
	go test -c -tags cuda -trimpath -o "$W/cuda.test" ./cuda/
	go build -tags cuda -trimpath -o "$W/coca" ./cmd/coca
	cp "$0" "$W/run.sh"
	git rev-parse HEAD >"$W/commit" 2>/dev/null || true
	du -ch "$W"/cuda.test "$W"/coca | tail -1
	echo "the binaries need GLIBC >= $(objdump -T "$W/cuda.test" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1 | cut -d_ -f2)"
	echo "on the GPU machine, from the repository root with $W carried: bash scripts/gpu_check.sh"
	exit 0
fi

OUT=${OUT:-$W/out}
mkdir -p "$OUT" "$W"
OUT=$(readlink -f "$OUT")
BUDGET_S=${BUDGET_S:-470}
T0=$(date +%s)
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
core_fail=0

left() { echo $((BUDGET_S - ($(date +%s) - T0))); }
note() { echo "$*" | tee -a "$SUMMARY"; }
hdr() { printf '\n==== %s (t=%ss, %ss left)\n' "$*" "$(($(date +%s) - T0))" "$(left)"; }
# lim WANT: WANT seconds, or what the budget leaves (minus a 10 s reserve)
lim() {
	local l=$(($(left) - 10))
	[ "$l" -lt "$1" ] && echo "$l" || echo "$1"
}
# run_to NAME SECONDS cmd...: cmd with a time limit, output in $OUT/NAME.log
run_to() {
	local name=$1 t=$2
	shift 2
	if [ "$t" -lt 15 ]; then
		note "SKIP $name: out of time budget"
		return 124
	fi
	timeout --signal=INT --kill-after=15 "$t" "$@" >"$OUT/$name.log" 2>&1
	local rc=$?
	[ $rc -eq 124 ] && echo "(killed after ${t}s)" >>"$OUT/$name.log"
	return $rc
}

# ---- 0. environment and libraries --------------------------------------------
hdr "0. environment"
{
	date -u
	echo "commit: $(git rev-parse --short HEAD 2>/dev/null || cat $W/commit 2>/dev/null || echo '?')"
	uname -a
	ldd --version 2>&1 | head -1
	echo "nproc $(nproc); go: $(command -v go >/dev/null && go version || echo none)"
	nvidia-smi -L 2>&1
	nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,mig.mode.current,clocks.max.sm --format=csv 2>&1
	echo "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-unset}"
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
if ! nvidia-smi -L >/dev/null 2>&1; then
	note "FAIL no working nvidia-smi: no driver or no GPU visible"
	exit 2
fi
NGPU=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
note "GPU: $(nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader 2>/dev/null | head -1) ($NGPU visible)"

libdirs() {
	[ -n "${GPU_CHECK_LIBDIRS:-}" ] && tr ':' '\n' <<<"$GPU_CHECK_LIBDIRS"
	ldconfig -p 2>/dev/null | awk '/=>/ {print $NF}' | xargs -r -n1 dirname | sort -u
	ls -d /usr/local/cuda*/lib64 /usr/local/cuda*/targets/*/lib /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu \
		/usr/lib64 /opt/conda/lib /usr/local/nvidia/lib64 2>/dev/null
	ls -d /usr/lib/python3*/dist-packages/nvidia/*/lib /usr/local/lib/python3*/dist-packages/nvidia/*/lib \
		/usr/local/lib/python3*/site-packages/nvidia/*/lib /opt/conda/lib/python3*/site-packages/nvidia/*/lib \
		"$HOME"/.local/lib/python3*/site-packages/nvidia/*/lib 2>/dev/null
	if command -v python3 >/dev/null; then
		python3 - <<'EOF' 2>/dev/null
import glob, os, site
for s in site.getsitepackages() + [site.getusersitepackages()]:
    for d in glob.glob(os.path.join(s, "nvidia", "*", "lib")):
        print(d)
EOF
	fi
}
mapfile -t DIRS < <(libdirs | awk '!seen[$0]++')
# The driver's CUDA version bounds the libraries' major version.
DRV_CUDA=$(nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9]*' | grep -o '[0-9]*$')
# best STEM: the file with the highest soname version not above the driver's
best() {
	local stem=$1 f d
	for d in "${DIRS[@]}"; do
		for f in "$d"/"$stem".so.1[0-9]*; do
			[ -e "$f" ] && echo "$f"
		done
	done | awk -v max="${DRV_CUDA:-99}" -F"$stem.so." '{ split($2, v, "."); if (v[1] + 0 <= max + 0) print $2 "\t" $0 }' |
		sort -t. -k1,1nr -k2,2nr | head -1 | cut -f2
}
NVRTC=${GOCOCA_LIBNVRTC:-$(best libnvrtc)}
CUBLAS=${GOCOCA_LIBCUBLAS:-$(best libcublas)}
NCCL=${GOCOCA_LIBNCCL:-$(for d in "${DIRS[@]}"; do [ -e "$d/libnccl.so.2" ] && echo "$d/libnccl.so.2"; done | head -1)}
{
	echo "libcuda:   $(ldconfig -p | grep -m1 'libcuda.so.1 ' | awk '{print $NF}')"
	echo "NVRTC:     ${NVRTC:-not found}  builtins: $(ls "$(dirname "${NVRTC:-/x}")"/libnvrtc-builtins.so* 2>/dev/null | tr '\n' ' ')"
	echo "cuBLAS:    ${CUBLAS:-not found}  Lt: $(ls "$(dirname "${CUBLAS:-/x}")"/libcublasLt.so* 2>/dev/null | tr '\n' ' ')"
	echo "NCCL:      ${NCCL:-not found}"
} | tee -a "$OUT/env.txt"
if [ -z "$NVRTC" ] || [ -z "$CUBLAS" ]; then
	note "FAIL NVRTC or cuBLAS not found on this machine (the backend needs both; see $OUT/env.txt)"
	exit 2
fi
export GOCOCA_LIBNVRTC=$NVRTC GOCOCA_LIBCUBLAS=$CUBLAS
LDP=$(dirname "$NVRTC"):$(dirname "$CUBLAS")
if [ -n "$NCCL" ]; then
	export GOCOCA_LIBNCCL=$NCCL
	LDP=$LDP:$(dirname "$NCCL")
fi
export LD_LIBRARY_PATH=$LDP${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# ---- binaries -------------------------------------------------------------------
TEST=$W/cuda.test
COCA=$W/coca
if [ ! -x "$TEST" ]; then
	hdr "building the test binary with the local Go (offline)"
	if command -v go >/dev/null &&
		run_to build "$(lim 240)" env CGO_ENABLED=1 GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local \
			go test -c -tags cuda -o "$TEST" ./cuda/; then
		run_to build-coca "$(lim 120)" env CGO_ENABLED=1 GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local \
			go build -tags cuda -o "$COCA" ./cmd/coca || true
	else
		tail -20 "$OUT/build.log" 2>/dev/null
		note "FAIL no $TEST and no offline Go build: run 'bash scripts/gpu_check.sh --prepare' where Go is and carry $W"
		exit 2
	fi
fi
TEST=$(readlink -f "$TEST")
COCA=$(readlink -f "$COCA" 2>/dev/null || true)
# The test binary runs in its package directory (fixtures: ../golden/testdata).

# ---- 1. NVRTC --------------------------------------------------------------------
hdr "1. kernels compile with this machine's NVRTC"
run_to nvrtc "$(lim 120)" bash -c "cd cuda && '$TEST' -test.run '^TestNVRTCCompile\$' -test.v -test.timeout 110s"
rc=$?
grep -E 'NVRTC [0-9]|bytes of|warning|error|--- ' "$OUT/nvrtc.log" | head -20
if [ $rc -eq 0 ] && grep -q '^--- PASS: TestNVRTCCompile' "$OUT/nvrtc.log"; then
	note "PASS NVRTC compile ($(grep -o 'NVRTC [0-9.]*' "$OUT/nvrtc.log" | head -1))"
else
	note "FAIL NVRTC compile (rc $rc): $OUT/nvrtc.log"
	core_fail=1
fi

# ---- 2. GPU tests ------------------------------------------------------------------
hdr "2. GPU tests: conformance, extra kernels, golden fixtures, 20 training steps vs CPU"
GPU_TESTS='TestConformance|TestExtraKernels|TestAdafactorOnDevice|TestGoldenFixtures|TestTrainMatchesCPU|TestGEMMPrecision'
run_to gputests "$(lim 270)" bash -c "cd cuda && '$TEST' -test.run '^($GPU_TESTS)\$' -test.v -test.timeout 260s"
rc=$?
grep -E '^(--- |ok|FAIL|PASS)|^\s+--- FAIL|cuda:[0-9]|worst relative|panic|does not start|CUDA_ERROR|cuBLAS status|NVRTC' "$OUT/gputests.log" | head -60
for t in ${GPU_TESTS//|/ }; do
	if grep -q "^--- PASS: $t " "$OUT/gputests.log"; then
		note "PASS $t"
	else
		note "FAIL $t (rc $rc; $(grep -c -E '^\s+--- FAIL' "$OUT/gputests.log") failing subtests): $OUT/gputests.log"
		core_fail=1
	fi
done
grep -E 'worst relative difference' "$OUT/gputests.log" | sed 's/^ */  /' | tee -a "$SUMMARY"
if [ "$NGPU" -ge 2 ] && [ -n "$NCCL" ]; then
	run_to nccl2 "$(lim 90)" bash -c "cd cuda && '$TEST' -test.run '^TestNCCLTwoRanks\$' -test.v -test.timeout 80s"
	grep -q '^--- PASS: TestNCCLTwoRanks' "$OUT/nccl2.log" && note "PASS TestNCCLTwoRanks (2 GPUs)" ||
		note "FAIL TestNCCLTwoRanks: $OUT/nccl2.log"
fi

# ---- 3.-5. benchmarks and peer -------------------------------------------------------
BENCH_MODELS=${BENCH_MODELS:-coca_ViT-B-32:64} # config:batch (the peer needs golden/pytorch/configs/CONFIG.json)
BCONF=${BENCH_MODELS%%:*}
BBATCH=${BENCH_MODELS##*:}
# fwd+bwd FLOPs of one step (GEMMs and attention, counted with the CPU
# backend's counter in bench_model_test.go: 99.3 GFLOP per image)
FLOP_STEP=0
[ "$BCONF" = coca_ViT-B-32 ] && FLOP_STEP=$(awk -v b="$BBATCH" 'BEGIN { printf "%.4g", 99.3e9 * b }')
smi_start() {
	SMI_CSV=$OUT/smi_$1.csv
	nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used,power.draw --format=csv,noheader -lms 500 >"$SMI_CSV" 2>/dev/null &
	SMI=$!
}
smi_stop() {
	kill "$SMI" 2>/dev/null
	wait "$SMI" 2>/dev/null
	awk -F', ' '{gsub(/ %/, "", $2); u += $2; n++; if ($3+0 > m) m = $3+0} END { if (n) printf "  GPU utilisation mean %.0f%% over %d samples (model build included), memory used max %d MiB\n", u/n, n, m }' "$SMI_CSV" | tee -a "$SUMMARY"
}
bench() { # bench MATH SECONDS
	hdr "gococa BenchmarkTrainStep $BENCH_MODELS math=$1"
	smi_start "bench_$1"
	run_to "bench_$1" "$2" env GOCOCA_CUDA_MATH="$1" GOCOCA_BENCH_MODELS="$BENCH_MODELS" \
		bash -c "cd cuda && '$TEST' -test.run '^\$' -test.bench '^BenchmarkTrainStep\$' -test.benchtime 5x -test.timeout $(($2 - 5))s"
	local rc=$?
	smi_stop
	grep -E '^Benchmark|cuda:[0-9]|FAIL|panic|CUDA_ERROR' "$OUT/bench_$1.log" | head
	awk -v f="$FLOP_STEP" -v b="$BBATCH" -v m="$1" '/^BenchmarkTrainStep/ { for (i = 2; i <= NF; i++) if ($i == "s/step") s = $(i-1)
		split($1, p, "/"); sub(/-[0-9]+$/, "", p[4])
		printf "  gococa %-4s %-20s %.4f s/step  %6.1f images/s", m, p[4], s, b/s
		if (f > 0) printf "  %5.1f TFLOP/s (fwd+bwd FLOPs)", f/s/1e12
		printf "\n" }' "$OUT/bench_$1.log" | tee -a "$SUMMARY"
	[ $rc -eq 0 ] || note "  (benchmark math=$1 rc $rc: $OUT/bench_$1.log)"
}
HAVE_TORCH=0
if command -v python3 >/dev/null && timeout 60 python3 -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
	HAVE_TORCH=1
fi
peer() { # peer MATH SECONDS: PyTorch on the same GPU with the project's reference graph
	hdr "peer: PyTorch (golden/pytorch/coca_ref.py) $BENCH_MODELS math=$1"
	if [ $HAVE_TORCH = 0 ]; then
		note "  peer skipped: no python3 with torch.cuda (compare the TFLOP/s with the GPU's peak instead)"
		return
	fi
	if [ ! -f "golden/pytorch/configs/$BCONF.json" ]; then
		note "  peer skipped: no golden/pytorch/configs/$BCONF.json"
		return
	fi
	run_to "peer_$1" "$2" python3 - "$1" "$FLOP_STEP" "golden/pytorch/configs/$BCONF.json" "$BBATCH" <<'EOF'
import json, math, os, sys, time
import torch
sys.path.insert(0, os.path.join(os.getcwd(), "golden", "pytorch"))
import coca_ref

math_, flops, cfg, batch = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
dev = torch.device("cuda")
tf32 = math_ == "tf32"
torch.backends.cuda.matmul.allow_tf32 = tf32
torch.backends.cudnn.allow_tf32 = tf32
c = coca_ref.load_config(cfg)
P = coca_ref.init_params(c, 0)              # on the CPU: seeded generators
image, text = coca_ref.make_inputs(c, batch, 1234)
P = {k: v.to(dev).requires_grad_(True) for k, v in P.items()}
image, text = image.to(dev), text.to(dev)
# coca_ref makes masks and targets with torch.full/ones/zeros/arange: on the GPU
if hasattr(torch, "set_default_device"):
    torch.set_default_device(dev)
else:
    for name in ("full", "ones", "zeros", "arange"):
        f = getattr(torch, name)
        def g(*a, _f=f, **k):
            k.setdefault("device", dev)
            return _f(*a, **k)
        setattr(torch, name, g)
params = list(P.values())
opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.1)
def step(optimizer):
    out = coca_ref.forward(c, P, image, text, torch.float32)
    out["loss.total"].sum().backward()
    if optimizer:
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            P["logit_scale"].clamp_(0, math.log(100))
    opt.zero_grad(set_to_none=True)
for optimizer in (False, True):
    step(optimizer); torch.cuda.synchronize()
    n = 5
    t0 = time.perf_counter()
    for _ in range(n):
        step(optimizer)
    torch.cuda.synchronize()
    s = (time.perf_counter() - t0) / n
    mem = torch.cuda.max_memory_allocated() / 2**30
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "math": math_, "device": torch.cuda.get_device_name(),
                      "optimizer": "adamw" if optimizer else "none", "s_per_step": s, "max_mem_gib": mem}), flush=True)
    line = "  torch  %-4s optimizer=%-10s %.4f s/step  %6.1f images/s" % (math_, "adamw" if optimizer else "none", s, batch / s)
    if flops > 0:
        line += "  %5.1f TFLOP/s" % (flops / s / 1e12)
    print(line + "  (torch %s, peak %.1f GiB)" % (torch.__version__, mem), flush=True)
EOF
	local rc=$?
	grep '^  torch ' "$OUT/peer_$1.log" | tee -a "$SUMMARY"
	[ $rc -eq 0 ] || { tail -5 "$OUT/peer_$1.log"; note "  (peer math=$1 rc $rc: $OUT/peer_$1.log)"; }
}
bench fp32 "$(lim 150)"
peer fp32 "$(lim 120)"
bench tf32 "$(lim 100)"
peer tf32 "$(lim 90)"
if [ -x "$COCA" ]; then
	hdr "coca verify --fixture golden/testdata/tiny with tf32 GEMMs (information: the fixtures' limits are float32's)"
	run_to verify_tf32 "$(lim 60)" env GOCOCA_CUDA_MATH=tf32 "$COCA" verify --device cuda --fixture golden/testdata/tiny
	note "  verify tiny under tf32: $(grep -E '^verify:' "$OUT/verify_tf32.log" || head -1 "$OUT/verify_tf32.log") ($(grep -c '^FAIL' "$OUT/verify_tf32.log") tensors over the fp32 limits)"
fi

# ---- 6. while time is left ----------------------------------------------------------------
if [ -n "$NCCL" ] && [ -x "$COCA" ]; then
	hdr "NCCL: coca train --device cuda --dist nccl, 1 rank"
	run_to nccl "$(lim 90)" "$COCA" train --device cuda --dist nccl --dist-timeout 60s --config coca_tiny \
		--steps 3 --batch 8 --eval-every -1 --save-every 1000 --log-every 1 --out "$OUT/nccl-run"
	rc=$?
	tail -3 "$OUT/nccl.log"
	[ $rc -eq 0 ] && note "PASS NCCL 1-rank training" || note "FAIL NCCL 1-rank training rc $rc: $OUT/nccl.log"
	rm -rf "$OUT/nccl-run"
fi
if [ "$(left)" -gt 80 ]; then
	bench bf16 "$(lim 80)"
fi

hdr "summary"
cat "$SUMMARY"
echo "logs: $OUT"
exit $core_fail
