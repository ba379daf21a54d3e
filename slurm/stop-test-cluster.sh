#!/usr/bin/env bash
# Stops exactly the daemons slurm/start-test-cluster.sh started, by the PIDs it recorded in
# $STATE/started, newest first; anything else (a daemon that was already running when the
# cluster was started, any other process) is left alone. A PID that no longer belongs to the
# recorded daemon is skipped. Prints the seconds it took.
set -euo pipefail

STATE=${BENCH_SLURM_STATE:-/run/bench-test-cluster}
started_at=$SECONDS

if [ ! -s "$STATE/started" ]; then
  echo "stop-test-cluster: nothing recorded in $STATE/started: nothing to stop"
  exit 0
fi

alive() { [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]; }

tac "$STATE/started" | while read -r name pid pidfile; do
  if ! alive "$pid" "$name"; then
    echo "stop-test-cluster: $name (pid $pid) is already gone"
    continue
  fi
  kill "$pid"
  for _ in $(seq 40); do alive "$pid" "$name" || break; sleep 0.25; done
  if alive "$pid" "$name"; then
    echo "stop-test-cluster: $name (pid $pid) ignored SIGTERM for 10 s: killing it" >&2
    kill -9 "$pid"
  fi
  if [ -s "$pidfile" ] && [ "$(cat "$pidfile")" = "$pid" ]; then rm -f "$pidfile"; fi
  echo "stop-test-cluster: stopped $name (pid $pid)"
done
rm -f "$STATE/started"
echo "stop-test-cluster: done in $((SECONDS - started_at)) s"
