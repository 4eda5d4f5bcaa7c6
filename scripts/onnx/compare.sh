#!/usr/bin/env bash
# compare.sh times gococa's encoders next to ONNX Runtime (and PyTorch) running the
# same graph, as a knowledgeable user of each runs it, at 1 and 2 threads, on an idle
# machine and with one core busy, in one run, and prints the ratios.
#
#   gococa       BenchmarkEncodeImage (batch 1, 8; "features": BenchmarkEncodeImageFeatures,
#                the features alone, as open_clip's encode_image returns them, which
#                gococa computes only as far as they read the pooler and ONNX Runtime's
#                graph computes whole), BenchmarkEncodeText (batch 8; for
#                "prompt" with GOCOCA_BENCH_TEXT=prompts) and BenchmarkCaption (greedy,
#                29 tokens, f32, bf16 and int8 weights) of the root package,
#                GOMAXPROCS = threads
#   gococa-bf16  the same encoders with bfloat16 products and float32 sums
#                (GOCOCA_BENCH_PRECISION=bf16: tensor.CPUBF16, VDPBF16PS where the
#                CPU has AVX512_BF16); the caption's bf16 column is bfloat16 weights
#   gococa-int8  the caption with the text stacks' weights in int8 (caption only)
#   ONNX Runtime onnxruntime-node 1.30.0 from npm (CPU EP), the encoders of
#                golden/pytorch/coca_ref.py exported by export.py (torch 1.13, opset 17,
#                dynamic batch) and checked against PyTorch first (bench.js --check);
#                intraOpNumThreads = threads, graphOptimizationLevel 'all'
#   PyTorch      golden/pytorch/bench.py (the same reference graph), tuned as a user on
#                this machine would: OMP_WAIT_POLICY=PASSIVE, OpenBLAS with its own
#                kernel for the CPU (env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE for
#                that command alone) and OPENBLAS_NUM_THREADS = threads
#
# All sides use random weights of the same architecture (coca_ViT-B-32 unless CONFIG)
# and time the encoders alone (no preprocessing, features normalized). "text" is
# ids without padding, the whole context; "prompt" is the zero-shot prompts of
# scripts/onnx/prompts.txt (7-12 ids, the rest padding, tokenized by `coca tokenize`
# for ONNX Runtime), which gococa computes only as far as the features read them
# and ONNX Runtime's graph computes whole (PyTorch runs neither "prompt" nor "features"). "busy" runs
# every command with one competing busy process, (while :; do :; done) &, started
# before and killed after it. Rounds alternate idle and busy and the implementations,
# so that a drift of the machine's load hits all of them; each figure is the median
# over rounds of each run's median (gococa: mean over REPEAT of b.N runs).
#
# Usage: scripts/onnx/compare.sh        (from anywhere in the checkout)
#        scripts/shield.sh bash scripts/onnx/compare.sh   (on a shared machine: see shield.sh)
#        scripts/onnx/compare.sh --report FILE   (the tables again, from a RESULTS file)
# Environment:
#   ONNX_DIR    where onnxruntime-node is installed and the models are exported
#               (default ~/.cache/gococa-onnx; created; outside the repository)
#   CONFIG      default coca_ViT-B-32 (needs golden/pytorch/configs/CONFIG.json)
#   THREADS     default "1 2"
#   MODES       default "idle busy"
#   ROUNDS      default 3
#   IMPLS       default "gococa gococa-bf16 onnxruntime pytorch"
#   WORKLOADS   default "image:1 image:8 features:1 features:8 text:8 prompt:8 caption:1"
#   REPEAT      timed runs per process at batch 1 (default 10; batch 8 and caption: 3)
#   PYTHON      default /usr/bin/python3 (with torch)
#   RESULTS     a file to keep the raw results in (one line per sample:
#               mode threads workload batch impl round seconds cpu-seconds)
# Takes about 20 minutes with the defaults and ~4 GB. Quote ratios from one run.
set -euo pipefail
cd "$(dirname "$0")/../.."
ONNX_DIR=${ONNX_DIR:-$HOME/.cache/gococa-onnx}
CONFIG=${CONFIG:-coca_ViT-B-32}
THREADS=${THREADS:-"1 2"}
MODES=${MODES:-"idle busy"}
ROUNDS=${ROUNDS:-3}
IMPLS=${IMPLS:-"gococa gococa-bf16 onnxruntime pytorch"}
WORKLOADS=${WORKLOADS:-"image:1 image:8 features:1 features:8 text:8 prompt:8 caption:1"}
REPEAT=${REPEAT:-10}
PYTHON=${PYTHON:-/usr/bin/python3}
json=golden/pytorch/configs/$CONFIG.json
models=$ONNX_DIR/models/$CONFIG
[ -f "$json" ] || { echo "compare.sh: no PyTorch config $json" >&2; exit 1; }
tmp=$(mktemp -d)
busy=
cleanup() {
	[ -n "$busy" ] && kill "$busy" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

has() { case " $IMPLS " in *" $1 "*) return 0 ;; esac; return 1; }

