#!/bin/sh
# compare.sh puts gococa's SGEMM next to OpenBLAS's as a user of OpenBLAS
# runs it: with the kernel OpenBLAS picks for this CPU (the command runs
# under env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE, since this project's
# machines export OPENBLAS_CORETYPE=Haswell, which would hand OpenBLAS its
# AVX2 kernel on an AVX-512 CPU), at 1 and 2 threads (OPENBLAS_NUM_THREADS
# and GOMAXPROCS), on an idle machine and with one competing busy process,
# in one run. It also measures this CPU's float32 FMA peak (fma_peak.c: 24
# independent chains per thread) and prints, per shape and thread count:
# GFLOP/s of both, the ratio gococa/OpenBLAS, gococa's share of the peak,
# the same per CPU second (all threads of the process, spinning included:
# steadier than wall time on a shared machine), and gococa's bfloat16 GEMM (SgemmBF16; VDPBF16PS where the CPU has
# AVX512_BF16) beside them; then the busy/idle slowdown of each.
#
# Usage: scripts/openblas/compare.sh        (from anywhere in the checkout)
#        scripts/shield.sh sh scripts/openblas/compare.sh   (on a shared machine: see shield.sh)
# Environment:
#   IMPL      gococa level (default: the one gococa dispatches to: avx512 on
#             amd64 CPUs with AVX-512F, else avx2; neon on arm64)
#   THREADS   default "1 2"
#   MODES     default "idle busy" (busy: (while :; do :; done) & around
#             each command)
#   ROUNDS    default 3: rounds alternate the two libraries; each figure is
#             the best over rounds of each process's best of 3 trials
#   SECONDS_PER_SHAPE  default 1 (per trial set of one shape)
#   RESULTS   a file to keep the raw lines in (compare.sh --report FILE
#             prints the tables again)
# Needs libopenblas-dev, gcc and Go. Compare ratios from one run only.
set -eu
cd "$(dirname "$0")/../.."
case "$(go env GOARCH)" in
arm64) IMPL=${IMPL:-neon} ;;
*) if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then IMPL=${IMPL:-avx512}; else IMPL=${IMPL:-avx2}; fi ;;
esac
THREADS=${THREADS:-"1 2"}
MODES=${MODES:-"idle busy"}
ROUNDS=${ROUNDS:-3}
SECS=${SECONDS_PER_SHAPE:-1}
tmp=$(mktemp -d)
busy=
cleanup() {
	[ -n "$busy" ] && kill "$busy" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

report() {
	awk '
	{ mode = $1; t = $2; lib = $3; s = $4; g = $5; c = $6
	  key = mode SUBSEP s SUBSEP t
	  if (!((mode SUBSEP s) in seen)) { seen[mode SUBSEP s] = 1; if (!(s in sseen)) { sseen[s] = 1; sorder[++ns] = s } }
	  if (!(t in tseen)) { tseen[t] = 1; torder[++nt] = t }
	  if (!(mode in mseen)) { mseen[mode] = 1; morder[++nm] = mode }
	  if (!((lib, key) in best) || g + 0 > best[lib, key]) { best[lib, key] = g + 0; cpu[lib, key] = c + 0 } }
	END {
	  for (mi = 1; mi <= nm; mi++) {
	    mode = morder[mi]
	    printf "\n%s:\n%-16s %7s %10s %10s %7s %8s %10s %10s %7s %8s %9s %9s\n", mode, "MxKxN", "threads", "OpenBLAS", "gococa", "ratio", "of peak", "OpenBLAS", "gococa", "ratio", "of peak", "bf16", "bf16/f32"
	    printf "%-16s %7s %10s %10s %7s %8s %10s %10s %7s %8s %9s %9s\n", "", "", "GFLOP/s", "GFLOP/s", "", "", "GF/cpu-s", "GF/cpu-s", "", "(cpu)", "GFLOP/s", ""
	    for (ti = 1; ti <= nt; ti++) {
	      t = torder[ti]; pk = best["peak", mode SUBSEP "peak" SUBSEP t]
	      if (pk > 0) printf "%-16s %7s %10s %10.1f %7s %8s %10s %10.1f\n", "FMA peak", t, "", pk, "", "", "", cpu["peak", mode SUBSEP "peak" SUBSEP t]
	    }
	    for (si = 1; si <= ns; si++) for (ti = 1; ti <= nt; ti++) {
	      s = sorder[si]; t = torder[ti]; key = mode SUBSEP s SUBSEP t
	      if (s == "peak" || !(("gococa", key) in best)) continue
	      o = best["openblas", key]; g = best["gococa", key]; h = best["bf16", key]; pk = best["peak", mode SUBSEP "peak" SUBSEP t]
	      pc = cpu["peak", mode SUBSEP "peak" SUBSEP t]
	      oc = cpu["openblas", key]; gc = cpu["gococa", key]
	      printf "%-16s %7s %10.1f %10.1f %6.2fx %7s %10.1f %10.1f %6.2fx %7s %9s %9s\n", s, t, o, g, (o > 0 ? g / o : 0),
	        (pk > 0 ? sprintf("%.0f%%", 100 * g / pk) : "-"), oc, gc, (oc > 0 ? gc / oc : 0),
	        (pc > 0 ? sprintf("%.0f%%", 100 * gc / pc) : "-"),
	        (h > 0 ? sprintf("%.1f", h) : "-"), (h > 0 && g > 0 ? sprintf("%.2fx", h / g) : "-")
	    }
	  }
	  if (("idle" in mseen) && ("busy" in mseen)) {
	    printf "\nslowdown with one core busy (idle GFLOP/s / busy GFLOP/s):\n%-16s %7s %10s %10s\n", "MxKxN", "threads", "OpenBLAS", "gococa"
	    for (si = 1; si <= ns; si++) for (ti = 1; ti <= nt; ti++) {
	      s = sorder[si]; t = torder[ti]
	      if (s == "peak") continue
	      ki = "idle" SUBSEP s SUBSEP t; kb = "busy" SUBSEP s SUBSEP t
	      oi = best["openblas", ki]; ob = best["openblas", kb]; gi = best["gococa", ki]; gb = best["gococa", kb]
	      if (gi > 0 && gb > 0) printf "%-16s %7s %9.2fx %9.2fx\n", s, t, (ob > 0 ? oi / ob : 0), gi / gb
	    }
	  }
	}' "$1"
}

if [ "${1:-}" = --report ]; then
	report "$2"
	exit 0
fi

CFLAGS=$(pkg-config --cflags openblas 2>/dev/null || echo "-I/usr/include/$(gcc -dumpmachine)")
LIBS=$(pkg-config --libs openblas 2>/dev/null || echo "-lopenblas")
# shellcheck disable=SC2086
cc -O2 $CFLAGS -o "$tmp/sgemm_bench" scripts/openblas/sgemm_bench.c $LIBS
cc -O2 -pthread -o "$tmp/fma_peak" scripts/openblas/fma_peak.c
go test -c -o "$tmp/gococa.test" .
core=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_VERBOSE=2 OPENBLAS_NUM_THREADS=1 "$tmp/sgemm_bench" 0.001 2>&1 |
	sed -n 's/^Core: //p' | head -1)

