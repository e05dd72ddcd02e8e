#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine (run as root): installs what it needs, builds, and runs
#  1. every test (unit, integration, interop with the official Node SDK) on the Release build, then
#  2. the unit and integration tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
# Exits non-zero if anything fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"

echo "== Release build and full test suite"
bash "$root/scripts/build.sh" release
(cd "$root/build" && ctest --output-on-failure -j2 --timeout 300)

echo "== ASan+UBSan build: unit and integration tests"
# Only what this stage runs: the unit and integration test programs (the apps are covered by stage 1).
bash "$root/scripts/build.sh" asan unit_hc unit_net unit_bridge unit_ops integration_tests
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd "$root/build-asan" && ctest --output-on-failure -j2 --timeout 300 -L 'unit|integration')
