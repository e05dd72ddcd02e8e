#!/usr/bin/env bash
# The benchmark harness in one command (docs/benchmarks.md): builds the Release binaries it needs if they are
# missing or stale, raises the descriptor limit, and runs bench/run.py with any arguments given (e.g. --smoke).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v gnuplot >/dev/null 2>&1 || echo "bench: no gnuplot, so no plot (scripts/setup.sh installs gnuplot-nox)" >&2
[ -d "$root/tests/interop/node_modules/hyco-ws" ] || { echo "bench: hyco-ws missing: run scripts/setup.sh" >&2; exit 1; }
# Two jobs at most (scripts/build.sh); make only rebuilds what changed.
bash "$root/scripts/build.sh" release hcbridge hcrelay hcbench >/dev/null
# 10,000 idle tunnels need ~20,000 descriptors per daemon. Ask for 65536; the hard limit may be lower (run.py then
# takes all of it and the memory table shows how many tunnels opened).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec python3 "$root/bench/run.py" "$@"