for r in $(seq 1 "$ROUNDS"); do
	for mode in $MODES; do
		if [ "$mode" = busy ]; then
			(while :; do :; done) &
			busy=$!
		fi
		for t in $THREADS; do
			echo "round $r/$ROUNDS, $mode, $t threads..." >&2
			"$tmp/fma_peak" 0.5 "$t" | awk -v m="$mode" -v t="$t" '/isa=avx512|isa=avx2/ && !done {
				g = $3; sub(/gflops=/, "", g); c = $4; sub(/cpu_gflops=/, "", c)
				print m, t, "peak", "peak", g, c; done = 1 }' >>"$tmp/results"
			ob() {
				env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$t" "$tmp/sgemm_bench" "$SECS" |
					awk -v m="$mode" -v t="$t" '{ s = $1; sub(/size=/, "", s); g = $2; sub(/gflops=/, "", g); c = $3; sub(/cpu_gflops=/, "", c)
						print m, t, "openblas", s, g, c }' >>"$tmp/results"
			}
			go_() {
				GOMAXPROCS=$t "$tmp/gococa.test" -test.run '^$' -test.bench "^BenchmarkSgemm\$/^impl=($IMPL|bf16)\$/" \
					-test.benchtime "$(awk "BEGIN{print $SECS/3}")s" -test.count 3 |
					awk -v m="$mode" -v t="$t" '/GFLOP\/s/ { s = $1; sub(/.*size=/, "", s); sub(/-[0-9]+$/, "", s)
						lib = ($1 ~ /impl=bf16/) ? "bf16" : "gococa"; g = ""; c = ""
						for (i = 2; i <= NF; i++) { if ($(i) == "GFLOP/s") g = $(i-1); if ($(i) == "GFLOP/cpu-s") c = $(i-1) }
						print m, t, lib, s, g, c }' >>"$tmp/results"
			}
			if [ $((r % 2)) -eq 1 ]; then ob; go_; else go_; ob; fi
		done
		if [ -n "$busy" ]; then
			kill "$busy"
			wait "$busy" 2>/dev/null || true
			busy=
		fi
	done
done

echo "OpenBLAS: $(ldconfig -p 2>/dev/null | awk '/libopenblas.so.0/ {print $NF; exit}') (core ${core:-?}, OPENBLAS_CORETYPE unset)  gococa $(git rev-parse --short HEAD 2>/dev/null || echo '?'): impl=$IMPL"
echo "$(uname -m), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "best of $ROUNDS rounds x 3 trials; peak: fma_peak, float32 FMA, widest vectors"
report "$tmp/results"
if [ -n "${RESULTS:-}" ]; then
	cp "$tmp/results" "$RESULTS"
	echo "raw results in $RESULTS (scripts/openblas/compare.sh --report $RESULTS prints these tables again)"
fi
