#!/usr/bin/env bash
# The long versions of the fault-injection suite (tests/faults, docs/testing.md), on demand; not part of test.sh.
#   scripts/soak.sh [BUILD_DIR] [TEST_NAME...]      (default: build/, every tests/faults/*.test.js)
# Runs each test with HCB_SOAK=1: 200 relay restarts, 5 minutes of 50 tunnels/s with 15 s tokens, 2 GiB each way into
# slow consumers, 20,000 abrupt tunnel kills, 200 clients per misbehaving target. Takes well over half an hour.
# Exits non-zero if any test fails (a skipped test, exit 77, is reported and does not fail the run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
shift || true
[ -x "$build/src/hcbridge" ] && [ -x "$build/src/hcrelay" ] || { echo "soak: build hcbridge and hcrelay in $build first (scripts/build.sh release)" >&2; exit 2; }
certs="$build/test-certs"
bash "$root/tests/support/make-test-cert.sh" "$certs" >/dev/null
export HCB_SOAK=1 HCB_TEST_CERT_DIR="$certs" NODE_EXTRA_CA_CERTS="$certs/cert.pem" \
       HCRELAY_BIN="$build/src/hcrelay" HCBRIDGE_BIN="$build/src/hcbridge"
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  for f in "$root"/tests/faults/*.test.js; do tests+=("$(basename "$f" .test.js)"); done
fi
failed=()
for name in "${tests[@]}"; do
  echo "== soak: $name"
  start=$(date +%s)
  rc=0
  node "$root/tests/faults/$name.test.js" || rc=$?
  echo "== soak: $name: exit $rc after $(( $(date +%s) - start )) s"
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then failed+=("$name"); fi
done
if [ ${#failed[@]} -gt 0 ]; then echo "soak: FAILED: ${failed[*]}" >&2; exit 1; fi
echo "soak: all passed"
