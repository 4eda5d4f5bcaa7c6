#!/usr/bin/env bash
# Data-parallel scaling on this machine (issue 10): step time of one rank
# against two ranks under mpirun, one core each (GOMAXPROCS=1, bound to a
# core), the same per-rank batch, and the share of the step spent inside
# collectives; for reference, two independent single-core processes run at
# once (the step time two ranks would have with free communication). The configurations run interleaved REPS times so that other
# load on the machine hits them alike; the figures are medians of the
# per-step times in metrics.jsonl (the first STEPS/5 steps dropped).
#
#   bash scripts/dist-scaling.sh [config] [batch per rank] [steps] [reps]
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-coca_shapes} batch=${2:-32} steps=${3:-40} reps=${4:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -tags mpi -o "$work/coca" ./cmd/coca
common=(train --config "$config" --batch "$batch" --steps "$steps" --eval-every -1 --save-every 1000000 --log-every 1)

median_step() { # metrics.jsonl → median ms per step after the warm-up
  python3 - "$1" "$steps" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l]
t = [b["elapsed_s"] - a["elapsed_s"] for a, b in zip(lines, lines[1:])][int(sys.argv[2]) // 5:]
t.sort()
print(f"{1000 * t[len(t) // 2]:.1f}")
EOF
}

printf '%-44s %10s %s\n' "configuration" "ms/step" "communication (mean over the steps)"
for rep in $(seq "$reps"); do
  out="$work/one-$rep"
  GOMAXPROCS=1 taskset -c 0 "$work/coca" "${common[@]}" --out "$out" >/dev/null 2>&1
  printf '%-44s %10s\n' "1 process (no MPI), batch $batch" "$(median_step "$out/metrics.jsonl")"
  # Two independent processes at once, one per core: what two ranks would
  # take per step without any communication, on this machine as loaded.
  GOMAXPROCS=1 taskset -c 0 "$work/coca" "${common[@]}" --out "$out-a" >/dev/null 2>&1 &
  GOMAXPROCS=1 taskset -c 1 "$work/coca" "${common[@]}" --out "$out-b" >/dev/null 2>&1
  wait
  printf '%-44s %10s\n' "2 independent processes at once, batch $batch" "$(median_step "$out-a/metrics.jsonl") $(median_step "$out-b/metrics.jsonl")"
  for np in 1 2; do
    for bucket in 2 -1; do
      out="$work/mpi-$np-$bucket-$rep"
      log=$(mpirun --bind-to core -np "$np" -x GOMAXPROCS=1 "$work/coca" "${common[@]}" --out "$out" \
        --dist mpi --dist-bucket-mb "$bucket" 2>/dev/null | grep 'inside collectives' || true)
      share=$(sed -n 's/.* of which \(.*\) inside collectives.*/\1/p' <<<"$log")
      printf '%-44s %10s %s\n' "mpirun -np $np, batch $np×$batch, bucket $bucket MiB" "$(median_step "$out/metrics.jsonl")" "$share"
    done
  done
done
