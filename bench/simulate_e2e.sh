#!/bin/sh
# bench/simulate_e2e.sh [BUILDDIR]: `karpenter simulate -f` end to end on
# Karpenter's scheduling benchmark mix as YAML (issue 12, item 4). Prints
# figures; never passes or fails on them.
#
# bench/cost/make-mix writes the mix (the shapes of bench/sched_bench.c: 400
# fake-it-i types as a catalog file, one NodePool, SIM_E2E_PODS pods,
# default 20,000) into a temporary directory. Then, for each case, RUNS
# (SIM_E2E_RUNS, default 3) runs under /usr/bin/time -v and the median of
# each figure: wall time, CPU time (user + system), peak RSS; and the phases
# `simulate --timings` reports for the median run (catalog, load = read +
# parse + decode the YAML, solve = the engine, output = streaming the JSON).
# Cases: Karpenter packing -o json, cost packing -o json, and Karpenter
# packing -o table (no JSON at all: the output's own share). The machine's
# load average is printed before and after: on a shared machine quote CPU
# time, and wall time only with the load next to it. SIM_E2E_BIN runs
# another binary (one without --timings prints no phases).
set -u
O=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/$O/karpenter
[ -x "$BIN" ] || BIN=$O/karpenter
BIN=${SIM_E2E_BIN:-$BIN}
PODS=${SIM_E2E_PODS:-20000}
RUNS=${SIM_E2E_RUNS:-3}
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/kp-sim-e2e.XXXXXX)
trap 'rm -rf "$TMP"' EXIT INT TERM

if [ ! -x /usr/bin/time ]; then
	echo "simulate_e2e: /usr/bin/time is not installed (Debian package time); skipped"
	exit 0
fi
"$PY" "$ROOT/bench/cost/make-mix" "$TMP" "$PODS" || exit 1
MIX=$TMP/mix-$PODS.yaml
TIMINGS=--timings
"$BIN" simulate --help 2>/dev/null | grep -q -- --timings || TIMINGS=
echo "simulate -f mix-$PODS.yaml ($(wc -c < "$MIX") bytes) --catalog mix-catalog.json; median of $RUNS runs"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %9s %9s %9s  %s\n' "case" "wall s" "cpu s" "peak MB" "phases (median run, --timings)"

# one CASE-NAME ARGS...: RUNS runs, then one line of medians
one() {
	name=$1; shift
	: > "$TMP/runs"
	i=0
	while [ $i -lt "$RUNS" ]; do
		/usr/bin/time -v "$BIN" simulate -f "$MIX" --catalog "$TMP/mix-catalog.json" $TIMINGS "$@" \
			> "$TMP/out" 2> "$TMP/err"
		rc=$?
		if [ $rc -ne 0 ]; then
			echo "simulate_e2e: $name: exit $rc: $(tail -n 3 "$TMP/err")"
			return
		fi
		wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$TMP/err" |
			awk -F: '{ s = 0; for (k = 1; k <= NF; k++) s = s * 60 + $k; printf "%.2f\n", s }')
		user=$(sed -n 's/.*User time (seconds): //p' "$TMP/err")
		sys=$(sed -n 's/.*System time (seconds): //p' "$TMP/err")
		rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$TMP/err")
		phases=$(sed -n 's/^karpenter simulate: timings: //p' "$TMP/err")
		echo "$wall $user $sys $rss|$phases" >> "$TMP/runs"
		i=$((i + 1))
	done
	# median by wall time; CPU and RSS medians of their own
	mid=$(( (RUNS + 1) / 2 ))
	w=$(cut -d'|' -f1 "$TMP/runs" | awk '{ print $1 }' | sort -n | sed -n "${mid}p")
	c=$(cut -d'|' -f1 "$TMP/runs" | awk '{ printf "%.2f\n", $2 + $3 }' | sort -n | sed -n "${mid}p")
	m=$(cut -d'|' -f1 "$TMP/runs" | awk '{ printf "%.1f\n", $4 / 1024 }' | sort -n | sed -n "${mid}p")
	p=$(sort -n "$TMP/runs" | sed -n "${mid}p" | cut -d'|' -f2)
	printf '%-28s %9s %9s %9s  %s\n' "$name" "$w" "$c" "$m" "$p"
}

one "karpenter packing, -o json" -o json
one "cost packing, -o json" -o json --packing cost
one "karpenter packing, -o table" -o table
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
