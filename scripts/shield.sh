#!/bin/sh
# shield.sh runs a command as if the machine were otherwise idle: in a CPU
# control group whose weight is ~256× the default, so that other work on a
# shared machine (builds, tests) gets the CPUs only when the command leaves
# them idle. Inside the group the scheduler treats the command's processes
# as usual, so the "busy" modes of the benchmark scripts, whose competing
# `while :; do :; done` loop starts inside the command, still compete with
# the benchmark for a core exactly as on a machine with one busy process.
# What the group does not remove: the caches and memory bandwidth that the
# other work uses in the time slices it gets, and the delay of a wake-up
# while such a slice runs (about a percent here, at a load average of 15).
#
# Usage: scripts/shield.sh CMD [ARG...]
# Needs root and the cpu controller (cgroup v2 with cpu in
# cgroup.subtree_control, or cgroup v1's cpu hierarchy); otherwise it says
# so on stderr and runs CMD unshielded.
set -eu
[ $# -gt 0 ] || { echo "usage: scripts/shield.sh CMD [ARG...]" >&2; exit 2; }
name=gococa-shield
group=
if [ -w /sys/fs/cgroup/cgroup.subtree_control ] && grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
	group=/sys/fs/cgroup/$name
	mkdir -p "$group" 2>/dev/null && echo 10000 >"$group/cpu.weight" 2>/dev/null || group=
elif [ -d /sys/fs/cgroup/cpu ] && [ -w /sys/fs/cgroup/cpu ]; then
	group=/sys/fs/cgroup/cpu/$name
	mkdir -p "$group" 2>/dev/null && echo 262144 >"$group/cpu.shares" 2>/dev/null || group=
fi
if [ -n "$group" ] && echo $$ >"$group/cgroup.procs" 2>/dev/null; then
	echo "shield.sh: running in $group" >&2
else
	echo "shield.sh: no writable cpu control group (needs root and the cpu controller); running unshielded" >&2
fi
exec "$@"
