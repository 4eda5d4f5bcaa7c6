#!/usr/bin/env bash
# bench_scaling.sh measures how gococa's cost grows with the batch: it runs
# BenchmarkTrainStep and BenchmarkEncodeImage (bench_model_test.go) for
# every batch size in BATCHES at every image size in IMAGES, and prints a
# Markdown table (for the README) of seconds per step, seconds per image,
# CPU seconds per step (all threads), counted GFLOP/s and peak RSS, then, per image size, the least-squares line
# time = fixed + per-image·batch and the largest relative deviation from it
# (a small deviation means the cost grows linearly with the batch).
#
# Usage: scripts/bench_scaling.sh        (from anywhere in the checkout)
# Environment:
#   CONFIG     built-in config (default coca_ViT-B-32)
#   BATCHES    default "1 2 4 8 16"
#   IMAGES     image sizes in pixels (default "224 288")
#   THREADS    GOMAXPROCS (default 2)
#   REPEAT     timed steps per case, after one warm-up (default 2)
#   WORKLOADS  default "TrainStep EncodeImage"
# Each image size runs in one process; the benchmark resets the peak-RSS
# count when it moves to the next batch size. About 4 minutes per image
# size for coca_ViT-B-32 on 2 cores. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-coca_ViT-B-32}
BATCHES=${BATCHES:-"1 2 4 8 16"}
IMAGES=${IMAGES:-"224 288"}
THREADS=${THREADS:-2}
REPEAT=${REPEAT:-2}
WORKLOADS=${WORKLOADS:-"TrainStep EncodeImage"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "building the Go benchmarks..." >&2
go test -c -o "$tmp/gococa.test" .
pattern="^Benchmark($(echo "$WORKLOADS" | tr ' ' '|'))\$"

for img in $IMAGES; do
	cases=
	for b in $BATCHES; do
		cases=${cases:+$cases,}$CONFIG:$b:$img
	done
	echo "image $img: $cases..." >&2
	GOMAXPROCS=$THREADS GOCOCA_BENCH_MODELS=$cases "$tmp/gococa.test" -test.run '^$' \
		-test.bench "$pattern" -test.benchtime "${REPEAT}x" >>"$tmp/out" 2>&1 || {
		cat "$tmp/out" >&2
		exit 1
	}
done

echo "gococa $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $CONFIG, $THREADS threads, mean of $REPEAT steps after a warm-up; $(uname -m), $(nproc) CPUs"
echo
awk '
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	n = split(name, p, "/")
	w = p[1]; sub(/^Benchmark/, "", w)
	b = p[3]; sub(/batch=/, "", b)
	img = p[4]; sub(/image=/, "", img)
	s = ""; g = ""; r = ""; c = ""
	for (i = 2; i <= NF; i++) {
		if ($i == "s/step" || $i == "s/batch") s = $(i-1)
		if ($i == "cpu-s/step" || $i == "cpu-s/batch") c = $(i-1)
		if ($i == "GFLOP/s") g = $(i-1)
		if ($i == "peak-RSS-bytes") r = $(i-1)
	}
	if (s == "") next
	key = w SUBSEP img SUBSEP b
	if (!(key in sec)) { order[++nk] = key }
	sec[key] = s; gf[key] = g; rss[key] = r; cpu[key] = c
}
END {
	printf "| workload | image | batch | s/step | s/image | CPU s/step | GFLOP/s | peak RSS |\n"
	printf "|---|---|---|---|---|---|---|---|\n"
	for (i = 1; i <= nk; i++) {
		split(order[i], k, SUBSEP)
		printf "| %s | %s | %s | %.3f | %.3f | %.3f | %s | %s |\n", k[1], k[2], k[3], sec[order[i]], sec[order[i]] / k[3], cpu[order[i]],
			(gf[order[i]] == "" ? "" : sprintf("%.1f", gf[order[i]])),
			(rss[order[i]] == "" ? "" : sprintf("%.2f GiB", rss[order[i]] / 2^30))
		grp = k[1] SUBSEP k[2]
		if (!(grp in cnt)) gorder[++ng] = grp
		cnt[grp]++; xs[grp, cnt[grp]] = k[3]; ys[grp, cnt[grp]] = sec[order[i]]
	}
	printf "\n| workload | image | fixed s | s per image | max deviation from the line |\n|---|---|---|---|---|\n"
	for (j = 1; j <= ng; j++) {
		grp = gorder[j]; m = cnt[grp]
		sx = sy = sxx = sxy = 0
		for (i = 1; i <= m; i++) { x = xs[grp, i]; y = ys[grp, i]; sx += x; sy += y; sxx += x * x; sxy += x * y }
		d = m * sxx - sx * sx
		slope = (d != 0 ? (m * sxy - sx * sy) / d : 0); icpt = (sy - slope * sx) / m
		dev = 0
		for (i = 1; i <= m; i++) { f = icpt + slope * xs[grp, i]; e = (ys[grp, i] - f) / ys[grp, i]; if (e < 0) e = -e; if (e > dev) dev = e }
		split(grp, k, SUBSEP)
		printf "| %s | %s | %.3f | %.3f | %.1f%% |\n", k[1], k[2], icpt, slope, 100 * dev
	}
}' "$tmp/out"
