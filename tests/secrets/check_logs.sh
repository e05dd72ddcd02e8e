#!/usr/bin/env bash
# "Secrets never appear in logs", suite-wide: greps the output of every test process for every secret the suite
# used. Run by ctest as secrets.scan, after every other test (the FIXTURES_CLEANUP of the fixture hcb_test_logs
# that all tests require), over $HCB_TEST_LOG_DIR (what the Node harness and ops.sd_notify keep of their processes'
# stdout/stderr) and ctest's own Testing/Temporary/LastTest.log (the output of every test, in-process daemons and
# relays included).
#
#   check_logs.sh --source SRC_DIR --log-dir DIR [--secrets FILE]... [FILE...]
#   check_logs.sh --self-test          (proves the check can fail; never prints a secret)
#
# Secrets: tests/support/test_secrets.txt, string constants named k*Key / k*Sas / k*Sig / k*Secret in the C++ tests,
# DIR/*.secrets (keys and tokens made at run time), each also URL-encoded. Patterns that are secrets whatever their
# value: "SharedAccessSignature sr=", "sig=<value>", "SharedAccessKey=<value>", "sb-hc-token=<value>".
# A finding is reported as FILE:LINE and a fingerprint of the secret (the first 8 hex digits of its SHA-256), never
# the secret or the line itself. Exit 0 when clean, 1 with findings, 2 on bad usage.
set -uo pipefail

PATTERNS='SharedAccessSignature sr=|(^|[^A-Za-z0-9_])sig=[A-Za-z0-9%+/]{8,}|SharedAccessKey=[A-Za-z0-9%+/]{8,}|sb-hc-token=[A-Za-z0-9%+/]{8,}'

usage() { echo "usage: check_logs.sh --source SRC_DIR --log-dir DIR [--secrets FILE]... [FILE...] | --self-test" >&2; exit 2; }
fingerprint() { printf '%s' "$1" | sha256sum | cut -c1-8; }