# report FILE: the tables, from the raw result lines of FILE.
report() {
awk '
function median(key,   n, i, j, t, a) {
	n = cnt[key]; for (i = 1; i <= n; i++) a[i] = v[key, i]
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
{
	mode = $1; t = $2; w = $3 ":" $4; impl = $5; r = $6
	# per round: the median of the samples of one process
	k = mode SUBSEP t SUBSEP w SUBSEP impl SUBSEP r
	if (!(k in rc)) { rk[++nrk] = k }
	rs[k, ++rc[k]] = $7
	ck = mode SUBSEP t SUBSEP w SUBSEP impl
	if ($8 != "") { cpu[ck] = $8 }
	if (!(w in ws)) { ws[w] = 1; word[++nw] = w }
	if (!(impl in is)) { is[impl] = 1; iord[++ni] = impl }
	if (!(t in ts)) { ts[t] = 1; tord[++nt] = t }
	if (!(mode in ms)) { ms[mode] = 1; mord[++nm] = mode }
}
END {
	for (x = 1; x <= nrk; x++) {
		k = rk[x]; split(k, p, SUBSEP); n = rc[k]
		for (i = 1; i <= n; i++) tmp[i] = rs[k, i]
		for (i = 2; i <= n; i++) for (j = i; j > 1 && tmp[j-1] > tmp[j]; j--) { u = tmp[j]; tmp[j] = tmp[j-1]; tmp[j-1] = u }
		rm = n % 2 ? tmp[(n+1)/2] : (tmp[n/2] + tmp[n/2+1]) / 2
		key = p[1] SUBSEP p[2] SUBSEP p[3] SUBSEP p[4]
		v[key, ++cnt[key]] = rm
	}
	printf "\n%-10s %-7s %-5s", "workload", "threads", "mode"
	for (i = 1; i <= ni; i++) printf " %14s", iord[i]
	printf " %12s %12s %12s\n", "ORT/gococa", "PyT/gococa", "ORT/bf16"
	for (a = 1; a <= nw; a++) for (b = 1; b <= nt; b++) for (c = 1; c <= nm; c++) {
		w = word[a]; t = tord[b]; mode = mord[c]; line = 0
		for (i = 1; i <= ni; i++) { key = mode SUBSEP t SUBSEP w SUBSEP iord[i]; med[iord[i]] = (key in cnt) ? median(key) : 0; if (med[iord[i]] > 0) line = 1 }
		if (!line) continue
		printf "%-10s %-7s %-5s", w, t, mode
		for (i = 1; i <= ni; i++) printf " %14s", (med[iord[i]] > 0 ? sprintf("%.4f", med[iord[i]]) : "-")
		g = med["gococa"]
		h = med["gococa-bf16"]
		printf " %11s %12s %12s\n", (g > 0 && med["onnxruntime"] > 0) ? sprintf("%.2fx", med["onnxruntime"] / g) : "-",
			(g > 0 && med["pytorch"] > 0) ? sprintf("%.2fx", med["pytorch"] / g) : "-",
			(w !~ /^caption/ && h > 0 && med["onnxruntime"] > 0) ? sprintf("%.2fx", med["onnxruntime"] / h) : "-"
	}
	printf "\nslowdown with one core busy (busy / idle, same threads):\n%-10s %-7s", "workload", "threads"
	for (i = 1; i <= ni; i++) printf " %14s", iord[i]
	printf "\n"
	for (a = 1; a <= nw; a++) for (b = 1; b <= nt; b++) {
		w = word[a]; t = tord[b]; line = ""
		for (i = 1; i <= ni; i++) {
			ki = "idle" SUBSEP t SUBSEP w SUBSEP iord[i]; kb = "busy" SUBSEP t SUBSEP w SUBSEP iord[i]
			if ((ki in cnt) && (kb in cnt)) { line = line sprintf(" %13.2fx", median(kb) / median(ki)) } else { line = line sprintf(" %14s", "-") }
		}
		if (line ~ /x/) printf "%-10s %-7s%s\n", w, t, line
	}
	printf "\n2-thread speed-up over 1 thread (idle):\n%-10s", "workload"
	for (i = 1; i <= ni; i++) printf " %14s", iord[i]
	printf "\n"
	for (a = 1; a <= nw; a++) {
		w = word[a]; line = ""
		for (i = 1; i <= ni; i++) {
			k1 = "idle" SUBSEP 1 SUBSEP w SUBSEP iord[i]; k2 = "idle" SUBSEP 2 SUBSEP w SUBSEP iord[i]
			if ((k1 in cnt) && (k2 in cnt)) { line = line sprintf(" %13.2fx", median(k1) / median(k2)) } else { line = line sprintf(" %14s", "-") }
		}
		if (line ~ /x/) printf "%-10s%s\n", w, line
	}
}' "$1"
}

if [ "${1:-}" = --report ]; then
	report "$2"
	exit 0
fi

if has onnxruntime; then
	mkdir -p "$ONNX_DIR"
	if [ ! -d "$ONNX_DIR/node_modules/onnxruntime-node" ]; then
		echo "installing onnxruntime-node 1.30.0 into $ONNX_DIR..." >&2
		# --ignore-scripts: the postinstall would download a CUDA provider; the CPU
		# binaries are in the package.
		(cd "$ONNX_DIR" && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node@1.30.0 >&2)
	fi
	export NODE_PATH=$ONNX_DIR/node_modules
	# Export again when the reference, the exporter or the config changed (by
	# content: a checkout or rebase changes their times, not their graph).
	stamp=$(cat golden/pytorch/coca_ref.py scripts/onnx/export.py "$json" | sha256sum | cut -d' ' -f1)
	if [ ! -f "$models/check/check.json" ] || [ "$(cat "$models/check/stamp" 2>/dev/null)" != "$stamp" ]; then
		echo "exporting $CONFIG to ONNX ($models)..." >&2
		"$PYTHON" scripts/onnx/export.py --config "$json" --out "$models" 2>"$tmp/export.err" || {
			cat "$tmp/export.err" >&2
			exit 1
		}
		echo "$stamp" >"$models/check/stamp"
	fi
	echo "checking ONNX Runtime's outputs against PyTorch's..." >&2
	node scripts/onnx/bench.js --models "$models" --check >&2
	ctx=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).context_length)' "$models/check/check.json")
	go run ./cmd/coca tokenize --context-length "$ctx" scripts/onnx/prompts.txt >"$tmp/prompts.ids"
