#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) into build-fuzz/ and fuzzes each one for a while, or replays the
# seed corpora only. Fails (exit 1) if any target crashes, leaks, times out or breaks one of its invariants.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     fuzz each target for SECONDS (default 30), seeded from fuzz/corpus/
#   scripts/fuzz.sh --regress [TARGET...]     run every target over fuzz/corpus/ and fuzz/crashes/ once (no fuzzing)
#   scripts/fuzz.sh --known [TARGET...]       replay fuzz/crashes/ with FUZZ_STRICT=1: which open findings still
#                                             reproduce (exit 1 while any does)
#
# New inputs go to build-fuzz/fuzz-out/TARGET/corpus (kept between runs, never into the repository), crash
# reproducers to build-fuzz/fuzz-out/TARGET/; see fuzz/README.md for reproducing and minimising them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-fuzz"
out="$build/fuzz-out"

regress=0
known=0
seconds=30
if [ "${1:-}" = "--regress" ]; then
  regress=1
  shift
elif [ "${1:-}" = "--known" ]; then
  known=1
  shift
elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi
case "${1:-}" in -h|--help) sed -n '2,12p' "$0"; exit 0 ;; esac

all_targets=(connection_string sas_verify control_message preamble datagram ws_frame http_head chunked_body url config_file forward_grammar http_mapping proxy jwt)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi

# Longest input per target: a little more than the largest meaningful input (the example config is 5.8 KB).
max_len() {
  case "$1" in
    config_file) echo 6144 ;;
    control_message|jwt) echo 4096 ;;
    http_head|chunked_body) echo 2048 ;;
    connection_string|sas_verify|url) echo 1024 ;;
    *) echo 512 ;;
  esac
}

cxx=${FUZZ_CXX:-$(command -v clang++ || true)}
if [ -z "$cxx" ]; then
  echo "fuzz.sh: clang++ not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi

start=$(date +%s)
if [ ! -f "$build/CMakeCache.txt" ]; then
  CXX="$cxx" cmake -S "$root" -B "$build" -DHCB_FUZZ=ON -DHCB_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
# Two jobs at most, as scripts/build.sh: CI has 2 cores.
if ! cmake --build "$build" --target fuzzers -j2 >"$build/fuzz-build.log" 2>&1; then
  tail -40 "$build/fuzz-build.log" >&2
  echo "fuzz.sh: build failed (full log: $build/fuzz-build.log)" >&2
  exit 2
fi
echo "fuzz.sh: build done in $(( $(date +%s) - start )) s"

mkdir -p "$out"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [ "$known" = 1 ]; then
  open=0
  for t in "${targets[@]}"; do
    for f in "$root/fuzz/crashes/$t"/*; do
      [ -f "$f" ] || continue
      if FUZZ_STRICT=1 "$build/fuzz/fuzz_$t" "$f" >"$out/known.log" 2>&1; then
        echo "$t/$(basename "$f"): fixed (move it to fuzz/corpus/$t/ and drop its tolerance in the target)"
      else
        echo "$t/$(basename "$f"): still reproduces"
        grep -E 'fuzz invariant failed|runtime error|ERROR: AddressSanitizer' -A2 "$out/known.log" | head -4 | sed 's/^/    /'
        open=$((open + 1))
      fi
    done
  done
  [ "$open" -eq 0 ] || exit 1
  echo "fuzz.sh: no open findings in fuzz/crashes/"
  exit 0
fi

failed=()
for t in "${targets[@]}"; do
  bin="$build/fuzz/fuzz_$t"
  corpus="$root/fuzz/corpus/$t"
  dict="$root/fuzz/dict/$t.dict"
  if [ ! -x "$bin" ] || [ ! -d "$corpus" ]; then
    echo "fuzz.sh: unknown target '$t' (known: ${all_targets[*]})" >&2
    exit 2
  fi
  mkdir -p "$out/$t/corpus"
  log="$out/$t/last.log"
  args=(-max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/$t/")
  [ -f "$dict" ] && args+=(-dict="$dict")
  if [ "$regress" = 1 ]; then
    args+=(-runs=0 "$corpus")
    [ -d "$root/fuzz/crashes/$t" ] && args+=("$root/fuzz/crashes/$t")
  else
    args+=(-max_total_time="$seconds" "$out/$t/corpus" "$corpus")
  fi
  t0=$(date +%s)
  status=0
  "$bin" "${args[@]}" >"$log" 2>&1 || status=$?
  secs=$(( $(date +%s) - t0 ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  # The last status line ("#N  DONE|INITED  cov: C ft: F corp: U/S ...") holds the coverage figures.
  line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|INITED|pulse|NEW|REDUCE)' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$line")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$line")
  corp=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$line")
  if [ "$status" -eq 0 ]; then
    printf '%-18s ok    %9s execs %4s s  cov %5s  ft %6s  corpus %s\n' "$t" "${execs:-?}" "$secs" "${cov:-?}" "${ft:-?}" "${corp:-?}"
  else
    printf '%-18s FAIL  (exit %s after %s s; log %s)\n' "$t" "$status" "$secs" "$log"
    grep -E 'ERROR:|fuzz invariant failed|runtime error|     at |^     |Test unit written|SUMMARY' "$log" | head -20 | sed 's/^/    /'
    failed+=("$t")
  fi
done

echo "fuzz.sh: ${#targets[@]} targets in $(( $(date +%s) - start )) s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
