#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine (run as root): installs what it needs, builds, and runs
#  1. every test (unit, integration, interop with the official Node SDK, ops, docker, fuzz) on the Release build,
#     the last one being secrets.scan (no key, token or signature in any test's output), then
#  2. the unit and integration tests again under AddressSanitizer + UndefinedBehaviorSanitizer, then
#  3. the integration tests under ThreadSanitizer (among them integration.threads:*, where relay, daemon and targets
#     run on threads of their own), after checking that a deliberate race is caught;
#  4. with HCB_DOCKER_TESTS=1 only: docker.engine, the image built and run by a real Docker engine (docs/docker.md).
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

echo "== ThreadSanitizer build: integration tests"
# The daemon and hcrelay are single-threaded by design (one io_context each); what can meet on several threads is
# shared state (logging, OpenSSL, the CSPRNG, Asio's resolver thread), which the [threads] test drives from five.
# The unit tests have no threads at all and are not rebuilt here.
bash "$root/scripts/build.sh" tsan integration_tests
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
if selftest=$("$root/build-tsan/tests/integration/integration_tests" '[.tsan_selftest]' 2>&1) ||
   ! grep -q 'ThreadSanitizer: data race' <<<"$selftest"; then
  echo "the TSan build did not report the deliberate race of [.tsan_selftest]: is it really built with TSan?" >&2
  exit 1
fi
(cd "$root/build-tsan" && ctest --output-on-failure -j2 --timeout 300 -L integration)

# Several minutes (debootstrap, docker build with the unit tests inside, containers, compose), so only on request.
if [ "${HCB_DOCKER_TESTS:-0}" = 1 ]; then
  echo "== Docker engine: the image built and run by a real dockerd (docker.engine)"
  (cd "$root/build" && HCB_DOCKER_TESTS=1 ctest --output-on-failure --timeout 3600 -R '^docker\.engine$')
fi
