#!/usr/bin/env bash
# Data-parallel training across hosts, on one machine: network namespaces as
# hosts, joined by veth pairs to a bridge in a "switch" namespace, with
# addresses (10.77.0.0/24) inside those namespaces only. Each host also has
# its own host name (a UTS namespace) and /etc/hosts (ip netns exec's
# /etc/netns/NAME). mpirun runs on host h0 and starts the ranks with OpenMPI
# over TCP (--mca btl tcp,self: no shared memory between the hosts), through
# a launch agent that enters a host's namespaces where a cluster would use
# ssh. Every namespace, link and file it made is removed on exit, also when
# interrupted (a run killed with SIGKILL leaves them to the next run, which
# removes them).
#
#   sudo bash scripts/dist-hosts.sh [check] [faults] [slow]     (default: check)
#
#   check   HOSTS hosts train STEPS steps of the main job's model (coca train's
#           defaults: coca_shapes, global batch 64 = HOSTS × BATCH) and are
#           compared with one process at batch 64: losses within 1e-6 relative,
#           parameters within 1e-6 (‖Δθ‖/‖θ‖). CI runs this.
#   faults  the link of host h1 goes down mid-run, then rank 1 is stopped
#           (SIGSTOP): the survivors must end within --dist-timeout + 5 s naming
#           the host and rank, and the last checkpoint must resume on all the
#           hosts bit-identically to a run that was never interrupted.
#   slow    every host's link limited with tc tbf to 10 and 1 Gbit/s: step
#           time and the share of the gradient all-reduce hidden by the
#           overlap with the backward pass (buckets) against one all-reduce
#           after it; REPS rounds, interleaved.
#
# Environment: HOSTS (2 or 4; default 2), STEPS (10), BATCH (per rank; default
# 64/HOSTS), DIST_TIMEOUT (faults; default 10s), REPS (slow; default 3),
# SLOW_STEPS (slow; default 40), FAULTS (faults; default "link link-keepalive
# stop"), MPI_LIMIT (seconds one mpirun may take; default 300), KEEP=1 keeps
# the work directory.
# Needs root, iproute2 (ip, tc), util-linux (unshare), openmpi-bin and
# libopenmpi-dev, and Go.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(check)
for m in "${modes[@]}"; do
  case $m in check | faults | slow) ;; *)
    echo "dist-hosts.sh: unknown mode $m (want check, faults or slow)" >&2
    exit 2
    ;;
  esac
done
hosts=${HOSTS:-2} steps=${STEPS:-10} timeout=${DIST_TIMEOUT:-10s}
case $hosts in 2 | 4) ;; *)
  echo "dist-hosts.sh: HOSTS=$hosts (want 2 or 4)" >&2
  exit 2
  ;;
esac
batch=${BATCH:-$((64 / hosts))}
global=$((hosts * batch))

if [ "$(id -u)" != 0 ]; then
  echo "dist-hosts.sh: needs root (network namespaces)" >&2
  exit 1
fi
for tool in ip unshare mpirun go; do
  command -v $tool >/dev/null || {
    echo "dist-hosts.sh: $tool not found (apt-get install iproute2 util-linux openmpi-bin libopenmpi-dev)" >&2
    exit 1
  }
done

# Namespaces are named gcdh<pid of this script>-<host>: a later run removes
# those of a script that no longer runs.
prefix=gcdh$$
sw=$prefix-sw
names=()
for i in $(seq 0 $((hosts - 1))); do names+=("h$i"); done
ns() { echo "$prefix-$1"; }

remove_set() { # remove the namespaces (and what runs in them) of prefix $1
  local p=$1 n pids
  for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$p-" || true); do
    pids=$(ip netns pids "$n" 2>/dev/null || true)
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
  done
  sleep 0.2
  for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$p-" || true); do
    ip netns delete "$n" 2>/dev/null || true
    rm -rf "/etc/netns/$n"
  done
  rm -rf /etc/netns/"$p"-* 2>/dev/null || true
}

for stale in $(ip netns list 2>/dev/null | awk '{print $1}' | sed -n 's/^\(gcdh[0-9]*\)-.*/\1/p' | sort -u); do
  kill -0 "${stale#gcdh}" 2>/dev/null || remove_set "$stale"
done

# bgwait COMMAND...: run COMMAND in the background and wait for it, so that a
# signal to this script is handled at once (bash runs a trap only after the
# foreground command ends).
bgwait() {
  "$@" &
  wait $!
}