scan() {
  local source="" logdir="" extra_secrets=() files=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --source) source=$2; shift 2 ;;
      --log-dir) logdir=$2; shift 2 ;;
      --secrets) extra_secrets+=("$2"); shift 2 ;;
      -*) usage ;;
      *) files+=("$1"); shift ;;
    esac
  done
  [ -n "$logdir" ] || usage
  local work
  work=$(mktemp -d) || exit 2
  trap 'rm -rf "$work"' RETURN

  # 1. The secrets, one per line, plus their URL-encoded forms.
  {
    if [ -n "$source" ]; then
      grep -v '^[[:space:]]*#' "$source/tests/support/test_secrets.txt" 2>/dev/null
      grep -rhoE --include='*.cpp' --include='*.hpp' 'k[A-Za-z0-9_]*(Key|Sas|Sig|Secret) = "[^"]+"' "$source/tests" 2>/dev/null |
        sed -E 's/^[^"]*"(.*)"$/\1/'
    fi
    for f in "${extra_secrets[@]}"; do grep -v '^[[:space:]]*#' "$f"; done
    cat "$logdir"/*.secrets 2>/dev/null
  } | awk 'length($0) >= 8' | sort -u >"$work/plain"
  {
    cat "$work/plain"
    sed -e 's/%/%25/g' -e 's/+/%2B/g' -e 's|/|%2F|g' -e 's/=/%3D/g' "$work/plain"
    sed -e 's/%/%25/g' -e 's/+/%2b/g' -e 's|/|%2f|g' -e 's/=/%3d/g' "$work/plain"
  } | sort -u >"$work/secrets"
  local count
  count=$(wc -l <"$work/plain")

  # 2. The logs.
  local logs=()
  while IFS= read -r -d '' f; do logs+=("$f"); done < <(find "$logdir" -type f ! -name '*.secrets' -print0 2>/dev/null)
  for f in "${files[@]}"; do
    [ -f "$f" ] || continue
    logs+=("$f")
    echo "secrets check: scanning $f ($(wc -l <"$f") lines)"
  done
  if [ ${#logs[@]} -eq 0 ]; then
    echo "secrets check: no logs to scan in $logdir"
    return 0
  fi

  # 3. Findings: FILE:LINE, then what was found there (fingerprints only).
  local findings=0 hit file line text what s
  while IFS= read -r hit; do
    file=${hit%%:*}
    line=${hit#*:}
    line=${line%%:*}
    text=$(sed -n "${line}p" "$file")
    what=""
    while IFS= read -r s; do
      [[ "$text" == *"$s"* ]] && what+=" test secret #$(fingerprint "$s")"
    done <"$work/secrets"
    [[ "$text" =~ $PATTERNS ]] && what+=" a SAS token, signature or connection-string key"
    echo "$file:$line:$what"
    findings=$((findings + 1))
    [ $findings -ge 50 ] && { echo "(stopping after 50 findings)"; break; }
  done < <({ grep -HnF -f "$work/secrets" -- "${logs[@]}"; grep -HnE -- "$PATTERNS" "${logs[@]}"; } 2>/dev/null | cut -d: -f1,2 | sort -u -t: -k1,1 -k2,2n)

  if [ $findings -gt 0 ]; then
    echo "secrets check: FAILED: $findings log line(s) above carry a secret ($count secrets, ${#logs[@]} logs scanned)"
    return 1
  fi
  echo "secrets check: ok: $count secrets (and SAS token patterns) in none of ${#logs[@]} logs"
  return 0
}

self_test() {
  local dir out rc
  dir=$(mktemp -d) || exit 2
  trap 'rm -rf "$dir"' RETURN
  mkdir -p "$dir/logs/sub"
  # Made up here, so the self-test never handles a real test secret.
  local key="SelfTestKey+/$(date +%s%N)=" other="SelfTestOther$$Secret"
  echo "$other" >"$dir/extra.secrets.txt"
  echo "$key" >"$dir/logs/run.secrets"  # .secrets files are the lists, not logs
  printf 'clean line\nanother clean line\n' >"$dir/logs/clean.log"
  printf 'line one\n[warn] connecting with key %s now\n' "$key" >"$dir/logs/plain.log"
  printf 'x\ny\nGET /$hc/x?sb-hc-action=listen&sb-hc-token=%s\n' "$(printf '%s' "$key" | sed -e 's/+/%2B/g' -e 's|/|%2F|g' -e 's/=/%3D/g')" >"$dir/logs/sub/encoded.log"
  printf 'Authorization: SharedAccessSignature sr=http%%3a%%2f%%2fh%%2fx&sig=AbCdEfGh12345678&se=1&skn=r\n' >"$dir/logs/token.log"
  printf 'ok\nthe other secret %s\n' "$other" >"$dir/lasttest.log"
  printf 'signal=15 design=ok sig=** key=*** SharedAccessKey=***\n' >"$dir/logs/masked.log"

  out=$(scan --log-dir "$dir/logs" --secrets "$dir/extra.secrets.txt" "$dir/lasttest.log" "$dir/missing.log")
  rc=$?
  local fail=0
  expect() { if ! grep -qE -- "$1" <<<"$out"; then echo "self-test: expected a finding matching: $1"; fail=1; fi; }
  [ $rc -eq 1 ] || { echo "self-test: expected exit 1 with secrets in the logs, got $rc"; fail=1; }
  expect "plain\\.log:2: test secret #$(fingerprint "$key")"
  expect "sub/encoded\\.log:3: test secret #[0-9a-f]{8}.* a SAS token"
  expect "token\\.log:1: a SAS token"
  expect "lasttest\\.log:2: test secret #$(fingerprint "$other")"
  if grep -qE 'clean\.log|masked\.log|run\.secrets' <<<"$out"; then echo "self-test: a clean file was reported"; fail=1; fi
  if grep -qF -- "$key" <<<"$out" || grep -qF -- "$other" <<<"$out" || grep -qF 'AbCdEfGh' <<<"$out"; then
    echo "self-test: the report itself shows a secret"; fail=1
  fi
  [ "$(grep -cE '^[^: ]+:[0-9]+:' <<<"$out")" -eq 4 ] || { echo "self-test: expected exactly 4 findings"; fail=1; }
  rm "$dir/logs/plain.log" "$dir/logs/sub/encoded.log" "$dir/logs/token.log"
  out=$(scan --log-dir "$dir/logs" --secrets "$dir/extra.secrets.txt")
  rc=$?
  [ $rc -eq 0 ] || { echo "self-test: expected exit 0 on clean logs, got $rc: $out"; fail=1; }
  if [ $fail -ne 0 ]; then echo "secrets check self-test: FAILED"; return 1; fi
  echo "secrets check self-test: ok (4 planted findings reported by file:line, secrets not shown; clean logs pass)"
}

if [ "${1:-}" = "--self-test" ]; then self_test; exit $?; fi
scan "$@"
