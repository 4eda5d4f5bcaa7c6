#!/usr/bin/env bash
# bench_pytorch.sh runs gococa's model benchmarks (BenchmarkTrainStep,
# BenchmarkEncodeImage, BenchmarkEncodeText in bench_model_test.go) and the
# same workloads in the project's PyTorch reference (golden/pytorch/bench.py
# on Debian's python3-torch) with the same thread count (GOMAXPROCS and
# torch.set_num_threads), one workload after the other, each in a process of
# its own, and prints seconds per step or batch, the speed-up of gococa, and
# each side's peak RSS (whole process: model, gradients, activations,
# runtime) for the training step.
#
# PyTorch runs twice: as installed, and tuned as a knowledgeable user runs it
# here: OMP_WAIT_POLICY=PASSIVE (its OpenMP threads and OpenBLAS's otherwise
# both busy-wait on the same cores) and OpenBLAS with its own kernel for the
# CPU (env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE: this project's machines
# export OPENBLAS_CORETYPE=Haswell, which hands OpenBLAS, and PyTorch's
# products through it, their AVX2 kernels on an AVX-512 CPU). The speed-up
# is against the faster of the two.
#
# The training step is forward + contrastive and caption losses + backward
# on both sides, no optimizer (bench.py --no-optimizer), batch BATCH, text
# of the config's context length, random weights and inputs. Each side runs
# one untimed warm-up iteration, then REPEAT timed ones (mean reported).
#
# Usage: scripts/bench_pytorch.sh        (from anywhere in the checkout)
# Environment:
#   THREADS    threads on both sides (default 2)
#   CONFIG     a built-in config with golden/pytorch/configs/CONFIG.json
#              (default coca_ViT-B-32; coca_shapes is the small one)
#   BATCH      batch size (default 8)
#   IMAGE      image size in pixels (default: the config's)
#   WORKLOADS  default "train_step encode_image encode_text"
#   REPEAT     timed iterations per workload and side (default 3)
#   PROFILE    if set, a file for a CPU profile (pprof) of gococa's timed
#              training steps (GOCOCA_BENCH_CPUPROFILE: no model
#              construction or warm-up in it); its top entries are printed
#              after the table
#   PYTHON     default /usr/bin/python3 (needs torch)
# The machine is shared: only ratios measured in one run mean anything.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
CONFIG=${CONFIG:-coca_ViT-B-32}
BATCH=${BATCH:-8}
IMAGE=${IMAGE:-}
WORKLOADS=${WORKLOADS:-"train_step encode_image encode_text"}
REPEAT=${REPEAT:-3}
PROFILE=${PROFILE:-}
PYTHON=${PYTHON:-/usr/bin/python3}

json=golden/pytorch/configs/$CONFIG.json
if [ ! -f "$json" ]; then
	echo "bench_pytorch.sh: no PyTorch config $json for CONFIG=$CONFIG" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -n "$IMAGE" ]; then
	"$PYTHON" - "$json" "$IMAGE" "$tmp/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["vision_cfg"]["image_size"] = int(sys.argv[2])
json.dump(c, open(sys.argv[3], "w"), indent=2)
EOF
	json=$tmp/config.json
fi
case=$CONFIG:$BATCH
[ -n "$IMAGE" ] && case=$case:$IMAGE

echo "building the Go benchmarks..." >&2
go test -c -o "$tmp/gococa.test" .

# go_bench NAME UNIT [extra flags]: runs one Go benchmark, prints "seconds rss".
go_bench() {
	local bench=$1 unit=$2
	shift 2
	GOMAXPROCS=$THREADS GOCOCA_BENCH_MODELS=$case "$tmp/gococa.test" -test.run '^$' \
		-test.bench "^$bench\$" -test.benchtime "${REPEAT}x" "$@" >"$tmp/go.out" 2>&1 || {
		cat "$tmp/go.out" >&2
		return 1
	}
	awk -v unit="$unit" '/^Benchmark/ { s = ""; r = 0
		for (i = 2; i <= NF; i++) { if ($i == unit) s = $(i-1); if ($i == "peak-RSS-bytes") r = $(i-1) }
		if (s != "") last = s " " r }
		END { if (last == "") exit 1; print last }' "$tmp/go.out"
}

# py_bench WORKLOAD [tuned]: runs one bench.py workload, prints "seconds rss".
py_bench() {
	local run=
	if [ "${2:-}" = tuned ]; then
		run="env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_WAIT_POLICY=PASSIVE"
	fi
	$run "$PYTHON" golden/pytorch/bench.py --threads "$THREADS" --config "$json" --workloads "$1" \
		--batch "$BATCH" --repeat "$REPEAT" --warmup 1 --no-optimizer >"$tmp/py.out" 2>"$tmp/py.err" || {
		cat "$tmp/py.err" >&2
		return 1
	}
	"$PYTHON" -c 'import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(r["mean"], r["max_rss_bytes"])' "$tmp/py.out"
}

declare -A gs gr ps pr ts tr
for w in $WORKLOADS; do
	case $w in
	train_step) bench=BenchmarkTrainStep unit=s/step ;;
	encode_image) bench=BenchmarkEncodeImage unit=s/batch ;;
	encode_text) bench=BenchmarkEncodeText unit=s/batch ;;
	*)
		echo "bench_pytorch.sh: unknown workload $w" >&2
		exit 1
		;;
	esac
	prof=
	if [ "$w" = train_step ]; then
		prof=$PROFILE
	fi
	echo "$w: gococa..." >&2
	read -r gs[$w] gr[$w] < <(GOCOCA_BENCH_CPUPROFILE=$prof go_bench "$bench" "$unit")
	echo "$w: PyTorch as installed..." >&2
	read -r ps[$w] pr[$w] < <(py_bench "$w")
	echo "$w: PyTorch tuned..." >&2
	read -r ts[$w] tr[$w] < <(py_bench "$w" tuned)
done

echo "gococa $(git rev-parse --short HEAD 2>/dev/null || echo '?') vs PyTorch $("$PYTHON" -c 'import torch; print(torch.__version__)') ($PYTHON golden/pytorch/bench.py)"
echo "config $CONFIG, batch $BATCH${IMAGE:+, image $IMAGE}, $THREADS threads, mean of $REPEAT after 1 warm-up; $(uname -m), $(nproc) CPUs"
printf '%-13s %10s %12s %12s %9s %12s %12s %9s\n' workload "gococa s" "PyTorch s" "tuned s" speed-up "gococa RSS" "PyTorch RSS" "RSS ratio"
for w in $WORKLOADS; do
	awk -v w="$w" -v g="${gs[$w]}" -v p="${ps[$w]}" -v q="${ts[$w]}" -v gr="${gr[$w]}" -v pr="${pr[$w]}" -v qr="${tr[$w]}" -v train="$([ "$w" = train_step ] && echo 1)" 'BEGIN {
		b = (q < p) ? q : p; br = (q < p) ? qr : pr
		printf "%-13s %10.3f %12.3f %12.3f %8.2fx", w, g, p, q, b / g
		if (train) printf " %8.2f GiB %8.2f GiB %8.2fx", gr / 2^30, br / 2^30, gr / br
		printf "\n" }'
done
echo "speed-up: the faster PyTorch (as installed or tuned) over gococa; RSS: of that run"
if [ -n "$PROFILE" ] && [ -f "$PROFILE" ]; then
	echo
	echo "CPU profile of gococa's timed training steps ($PROFILE):"
	go tool pprof -top -nodecount=15 "$tmp/gococa.test" "$PROFILE" 2>/dev/null | sed -n '/flat%/,$p'
fi