work=$(mktemp -d /tmp/dist-hosts.XXXXXX)
netns_dir_made=
[ -d /etc/netns ] || netns_dir_made=1
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local j
  j=$(jobs -p)
  [ -z "$j" ] || kill -KILL $j 2>/dev/null || true
  case $rc in 0 | 130 | 143) ;; *) echo "==> dist-hosts.sh: ${mode:-setup} FAILED (exit $rc)" >&2 ;; esac
  remove_set "$prefix"
  left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$prefix-" || true)
  if [ -n "$left" ]; then
    echo "dist-hosts.sh: namespaces left behind: $left" >&2
    rc=1
  fi
  [ -z "$netns_dir_made" ] || rmdir /etc/netns 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the network -------------------------------------------------------------
ip netns add "$sw"
ip -n "$sw" link set lo up
ip -n "$sw" link add br0 type bridge
ip -n "$sw" link set br0 up
for i in "${!names[@]}"; do
  h=${names[$i]} n=$(ns "${names[$i]}")
  ip netns add "$n"
  # both ends are created inside the namespaces: nothing appears in the
  # machine's own namespace
  ip link add eth0 netns "$n" type veth peer name "p$i" netns "$sw"
  ip -n "$n" addr add "10.77.0.$((i + 1))/24" dev eth0
  ip -n "$n" link set lo up
  ip -n "$n" link set eth0 up
  ip -n "$sw" link set "p$i" master br0 up
  mkdir -p "/etc/netns/$n"
  {
    echo "127.0.0.1 localhost"
    for j in "${!names[@]}"; do echo "10.77.0.$((j + 1)) ${names[$j]}"; done
  } >"/etc/netns/$n/hosts"
done

# The launch agent: `agent HOST COMMAND...` runs COMMAND as ssh would (one
# shell string) inside HOST's network namespace, under HOST's host name.
cat >"$work/agent" <<EOF
#!/bin/sh
host=\$1
shift
exec ip netns exec "$prefix-\$host" unshare --uts sh -c 'hostname "\$0" && exec sh -c "\$1"' "\$host" "\$*"
EOF
chmod +x "$work/agent"
{ for h in "${names[@]}"; do echo "$h slots=1"; done; } >"$work/hostfile"
on() { # on HOST COMMAND...: run COMMAND on HOST (its namespaces)
  local h=$1
  shift
  ip netns exec "$(ns "$h")" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$h" "$@"
}

echo "==> building coca (-tags mpi) and the comparison"
bgwait go build -tags mpi -o "$work/coca" ./cmd/coca
bgwait go build -o "$work/dist-compare" ./scripts/dist-compare

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# OpenMPI over TCP on the hosts' network only, launched through the agent
# (no tree spawn: mpirun starts every host's daemon itself).
# --bind-to none: each host looks like the whole machine to mpirun, which
# would bind every host's rank to core 0.
mpiflags=(--hostfile "$work/hostfile" -np "$hosts" --map-by node --bind-to none
  --mca plm_rsh_agent "$work/agent" --mca plm_rsh_no_tree_spawn 1
  --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24
  -x GOMAXPROCS=1)
common=(train --steps "$steps" --eval-every -1 --log-every 1 --seed 7 --precision f32)

# mpirun_on_h0 LOG ARGS...: start coca on every host (in the background);
# sets mpipid. mpiextra: more mpirun flags.
mpiextra=()
mpirun_on_h0() {
  local log=$1
  shift
  on h0 mpirun "${mpiflags[@]}" ${mpiextra[@]+"${mpiextra[@]}"} "$work/coca" "$@" >"$log" 2>&1 &
  mpipid=$!
}

