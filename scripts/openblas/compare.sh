#!/bin/sh
# compare.sh builds sgemm_bench.c against OpenBLAS (libopenblas-dev), runs it
# and gococa's BenchmarkSgemm at 1 and 2 threads (OPENBLAS_NUM_THREADS and
# GOMAXPROCS) and prints GFLOP/s per shape with the ratio gococa/OpenBLAS.
#
# Usage: scripts/openblas/compare.sh        (from anywhere in the checkout)
# Environment: IMPL (default: what gococa dispatches to, avx512 on amd64
# CPUs with AVX-512F, else avx2; neon on arm64), THREADS
# (default "1 2"), SECONDS_PER_SHAPE (default 1).
# Both libraries take the best of 3 trials per shape. The numbers are only
# as quiet as the machine: compare ratios from one run.
set -eu
cd "$(dirname "$0")/../.."
case "$(go env GOARCH)" in
arm64) IMPL=${IMPL:-neon} ;;
*) if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then IMPL=${IMPL:-avx512}; else IMPL=${IMPL:-avx2}; fi ;;
esac
THREADS=${THREADS:-"1 2"}
SECS=${SECONDS_PER_SHAPE:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

CFLAGS=$(pkg-config --cflags openblas 2>/dev/null || echo "-I/usr/include/$(gcc -dumpmachine)")
LIBS=$(pkg-config --libs openblas 2>/dev/null || echo "-lopenblas")
# shellcheck disable=SC2086
cc -O2 $CFLAGS -o "$tmp/sgemm_bench" scripts/openblas/sgemm_bench.c $LIBS
go test -c -o "$tmp/gococa.test" .

for t in $THREADS; do
	echo "threads=$t: OpenBLAS..." >&2
	OPENBLAS_NUM_THREADS=$t "$tmp/sgemm_bench" "$SECS" | sed "s/^/threads=$t openblas /" >>"$tmp/results"
	echo "threads=$t: gococa impl=$IMPL..." >&2
	GOMAXPROCS=$t "$tmp/gococa.test" -test.run '^$' -test.bench "^BenchmarkSgemm\$/^impl=$IMPL\$/" \
		-test.benchtime "$(awk "BEGIN{print $SECS/3}")s" -test.count 3 |
		awk -v t="$t" '/GFLOP\/s/ { s = $1; sub(/.*size=/, "", s); sub(/-[0-9]+$/, "", s);
			for (i = 2; i <= NF; i++) if ($(i) == "GFLOP/s") g = $(i-1);
			print "threads=" t " gococa size=" s " gflops=" g }' >>"$tmp/results"
done

echo "OpenBLAS: $(ldconfig -p 2>/dev/null | awk '/libopenblas.so.0/ {print $NF; exit}')  gococa: impl=$IMPL  $(uname -m)  $(nproc) CPUs"
awk '
{ t = $1; sub(/threads=/, "", t); lib = $2; s = $3; sub(/size=/, "", s); g = $4; sub(/gflops=/, "", g)
  key = s " " t; if (!(key in seen)) { seen[key] = 1; order[++n] = key }
  if (!((lib, key) in best) || g + 0 > best[lib, key]) best[lib, key] = g + 0 }
END {
  printf "%-16s %7s %14s %14s %7s\n", "MxKxN", "threads", "OpenBLAS GF/s", "gococa GF/s", "ratio"
  for (i = 1; i <= n; i++) { split(order[i], p, " "); o = best["openblas", order[i]]; g = best["gococa", order[i]]
    printf "%-16s %7s %14.1f %14.1f %6.2fx\n", p[1], p[2], o, g, (o > 0 ? g / o : 0) }
}' "$tmp/results"