fi
if has gococa || has gococa-bf16; then
	echo "building the Go benchmarks..." >&2
	go test -c -o "$tmp/gococa.test" .
fi

# run_gococa T WORKLOAD BATCH [PRECISION]: prints "seconds cpu_seconds" lines (one
# per sample).
run_gococa() {
	local t=$1 w=$2 b=$3 prec=${4:-f32} bench unit n count=3 text=
	case $w in
	image) bench='^BenchmarkEncodeImage$' unit=s/batch ;;
	features) bench='^BenchmarkEncodeImageFeatures$' unit=s/batch ;;
	text) bench='^BenchmarkEncodeText$' unit=s/batch ;;
	prompt) bench='^BenchmarkEncodeText$' unit=s/batch text=prompts ;;
	caption) bench='^BenchmarkCaption$/^config=coca_ViT-B-32$/^mode=greedy$/^tokens=29$/' unit=s/caption ;;
	esac
	n=$REPEAT
	[ "$b" -gt 1 ] && n=3
	[ "$w" = caption ] && n=1 count=3
	GOMAXPROCS=$t GOCOCA_BENCH_MODELS=$CONFIG:$b GOCOCA_BENCH_PRECISION=$prec GOCOCA_BENCH_TEXT=$text "$tmp/gococa.test" -test.run '^$' -test.bench "$bench" \
		-test.benchtime "${n}x" -test.count "$count" >"$tmp/go.out" 2>&1 || {
		cat "$tmp/go.out" >&2
		return 1
	}
	awk -v unit="$unit" '/^Benchmark/ { s = ""; c = ""; w = $1; sub(/.*weights=/, "", w); sub(/-[0-9]+$/, "", w)
		if ($1 !~ /weights=/) w = ""
		for (i = 2; i <= NF; i++) { if ($i == unit) s = $(i-1); if ($i == "cpu-" unit) c = $(i-1) }
		if (s != "") print s, c, w }' "$tmp/go.out"
}

