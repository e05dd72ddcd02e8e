#!/usr/bin/env bash
# The open-file limit (src/ops/fd_limit.hpp): hcbridge and hcrelay raise their soft RLIMIT_NOFILE to the hard limit at
# start, and warn (naming LimitNOFILE) when even the hard limit is below what their configuration allows.
#
#   fd_limit.sh HCBRIDGE_BIN HCRELAY_BIN
#
# Limits are set with prlimit(1) (util-linux) on each program; nothing else on the machine changes.
set -euo pipefail

hcbridge=${1:?usage: fd_limit.sh HCBRIDGE_BIN HCRELAY_BIN}
hcrelay=${2:?}
command -v prlimit >/dev/null || { echo "not ok - prlimit not found (util-linux)"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/hcb-fdlimit.XXXXXX")
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
fail() { echo "not ok - $*"; failures=$((failures + 1)); }
pass() { echo "ok - $*"; }

# start NAME SOFT:HARD READY_PATTERN PROGRAM ARGS...: runs it in the background under that limit until READY_PATTERN
# is in its log (at most 10 s).
start() {
  local name=$1 limits=$2 ready=$3; shift 3
  prlimit --nofile="$limits" "$@" >"$work/$name.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    grep -q -- "$ready" "$work/$name.log" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  fail "$name did not log '$ready': $(cat "$work/$name.log")"
  return 1
}
soft_limit() { awk '/^Max open files/ { print $4 }' "/proc/$pid/limits"; }
# stop NAME: SIGTERM, and the exit code must be 0.
stop() {
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  pid=
  [ "$rc" -eq 0 ] || fail "$1 exited with $rc after SIGTERM"
}

port=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")

# 1. hcbridge raises 256 to its hard limit 4096 and, with 2,083 descriptors allowed, does not warn.
if start bridge-raise 256:4096 "running:" "$hcbridge" -L "127.0.0.1:$port:fdlimit"; then
  [ "$(soft_limit)" = 4096 ] && pass "hcbridge raised its soft limit 256 to the hard 4096" ||
    fail "hcbridge's soft limit is $(soft_limit), not 4096"
  stop bridge-raise
  grep -q "open-file limit" "$work/bridge-raise.log" && fail "hcbridge warned under 4096: $(cat "$work/bridge-raise.log")" ||
    pass "no warning when the limit holds max_connections"
fi

# 2. A hard limit of 256 cannot hold one forward's 1024 tunnels: a warning that says what to do, and it still runs.
if start bridge-low 256:256 "running:" "$hcbridge" -L "127.0.0.1:$port:fdlimit"; then
  stop bridge-low
  line=$(grep "open-file limit" "$work/bridge-low.log" || true)
  case "$line" in
    *warning*"the open-file limit is 256 descriptors, below the 2083"*LimitNOFILE*max_connections*) pass "hcbridge warns: ${line#* warning }" ;;
    *) fail "hcbridge under 256:256 did not warn as expected: $(cat "$work/bridge-low.log")" ;;
  esac
fi

# 2b. A reload to a configuration that allows more than the limit warns too (4096 holds 2,083, not 10,035).
conf="$work/fdlimit.json"
echo "{ \"local_forward\": [ { \"hc\": \"fdlimit\", \"bind\": \"127.0.0.1:$port\" } ] }" >"$conf"
if start bridge-reload 256:4096 "running:" "$hcbridge" -c "$conf"; then
  echo "{ \"max_connections\": 5000, \"local_forward\": [ { \"hc\": \"fdlimit\", \"bind\": \"127.0.0.1:$port\" } ] }" >"$conf"
  kill -HUP "$pid"
  for _ in $(seq 100); do
    grep -q "reload" "$work/bridge-reload.log" && break
    sleep 0.1
  done
  stop bridge-reload
  grep -q "warning the open-file limit is 4096 descriptors, below the 10035" "$work/bridge-reload.log" &&
    pass "a reload to max_connections 5000 under 4096 warns" ||
    fail "no warning after the reload: $(cat "$work/bridge-reload.log")"
fi

# 3. hcrelay: the same for --max-connections (one descriptor per connection).
if start relay-low 256:512 "hcrelay listening" "$hcrelay" --bind 127.0.0.1:0 --no-auth; then
  [ "$(soft_limit)" = 512 ] && pass "hcrelay raised its soft limit 256 to the hard 512" ||
    fail "hcrelay's soft limit is $(soft_limit), not 512"
  stop relay-low
  grep -q "warning hcrelay: the open-file limit is 512 descriptors, below the 10032 that --max-connections 10000" \
    "$work/relay-low.log" && pass "hcrelay warns for --max-connections 10000 under 512" ||
    fail "hcrelay did not warn: $(cat "$work/relay-low.log")"
fi
if start relay-fits 256:512 "hcrelay listening" "$hcrelay" --bind 127.0.0.1:0 --no-auth --max-connections 400; then
  stop relay-fits
  grep -q "open-file limit" "$work/relay-fits.log" && fail "hcrelay warned with --max-connections 400 under 512" ||
    pass "hcrelay: no warning when --max-connections fits"
fi

[ "$failures" -eq 0 ] || exit 1
