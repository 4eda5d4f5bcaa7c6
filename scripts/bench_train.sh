#!/usr/bin/env bash
# bench_train.sh times gococa's training step (BenchmarkTrainStep: forward,
# contrastive and caption losses, backward; no optimizer) in float32 and in
# mixed precision (GOCOCA_BENCH_PRECISION=bf16: tensor.CPUBF16, bfloat16
# products with float32 sums, float32 weights and gradients), next to this
# CPU's float32 FMA peak (scripts/openblas/fma_peak.c, widest vectors) at
# the same thread count, and prints each one's counted GFLOP/s (matrix
# products and attention, 2 per multiply-add), its share of the float32
# peak, and the speed-up of bf16 over float32; then the same per CPU
# second (all threads of the process: steadier on a shared machine, where
# wall time measures the load as much as the code), against the peak's
# GFLOP per CPU second (one core's rate). "busy" runs the steps with one
# competing busy process, (while :; do :; done) &, started before and
# killed after them (the peak is always measured without it), and the
# script prints each precision's slowdown against idle. Rounds alternate
# the modes, the two precisions and the peak, so that a drift of the
# machine's load hits all of them; each figure is the median over rounds.
# Each row also shows the signs of contention per step
# (asm.ContentionSigns): on an idle machine, false ones.
#
# Usage: scripts/bench_train.sh        (from anywhere in the checkout)
#        scripts/shield.sh bash scripts/bench_train.sh   (on a shared machine: see shield.sh)
# Environment:
#   CONFIG    default coca_ViT-B-32
#   BATCH     default 8
#   THREADS   default 2 (GOMAXPROCS and fma_peak threads)
#   ROUNDS    default 3
#   REPEAT    timed steps per process (default 3)
#   MODES     default "idle busy" (as in scripts/onnx/compare.sh)
#   GOCOCA_BENCH_TEXT  unset: random captions over the whole context; "prompts":
#             captions of scripts/onnx/prompts.txt's lengths (7-12 ids, the rest
#             padding, which the step does not compute)
# Takes about 6 minutes with the defaults on an idle 2-core machine (3
# with MODES=idle).
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-coca_ViT-B-32}
BATCH=${BATCH:-8}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
REPEAT=${REPEAT:-3}
MODES=${MODES:-"idle busy"}
for mode in $MODES; do
	case $mode in
	idle | busy) ;;
	*) echo "bench_train.sh: MODES: unknown mode $mode (want idle, busy)" >&2; exit 2 ;;
	esac
done
tmp=$(mktemp -d)
busy=
cleanup() {
	[ -n "$busy" ] && kill "$busy" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
cc -O2 -pthread -o "$tmp/fma_peak" scripts/openblas/fma_peak.c
go test -c -o "$tmp/gococa.test" .

for r in $(seq 1 "$ROUNDS"); do
	precs="f32 bf16"
	[ $((r % 2)) -eq 0 ] && precs="bf16 f32"
	"$tmp/fma_peak" 0.5 "$THREADS" | awk -v r="$r" '/isa=avx512|isa=avx2/ && !done {
		g = ""; c = ""
		for (i = 1; i <= NF; i++) { if ($i ~ /^gflops=/) { g = $i; sub(/gflops=/, "", g) } if ($i ~ /^cpu_gflops=/) { c = $i; sub(/cpu_gflops=/, "", c) } }
		print "peak", r, g, c; done = 1 }' >>"$tmp/results"
	modes=$MODES
	[ $((r % 2)) -eq 0 ] && modes=$(echo "$MODES" | tr ' ' '\n' | tac | tr '\n' ' ')
	for mode in $modes; do
		if [ "$mode" = busy ]; then
			(while :; do :; done) &
			busy=$!
		fi
		for p in $precs; do
			echo "round $r/$ROUNDS, $mode: $p..." >&2
			GOMAXPROCS=$THREADS GOCOCA_BENCH_MODELS=$CONFIG:$BATCH GOCOCA_BENCH_PRECISION=$p "$tmp/gococa.test" \
				-test.run '^$' -test.bench '^BenchmarkTrainStep$' -test.benchtime "${REPEAT}x" >"$tmp/go.out" 2>&1 || {
				cat "$tmp/go.out" >&2
				exit 1
			}
			awk -v p="$p" -v r="$r" -v mode="$mode" '/^BenchmarkTrainStep/ { n = 0
				for (i = 2; i <= NF; i++) { if ($i == "s/step") s = $(i-1); if ($i == "GFLOP/s") g = $(i-1); if ($i == "cpu-s/step") c = $(i-1)
					if ($i == "contention-signs/step") n = $(i-1) }
				print mode, p, r, g, s, c, g * s / c, n }' "$tmp/go.out" >>"$tmp/results"
		done
		if [ -n "$busy" ]; then
			kill "$busy"
			wait "$busy" 2>/dev/null || true
			busy=
		fi
	done
done

echo "gococa $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $CONFIG batch $BATCH, $THREADS thread(s), random weights, ${GOCOCA_BENCH_TEXT:-random} captions; median of $ROUNDS rounds; busy = one competing busy process"
echo "$(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
awk '
function median(k,   n, i, j, t, a) {
	n = cnt[k]; for (i = 1; i <= n; i++) a[i] = v[k, i]
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
function add(k, x) { v[k, ++cnt[k]] = x }
$1 == "peak" { add("peak", $3); add("peakc", $4); next }
{ k = $1 " " $2; add(k, $4); add(k " s", $5); add(k " c", $6); add(k " g", $7); add(k " n", $8) }
END {
	pk = median("peak"); pc = median("peakc")
	printf "float32 FMA peak (fma_peak, idle): %.0f GFLOP/s, %.0f GFLOP per CPU second\n\n", pk, pc
	printf "%-5s %-10s %10s %10s %10s %12s %10s %12s %10s\n", "mode", "precision", "s/step", "cpu-s/step", "GFLOP/s", "of f32 peak", "GF/cpu-s", "of peak/cpu", "signs/step"
	for (m = 1; m <= 2; m++) for (i = 1; i <= 2; i++) {
		mode = m == 1 ? "idle" : "busy"; p = i == 1 ? "f32" : "bf16"; k = mode " " p
		if (!(k in cnt)) continue
		printf "%-5s %-10s %10.3f %10.3f %10.0f %11.0f%% %10.0f %11.0f%% %10.1f\n", mode, p, median(k " s"), median(k " c"), median(k), 100 * median(k) / pk,
			median(k " g"), 100 * median(k " g") / pc, median(k " n")
	}
	for (m = 1; m <= 2; m++) {
		mode = m == 1 ? "idle" : "busy"
		if (((mode " f32") in cnt) && ((mode " bf16") in cnt))
			printf "\nbf16 / float32 speed-up, %s: %.2fx (CPU time: %.2fx)", mode, median(mode " f32 s") / median(mode " bf16 s"), median(mode " f32 c") / median(mode " bf16 c")
	}
	printf "\n"
	for (i = 1; i <= 2; i++) {
		p = i == 1 ? "f32" : "bf16"
		if ((("idle " p) in cnt) && (("busy " p) in cnt))
			printf "slowdown with one core busy (busy / idle), %s: %.2fx\n", p, median("busy " p " s") / median("idle " p " s")
	}
}' "$tmp/results"
