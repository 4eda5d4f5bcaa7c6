#!/usr/bin/env bash
# Runs the CLI on every hostile input of issue 16 (internal/hostile, written
# by go run ./scripts/hostile) and prints a markdown table: case, command,
# exit code, first line of the message, peak RSS and wall time, measured
# with /usr/bin/time -v. Acceptance: a clear error naming the file and the
# limit (or correct output), peak RSS under 512 MB beyond the model (the
# tiny model here), and no run longer than 10 s (CPU time, user + system, is
# printed too: on a busy machine it is the steadier figure).
#
#   bash scripts/hostile.sh              # build, generate, measure
#   COCA=/tmp/coca-other bash scripts/hostile.sh   # measure another binary
#
# Each command runs under a 60 s timeout and a 8 GiB address-space limit, so
# that a loader without bounds fails here instead of taking the machine down.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${HOSTILE_DIR:-$(mktemp -d /tmp/hostile.XXXXXX)}
bin=${COCA:-$dir/coca}
if [ -z "${COCA:-}" ]; then
  go build -o "$bin" ./cmd/coca
fi
if [ ! -e "$dir/pickle_bigkeys.bin" ]; then
  go run ./scripts/hostile -out "$dir" >/dev/null
fi
mkdir -p "$dir/fifo"
[ -p "$dir/fifo/x.jpg" ] || mkfifo "$dir/fifo/x.jpg"
cp "$dir/ok/ok.png" "$dir/fifo/ok.png"

tiny=(--config golden/testdata/tiny/config.json --checkpoint golden/testdata/tiny/weights.safetensors)
cap=(--start 62 --end 63 --max-len 12)

printf '| case | command | exit | message | max RSS (MB) | wall (s) | CPU (s) |\n'
printf '|---|---|---:|---|---:|---:|---:|\n'
run() {
  local name=$1; shift
  local log=$dir/$name.time out=$dir/$name.out
  set +e
  ( ulimit -v $((8 << 20)); /usr/bin/time -v -o "$log" timeout 60 "$@" >"$out" 2>&1 )
  local rc=$?
  set -e
  local code rss wall cpu msg
  code=$(sed -n 's/^\s*Exit status: //p' "$log")
  [ -n "$code" ] || code=$rc
  if grep -q 'Command terminated by signal' "$log"; then code="signal $(sed -n 's/.*signal //p' "$log")"; fi
  rss=$(awk '/Maximum resident set size/ {printf "%.0f", $NF/1024}' "$log")
  wall=$(sed -n 's/^\s*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$log")
  msg=$(grep -v '^\s*$' "$out" | grep -m1 -iE 'error|panic|fatal|limit|refus|not a regular|coca:' || head -n1 "$out")
  msg=${msg//|/\\|}
  [ ${#msg} -le 220 ] || msg="${msg:0:217}..."
  local shown=${*//$dir\//}
  shown=${shown/#$bin/coca}
  printf '| %s | `%s` | %s | %s | %s | %s | %s |\n' "$name" "$shown" "$code" "$msg" "$rss" "$wall" "$cpu"
}

run pickle_doubling "$bin" convert "$dir/pickle_doubling.bin" "$dir/out.safetensors"
run pickle_nested "$bin" convert "$dir/pickle_nested.bin" "$dir/out.safetensors"
run pickle_set "$bin" convert "$dir/pickle_set.bin" "$dir/out.safetensors"
run pickle_ordereddict "$bin" convert "$dir/pickle_ordereddict.bin" "$dir/out.safetensors"
run pickle_bigkeys "$bin" convert "$dir/pickle_bigkeys.bin" "$dir/out.safetensors"
run deflate_bomb "$bin" convert "$dir/deflate_bomb.bin" "$dir/out.safetensors"
run deflate_view "$bin" convert "$dir/deflate_view.bin" "$dir/out.safetensors"
rm -f "$dir/out.safetensors"
for k in image_size mlp_ratio vocab_size layers; do
  run "config_$k.json" "$bin" caption --config "$dir/config_$k.json" --checkpoint golden/testdata/tiny/weights.safetensors "${cap[@]}" "$dir/ok/ok.png"
  run "config_$k.safetensors" "$bin" caption --checkpoint "$dir/config_$k.safetensors" "${cap[@]}" "$dir/ok/ok.png"
done
run baseline_caption "$bin" caption "${tiny[@]}" "${cap[@]}" "$dir/ok/ok.png"
for p in png_rgb png_rgba png_rgba16 png_limit; do
  run "$p" "$bin" caption "${tiny[@]}" "${cap[@]}" "$dir/$p"
done
run fifo "$bin" caption "${tiny[@]}" "${cap[@]}" "$dir/fifo"