# rank_pid HOST: the pid of the coca rank running on HOST (empty if none).
rank_pid() {
  local p
  for p in $(ip netns pids "$(ns "$1")" 2>/dev/null); do
    [ "$(cat /proc/"$p"/comm 2>/dev/null)" = coca ] && echo "$p" && return
  done
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
older() { awk -v a="$1" -v l="$2" -v b="$(now)" 'BEGIN { exit !(b - a > l) }'; } # older T0 SECONDS

# kill_hosts: kill whatever runs in the hosts' namespaces.
kill_hosts() {
  local h p
  for h in "${names[@]}"; do
    p=$(ip netns pids "$(ns "$h")" 2>/dev/null || true)
    [ -z "$p" ] || kill -KILL $p 2>/dev/null || true
  done
}

# wait_mpirun LOG [SECONDS]: wait for the mpirun started by mpirun_on_h0, at
# most SECONDS (default MPI_LIMIT or 300): a launch that never completes (an
# OpenMPI daemon that never calls back) fails with its output instead of
# stalling the script.
wait_mpirun() {
  local log=$1 limit=${2:-${MPI_LIMIT:-300}} t0
  t0=$(now)
  while kill -0 "$mpipid" 2>/dev/null; do
    if older "$t0" "$limit"; then
      disown "$mpipid" 2>/dev/null || true
      kill -KILL "$mpipid" 2>/dev/null || true
      kill_hosts
      echo "dist-hosts.sh: mpirun did not end within $limit s (killed); its output:"
      cat "$log"
      return 1
    fi
    sleep 0.1
  done
  wait "$mpipid" || {
    cat "$log"
    return 1
  }
}

# --- check: HOSTS hosts = one process ------------------------------------------
mode_check() {
  echo "==> check: $hosts hosts × batch $batch over TCP against 1 process × batch $global, $steps steps"
  GOMAXPROCS=1 bgwait "$work/coca" "${common[@]}" --batch "$global" --out "$work/one" >"$work/one.log" 2>&1 ||
    { cat "$work/one.log"; return 1; }
  mpirun_on_h0 "$work/hosts.log" "${common[@]}" --batch "$batch" --out "$work/hosts" --dist mpi
  wait_mpirun "$work/hosts.log" || return 1
  # every rank ran on a host of its own: rank 0 lists the ranks' host names
  local list
  list=$(printf ', %s' "${names[@]}")
  grep -F "data-parallel over $hosts ranks on $hosts hosts (${list:2}): global batch $hosts×$batch = $global" "$work/hosts.log" ||
    { cat "$work/hosts.log"; return 1; }
  "$work/dist-compare" -loss 1e-6 -params 1e-6 "$work/one" "$work/hosts"
}

# --- faults ---------------------------------------------------------------------
# fault KIND: train on every host, checkpointing every step, until the
# checkpoint passes step 5; then break host h1 (KIND link: its switch port
# goes down; stop: its rank gets SIGSTOP) and time how long the survivors
# take to end; then resume on all the hosts and compare with the run that was
# never interrupted.
fault_steps=60
fault() {
  local kind=$1
  fault_n=$((${fault_n:-0} + 1)) # a kind may repeat in FAULTS
  local out=$work/fault-$fault_n-$kind log=$work/fault-$fault_n-$kind.log
  local extra=()
  # link-keepalive: OpenMPI's daemons probe their connections every second
  # (defaults: after 300 s idle, every 20 s, 9 probes), so that mpirun
  # notices the lost host itself and ends the job.
  [ "$kind" = link-keepalive ] && extra=(--mca oob_tcp_keepalive_time 1 --mca oob_tcp_keepalive_intvl 1 --mca oob_tcp_keepalive_probes 3)
  local fargs=(train --steps "$fault_steps" --eval-every -1 --log-every 1 --seed 7 --precision f32 --batch "$batch" --save-every 1 --dist mpi --dist-timeout "$timeout")
  mpiextra=("${extra[@]}")
  mpirun_on_h0 "$log" "${fargs[@]}" --out "$out"
  mpiextra=()
  local step=0 t0
  t0=$(now)
  while [ "$step" -lt 5 ]; do
    step=$(sed -n 's/.*"step": *\([0-9]*\).*/\1/p' "$out/checkpoint.json" 2>/dev/null || echo 0)
    step=${step:-0}
    if ! kill -0 "$mpipid" 2>/dev/null || older "$t0" 120; then
      echo "the run did not reach step 5:"
      cat "$log"
      return 1
    fi
    sleep 0.05
  done
  local -A pid
  for h in "${names[@]}"; do pid[$h]=$(rank_pid "$h"); done
  local victim=h1 tf
  tf=$(now)
  case $kind in
  link*) ip -n "$sw" link set p1 down ;;
  stop) kill -STOP "${pid[$victim]}" ;;
  esac
  step=$(sed -n 's/.*"step": *\([0-9]*\).*/\1/p' "$out/checkpoint.json" 2>/dev/null || true)
  echo "    $kind: h1 broken after the checkpoint of step ${step:-?}"
  # survivors: every rank but h1's
  local -A ended
  local limit
  limit=$(awk -v t="${timeout%s}" 'BEGIN { print t + 30 }')
  while :; do
    local alive=0
    for h in "${names[@]}"; do
      [ "$h" = "$victim" ] && continue
      [ -n "${ended[$h]:-}" ] && continue
      if kill -0 "${pid[$h]}" 2>/dev/null && [ "$(awk '{print $3}' /proc/"${pid[$h]}"/stat 2>/dev/null)" != Z ]; then
        alive=1
      else
        ended[$h]=$(since "$tf")
      fi
    done
    [ -z "${mpiend:-}" ] && ! kill -0 "$mpipid" 2>/dev/null && mpiend=$(since "$tf")
    { [ "$alive" = 0 ] && [ -n "${mpiend:-}" ]; } && break
    older "$tf" "$limit" && break
    sleep 0.02
  done
  local worst=0
  for h in "${!ended[@]}"; do
    echo "    survivor rank on $h ended ${ended[$h]} s after the fault"
    worst=$(awk -v a="$worst" -v b="${ended[$h]}" 'BEGIN { print (b > a) ? b : a }')
  done
  if [ -n "${mpiend:-}" ]; then
    echo "    mpirun ended ${mpiend} s after the fault"
  else
    echo "    mpirun still runs $limit s after the fault (it waits for the daemon on h1); killed"
  fi
  unset mpiend
  local ok=1
  if [ "${#ended[@]}" -ne $((hosts - 1)) ]; then
    echo "    FAIL: not every survivor ended within $limit s"
    ok=0
  fi
  local bound
  bound=$(awk -v t="${timeout%s}" 'BEGIN { print t + 5 }')
  if awk -v w="$worst" -v b="$bound" 'BEGIN { exit !(w > b) }'; then
    echo "    FAIL: a survivor took $worst s > --dist-timeout + 5 s = $bound s"
    ok=0
  fi
  if ! grep -qE "rank 1 \(pid [0-9]+ on h1\)" "$log"; then
    echo "    FAIL: no survivor names rank 1 on h1:"
    ok=0
  fi
  grep -E "^coca train: " "$log" | sed 's/^/    | /' | cut -c1-400
  # Clean up the broken host: kill what is left in its namespace, restore
  # the link.
  disown "$mpipid" 2>/dev/null || true # (no "Killed" notice)
  kill -KILL "$mpipid" 2>/dev/null || true
  kill_hosts
  ip -n "$sw" link set p1 up
  # Resume on every host from the last checkpoint.
  local ck
  ck=$(sed -n 's/.*"step": *\([0-9]*\).*/\1/p' "$out/checkpoint.json")
  mpirun_on_h0 "$log.resume" "${fargs[@]}" --out "$out" --resume
  wait_mpirun "$log.resume" || {
    echo "    FAIL: the resumed run failed"
    return 1
  }
  grep -q "resuming $out at step $ck" "$log.resume" || {
    echo "    FAIL: the resumed run did not start at the checkpoint's step $ck"
    cat "$log.resume"
    return 1
  }
  echo "    resumed on $hosts hosts from the checkpoint at step $ck to step $fault_steps:"
  "$work/dist-compare" -exact "$work/fault-ref" "$out" | sed 's/^/    /' || ok=0
  [ "$ok" = 1 ]
}