# run_ort T WORKLOAD BATCH
run_ort() {
	local n=$REPEAT w=$2 ids=
	[ "$3" -gt 1 ] && n=3
	[ "$w" = prompt ] && w=text ids="--ids $tmp/prompts.ids"
	# shellcheck disable=SC2086 # ids: none or two words
	node scripts/onnx/bench.js --models "$models" --threads "$1" --workload "$w" --batch "$3" \
		--repeat "$n" --warmup 2 $ids >"$tmp/ort.out" 2>&1 || {
		cat "$tmp/ort.out" >&2
		return 1
	}
	node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").pop());
		console.log(r.seconds, r.cpu_seconds)' "$tmp/ort.out"
}

# run_pytorch T WORKLOAD BATCH
run_pytorch() {
	local n=$REPEAT w=encode_$2
	[ "$3" -gt 1 ] && n=3
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS="$1" \
		OPENBLAS_NUM_THREADS="$1" "$PYTHON" golden/pytorch/bench.py --threads "$1" --config "$json" \
		--workloads "$w" --batch "$3" --repeat "$n" --warmup 1 >"$tmp/py.out" 2>"$tmp/py.err" || {
		cat "$tmp/py.err" >&2
		return 1
	}
	"$PYTHON" -c 'import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(r["seconds"], "")' "$tmp/py.out"
}

for r in $(seq 1 "$ROUNDS"); do
	for mode in $MODES; do
		if [ "$mode" = busy ]; then
			(while :; do :; done) &
			busy=$!
		fi
		for t in $THREADS; do
			for wb in $WORKLOADS; do
				w=${wb%%:*} b=${wb##*:}
				impls=$IMPLS
				# alternate the order of the implementations between rounds
				[ $((r % 2)) -eq 0 ] && impls=$(echo "$IMPLS" | tr ' ' '\n' | tac | tr '\n' ' ')
				for impl in $impls; do
					has "$impl" || continue
					# the caption runs float32, bfloat16 and int8 weights under
					# "gococa" (reported as gococa, gococa-bf16 and gococa-int8)
					[ "$w" = caption ] && [ "$impl" != gococa ] && continue
					case $w in prompt | features) [ "$impl" = pytorch ] && continue ;; esac
					echo "round $r/$ROUNDS, $mode, $t threads: $impl $w batch $b..." >&2
					case $impl in
					gococa) run_gococa "$t" "$w" "$b" ;;
					gococa-bf16) run_gococa "$t" "$w" "$b" bf16 ;;
					onnxruntime) run_ort "$t" "$w" "$b" ;;
					pytorch) run_pytorch "$t" "$w" "$b" ;;
					esac | while read -r s c x; do
						name=$impl
						[ -n "${x:-}" ] && [ "$x" != f32 ] && name=$impl-$x
						echo "$mode $t $w $b $name $r $s ${c:-}"
					done >>"$tmp/results"
				done
			done
		done
		if [ -n "$busy" ]; then
			kill "$busy"
			wait "$busy" 2>/dev/null || true
			busy=
		fi
	done
done

echo "gococa $(git rev-parse --short HEAD 2>/dev/null || echo '?') ($(GOCOCA_SIMD= go env GOARCH)), ONNX Runtime 1.30.0 (npm onnxruntime-node, CPU EP), PyTorch $("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null) tuned; $CONFIG, random weights"
echo "$(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "seconds per batch (caption: per caption), median over $ROUNDS round(s); busy = one competing busy process"
report "$tmp/results"
if [ -n "${RESULTS:-}" ]; then
	cp "$tmp/results" "$RESULTS"
	echo "raw results in $RESULTS (scripts/onnx/compare.sh --report $RESULTS prints these tables again)"
fi
