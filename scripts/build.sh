#!/usr/bin/env bash
# Configures and builds one flavour into build/ (Release), build-asan/ (Debug + ASan/UBSan) or build-tsan/ (-O1,
# with debug info, + ThreadSanitizer). Used by test.sh and demo.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-release}
shift || true   # further arguments: the targets to build (default: all)
case "$flavour" in
  release) dir="$root/build"; args=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan)    dir="$root/build-asan"; args=(-DCMAKE_BUILD_TYPE=Debug -DHCB_SANITIZE=ON) ;;
  tsan)    dir="$root/build-tsan"; args=(-DCMAKE_BUILD_TYPE=None "-DCMAKE_CXX_FLAGS=-O1 -g1" -DHCB_TSAN=ON) ;;  # -O1 -g1: TSan-friendly, cheaper to compile than -O2 -g
  *) echo "usage: build.sh [release|asan|tsan] [targets...]" >&2; exit 2 ;;
esac
# Two jobs at most: each C++ job here can take ~1 GB and CI has 2 cores.
cmake -S "$root" -B "$dir" "${args[@]}" >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$dir" -j2 "${targets[@]}"