mode_faults() {
  echo "==> faults: $hosts hosts, --dist-timeout $timeout; the reference runs $fault_steps steps undisturbed"
  mpirun_on_h0 "$work/fault-ref.log" train --steps "$fault_steps" --eval-every -1 --log-every 1 --seed 7 --precision f32 --batch "$batch" \
    --save-every 1 --dist mpi --dist-timeout "$timeout" --out "$work/fault-ref"
  wait_mpirun "$work/fault-ref.log" || return 1
  local rc=0 kind
  for kind in ${FAULTS:-link link-keepalive stop}; do
    fault "$kind" || rc=1
  done
  return $rc
}

# --- slow links -------------------------------------------------------------------
# limit RATE: every host's link limited to RATE each way (tbf on the host's
# egress and on its switch port's egress); "none" removes the limits.
limit() {
  local rate=$1 i
  for i in "${!names[@]}"; do
    local n
    n=$(ns "${names[$i]}")
    ip netns exec "$n" tc qdisc del dev eth0 root 2>/dev/null || true
    ip netns exec "$sw" tc qdisc del dev "p$i" root 2>/dev/null || true
    [ "$rate" = none ] && continue
    # burst: 2 ms at the rate (at least 64 KiB); packets wait at most 50 ms
    local burst
    burst=$(awk -v r="${rate%gbit}" 'BEGIN { b = r * 1e9 / 8 * 0.002; if (b < 65536) b = 65536; printf "%d", b }')
    ip netns exec "$n" tc qdisc add dev eth0 root tbf rate "$rate" burst "$burst" latency 50ms
    ip netns exec "$sw" tc qdisc add dev "p$i" root tbf rate "$rate" burst "$burst" latency 50ms
  done
}

