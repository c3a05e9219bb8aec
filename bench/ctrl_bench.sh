#!/bin/sh
# bench/ctrl_bench.sh [BUILDDIR]: the controller figure of issue 5 — RSS and
# CPU of the Karpenter controller watching 10,000 pods on 1,000 nodes in
# `karpenter up`. Prints figures; never passes or fails on them.
#
# Two runs, each on a fresh `up` with a temporary data directory:
#   inproc  `karpenter up` with its in-process controller: API server,
#           built-in controllers (deployments, scheduler, kubelet stand-in)
#           and the Karpenter controller share one process;
#   split   `up` with KARPENTER_UP_CONTROLLER=off plus `karpenter controller`
#           as its own process against it: the controller's own share.
# Load, through the API (bench/ctrl_load.py): 1,000 Ready Node objects
# labelled as Karpenter nodes (no NodePool exists, so nothing is launched),
# then one Deployment of 10,000 small pods that up's scheduler binds and
# its kubelet stand-in runs. Figures per process: peak RSS (VmHWM), CPU
# seconds (utime+stime from /proc/PID/stat) while loading and over 20 s of
# steady state, time until all pods are Running, and a /metrics scrape.
# Sizes: CTRL_BENCH_PODS, CTRL_BENCH_NODES; CTRL_BENCH_MODES (default
# "inproc split") picks the runs, CTRL_BENCH_STEADY the steady-state
# seconds (default 20). Every server is stopped on exit.
set -u
O=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/$O/karpenter
[ -x "$BIN" ] || BIN=$O/karpenter
PODS=${CTRL_BENCH_PODS:-10000}
NODES=${CTRL_BENCH_NODES:-1000}
MODES=${CTRL_BENCH_MODES:-inproc split}
STEADY=${CTRL_BENCH_STEADY:-20}
PY=/usr/bin/python3
export KARPENTER_DATA_DIR=$ROOT/data
TMP=$(mktemp -d /tmp/kp-ctrl-bench.XXXXXX)
PIDS=""

cleanup() {
	for p in $PIDS; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$p" 2>/dev/null
	done
	PIDS=""
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL SECONDS [-k]: until URL answers 2xx
wait_http() {
	i=0
	while [ $i -lt $(($2 * 10)) ]; do
		curl -sf ${3:-} -o /dev/null -m 2 "$1" && return 0
		sleep 0.1; i=$((i + 1))
	done
	return 1
}

stop_all() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	PIDS=""
}

if [ ! -x "$BIN" ]; then
	echo "ctrl_bench: $BIN not built"
	exit 0
fi
if [ ! -x "$PY" ]; then
	echo "ctrl_bench: $PY is required"
	exit 0
fi

echo "controller with $PODS pods on $NODES nodes in karpenter up (figures only; target < 100 MB RSS)"
for mode in $MODES; do
	port=$(free_port); mp=$(free_port); hp=$(free_port)
	d=$TMP/$mode
	mkdir -p "$d"
	if [ $mode = inproc ]; then
		KARPENTER_UP_LOG_LEVEL=warn "$BIN" up --listen "127.0.0.1:$port" --data-dir "$d/up" \
			--metrics-listen "127.0.0.1:$mp" >"$d/up.log" 2>&1 &
		UP=$!
		PIDS="$UP"
	else
		KARPENTER_UP_CONTROLLER=off "$BIN" up --listen "127.0.0.1:$port" --data-dir "$d/up" >"$d/up.log" 2>&1 &
		UP=$!
		PIDS="$UP"
	fi
	if ! wait_http "https://127.0.0.1:$port/readyz" 20 -k || ! [ -f "$d/up/kubeconfig" ]; then
		echo "$mode: up did not start: $(tail -n 3 "$d/up.log")"
		stop_all
		continue
	fi
	procs="up=$UP"
	if [ $mode = split ]; then
		"$BIN" controller --kubeconfig "$d/up/kubeconfig" --metrics-listen "127.0.0.1:$mp" \
			--health-listen "127.0.0.1:$hp" --log-level warn >"$d/ctrl.log" 2>&1 &
		CT=$!
		PIDS="$PIDS $CT"
		procs="$procs controller=$CT"
		if ! wait_http "http://127.0.0.1:$hp/readyz" 20; then
			echo "$mode: controller did not become ready: $(tail -n 3 "$d/ctrl.log")"
			stop_all
			continue
		fi
	else
		wait_http "http://127.0.0.1:$mp/metrics" 20
	fi
	echo "== $mode ($( [ $mode = inproc ] && echo 'one process: API server + built-in controllers + Karpenter controller' || echo 'up without its controller + karpenter controller as its own process'))"
	timeout 240 $PY "$ROOT/bench/ctrl_load.py" --kubeconfig "$d/up/kubeconfig" --pods "$PODS" --nodes "$NODES" \
		--metrics "http://127.0.0.1:$mp/metrics" --steady "$STEADY" $procs
	rc=$?
	[ $rc -eq 0 ] || echo "$mode: load driver exited with $rc"
	stop_all
done
exit 0