median_step() { # RUN_DIR: median ms per step in metrics.jsonl after the first fifth
  awk -v skip="$(((${SLOW_STEPS:-40}) / 5))" '
    /"loss"/ { match($0, /"elapsed_s":[0-9.e+-]+/); t[n++] = substr($0, RSTART + 12, RLENGTH - 12) }
    END { for (i = 1 + skip; i < n; i++) printf "%.3f\n", (t[i] - t[i-1]) * 1000 }' "$1/metrics.jsonl" |
    sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

mode_slow() {
  command -v tc >/dev/null || {
    echo "tc not found (apt-get install iproute2)"
    return 1
  }
  if ! ip netns exec "$(ns h0)" tc qdisc add dev eth0 root tbf rate 1gbit burst 256k latency 50ms 2>"$work/tc.err"; then
    echo "==> slow: this kernel offers no tbf qdisc ($(cat "$work/tc.err")): not measured"
    return 0
  fi
  ip netns exec "$(ns h0)" tc qdisc del dev eth0 root
  local reps=${REPS:-3} ss=${SLOW_STEPS:-40} tsv=$work/slow.tsv
  echo "==> slow: $hosts hosts × batch $batch, $ss steps, $reps rounds; median ms per step (the first fifth dropped); mean ms per step inside collectives"
  bgwait go build -tags mpi -o "$work/dist-model" ./scripts/dist-model
  # what one rank computes, and when the backward pass completes each
  # gradient (for the model's overlap)
  GOMAXPROCS=1 bgwait "$work/dist-model" measure -config coca_shapes -batch "$batch" -threads 1 -ranks "1,$hosts" >"$work/measured.jsonl"
  printf '    %-5s %-7s %-10s %8s %10s %8s\n' round link buckets ms/step "grad wait" "rest"
  : >"$tsv"
  local rep i rate bucket
  for rep in $(seq "$reps"); do
    # one rank's step without communication, as the ranks run (one core
    # each, every core busy): HOSTS independent processes at once
    for i in "${!names[@]}"; do
      GOMAXPROCS=1 "$work/coca" train --steps "$ss" --eval-every -1 --save-every 1000000 --log-every 1 --seed 7 --precision f32 \
        --batch "$batch" --out "$work/alone-$rep-$i" >/dev/null 2>&1 &
    done
    wait
    local alone
    alone=$(median_step "$work/alone-$rep-0")
    printf '    %-5s %-7s %-10s %8s   (%s independent processes, no communication)\n' "$rep" - - "$alone" "$hosts"
    printf '%s\talone\t-\t%s\t0\t0\n' "$rep" "$alone" >>"$tsv"
    for rate in none 10gbit 1gbit; do
      limit "$rate"
      if [ "$rep" = 1 ]; then # the link's latency and bandwidth as MPI sees them
        on h0 mpirun "${mpiflags[@]}" "$work/dist-model" allreduce -sizes 1,65536,632449 -reps 20 2>&1 | sed "s/^/    $rate: /"
      fi
      # the link and the overlap alone: the backward pass replayed as sleep
      for bucket in 2 0.25 -1; do
        local ol
        ol=$(on h0 mpirun "${mpiflags[@]}" "$work/dist-model" overlap -in "$work/measured.jsonl" -bucket-mb "$bucket" \
          -steps 30 $([ "$rate" = none ] || echo -gbit "${rate%gbit}") 2>&1) || {
          echo "$ol"
          limit none
          return 1
        }
        local e a me
        e=$(sed -n 's/.*: exposed \([0-9.]*\) ms per step.*/\1/p' <<<"$ol")
        a=$(sed -n 's/.*gradient alone \([0-9.]*\) ms.*/\1/p' <<<"$ol")
        me=$(sed -n 's/.*model at .*: exposed \([0-9.]*\) ms.*/\1/p' <<<"$ol")
        printf '    %-5s %-7s %-10s %8s %10s %8s   (replayed backward pass: exposed all-reduce, whole all-reduce alone, model)\n' \
          "$rep" "$rate" "$bucket" - "$e" "$a${me:+ / $me}"
        printf '%s\tovl-%s\t%s\t%s\t%s\t%s\n' "$rep" "$rate" "$bucket" "$e" "$a" "${me:--}" >>"$tsv"
      done
      for bucket in 2 0.25 -1; do
        local out=$work/slow-$rep-$rate-$bucket
        mpirun_on_h0 "$out.log" train --steps "$ss" --eval-every -1 --save-every 1000000 --log-every 1 --seed 7 --precision f32 \
          --batch "$batch" --dist mpi --dist-bucket-mb "$bucket" --out "$out"
        wait_mpirun "$out.log" || {
          limit none
          return 1
        }
        local line step grad rest
        line=$(grep 'inside collectives' "$out.log")
        step=$(median_step "$out")
        grad=$(sed -n 's/.*: \([0-9.]*\) ms waiting for the gradient all-reduce.*/\1/p' <<<"$line")
        rest=$(sed -n 's/.*, \([0-9.]*\) ms the rest.*/\1/p' <<<"$line")
        printf '    %-5s %-7s %-10s %8s %10s %8s\n' "$rep" "$rate" "$bucket" "$step" "$grad" "$rest"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$rate" "$bucket" "$step" "$grad" "$rest" >>"$tsv"
      done
    done
    limit none
  done
  summary_slow "$tsv"
}

# summary_slow TSV: medians over the rounds (and their range), the share of
# the gradient all-reduce the buckets hide, and the model's prediction.
summary_slow() {
  local tsv=$1
  med() { sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
  rng() { sort -n | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%s–%s", a, b }'; }
  col() { awk -F'\t' -v r="$1" -v b="$2" -v c="$3" '$2 == r && $3 == b { print $c }' "$tsv"; }
  local alone
  alone=$(col alone - 4 | med)
  echo "    summary over the rounds: median (range) ms per step; gradient all-reduce wait per step"
  echo "    one rank alone (no communication): $alone ($(col alone - 4 | rng)) ms"
  local rate bucket
  for rate in none 10gbit 1gbit; do
    for bucket in 2 0.25 -1; do
      printf '    %-7s buckets %-5s %7s ms (%s)   gradient wait %6s ms (%s)\n' "$rate" "$bucket" \
        "$(col "$rate" "$bucket" 4 | med)" "$(col "$rate" "$bucket" 4 | rng)" "$(col "$rate" "$bucket" 5 | med)" "$(col "$rate" "$bucket" 5 | rng)"
    done
  done
  echo "    the backward pass replayed as sleep (median over the rounds, ms per step):"
  for rate in none 10gbit 1gbit; do
    for bucket in 2 0.25 -1; do
      awk -v e="$(col "ovl-$rate" "$bucket" 4 | med)" -v er="$(col "ovl-$rate" "$bucket" 4 | rng)" -v a="$(col "ovl-$rate" "$bucket" 5 | med)" \
        -v one="$(col "ovl-$rate" -1 4 | med)" -v me="$(col "ovl-$rate" "$bucket" 6 | med)" -v r="$rate" -v b="$bucket" 'BEGIN {
        printf "    %-7s buckets %-5s exposed %6.2f (%s); whole all-reduce alone %6.2f", r, b, e, er, a
        if (b != -1 && one > 0) printf "; hidden %3.0f%% of the exposed all-reduce of one after the backward pass", 100 * (1 - e / one)
        if (r != "none" && me != "") printf "; model: exposed %.2f", me
        printf "\n" }'
    done
  done
  echo "    the scaling model (scripts/dist-model) for 2 ranks, one rank alone as compute:"
  for rate in 10gbit 1gbit; do
    for bucket in 2 -1; do
      printf '    %-7s buckets %-3s ' "$rate" "$bucket"
      "$work/dist-model" check -in "$work/measured.jsonl" -compute "$alone" -measured "$(col "$rate" "$bucket" 4 | med)" \
        -gbit "${rate%gbit}" -bucket-mb "$bucket" || true
    done
  done
}

for m in "${modes[@]}"; do
  mode=$m
  "mode_$m"
done
echo "==> dist-hosts.sh: ${modes[*]} passed; removing the namespaces"
