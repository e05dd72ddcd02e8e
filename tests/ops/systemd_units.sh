#!/usr/bin/env bash
# systemd units: `systemd-analyze verify` has nothing to say about any of them, and the sandbox of hcbridge.service,
# hcbridge@.service and hcrelay.service scores an overall exposure <= MAX_EXPOSURE in `systemd-analyze security`.
#
#   systemd_units.sh SOURCE_DIR HCBRIDGE_BIN HCRELAY_BIN
#
# verify checks that ExecStart= binaries exist, so it runs on temporary copies whose /usr/bin/hcbridge and
# /usr/bin/hcrelay point at the freshly built binaries (everything else, /bin/kill included, is verbatim).
# `verify` exits 0 even after warnings (unknown keys, bad values), so the test fails on any stderr output instead.
# Exit 77 (ctest SKIP_RETURN_CODE) only when systemd-analyze is not installed (Debian package: systemd).
set -euo pipefail

src=${1:?usage: systemd_units.sh SOURCE_DIR HCBRIDGE_BIN HCRELAY_BIN}
hcbridge=$(realpath -- "${2:?}")
hcrelay=$(realpath -- "${3:?}")
MAX_EXPOSURE=${MAX_EXPOSURE:-2.0}

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIP: systemd-analyze not found (apt-get install systemd)"
  exit 77
fi
echo "# $(systemd-analyze --version | head -n1)"
for b in "$hcbridge" "$hcrelay"; do
  [ -x "$b" ] || { echo "not ok - $b is not an executable"; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/hcb-units.XXXXXX")
trap 'rm -rf "$work"' EXIT

failures=0
fail() {
  echo "not ok - $*"
  failures=$((failures + 1))
}

units=(hcbridge.service hcbridge@.service hcrelay.service)
for u in "${units[@]}"; do
  [ -f "$src/systemd/$u" ] || { fail "$src/systemd/$u is missing"; continue; }
  sed -e "s#/usr/bin/hcbridge#$hcbridge#g" -e "s#/usr/bin/hcrelay#$hcrelay#g" "$src/systemd/$u" >"$work/$u"
  grep -q "^ExecStart=$hcbridge \|^ExecStart=$hcrelay " "$work/$u" || fail "$u: ExecStart= does not start /usr/bin/hcbridge or /usr/bin/hcrelay"
done

# What every unit must say (the brief of the packaging, checked so a later edit cannot drop it silently).
need() {
  local unit=$1; shift
  for line in "$@"; do
    grep -qxF -- "$line" "$src/systemd/$unit" || fail "$unit: missing line '$line'"
  done
}
common=(NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" SystemCallFilter=@system-service CapabilityBoundingSet=
        MemoryDenyWriteExecute=yes LockPersonality=yes RestrictRealtime=yes RestrictNamespaces=yes
        ProtectKernelTunables=yes ProtectKernelModules=yes ProtectKernelLogs=yes ProtectControlGroups=yes
        ProtectClock=yes ProtectHostname=yes ProtectProc=invisible ProcSubset=pid SystemCallArchitectures=native
        UMask=0077 RestrictSUIDSGID=yes DynamicUser=yes Restart=on-failure LimitNOFILE=65536)
need hcbridge.service "${common[@]}" Type=notify NotifyAccess=main WatchdogSec=30 ConfigurationDirectory=hcbridge \
  RuntimeDirectory=hcbridge \
  "ExecStart=/usr/bin/hcbridge -c /etc/hcbridge/hcbridge.json" \
  "ExecReload=/usr/bin/hcbridge check-config -c /etc/hcbridge/hcbridge.json" "ExecReload=/bin/kill -HUP \$MAINPID"
need hcbridge@.service "${common[@]}" Type=notify NotifyAccess=main WatchdogSec=30 ConfigurationDirectory=hcbridge \
  RuntimeDirectory=hcbridge/%i \
  "ExecStart=/usr/bin/hcbridge -c /etc/hcbridge/%i.json" \
  "ExecReload=/usr/bin/hcbridge check-config -c /etc/hcbridge/%i.json" "ExecReload=/bin/kill -HUP \$MAINPID"
need hcrelay.service "${common[@]}"

# A -L Unix socket outside the runtime directory: the unit with the drop-in docs/operations.md shows
# (ReadWritePaths= for the socket's directory) must verify and keep its score too.
sed -e 's#^RuntimeDirectory=hcbridge$#&\nReadWritePaths=/srv/app/sockets#' "$work/hcbridge.service" >"$work/hcbridge-rwpaths.service"
grep -qx 'ReadWritePaths=/srv/app/sockets' "$work/hcbridge-rwpaths.service" || fail "hcbridge-rwpaths.service: ReadWritePaths= not added"

# verify: the template both as such and as an instance (%i expanded).
cd "$work"
for u in hcbridge.service hcbridge@.service hcbridge@tunnel1.service hcrelay.service hcbridge-rwpaths.service; do
  err=$(systemd-analyze verify "./$u" 2>&1 >/dev/null) && rc=0 || rc=$?
  if [ "$rc" -ne 0 ] || [ -n "$err" ]; then
    fail "systemd-analyze verify $u: exit $rc, stderr:"
    printf '%s\n' "$err" | sed 's/^/#   /'
  else
    echo "ok - systemd-analyze verify $u: exit 0, empty stderr"
  fi
done

# security: the number on the last line, "→ Overall exposure level for hcbridge.service: 1.2 OK 🙂".
for u in hcbridge.service hcbridge@.service hcbridge@tunnel1.service hcrelay.service hcbridge-rwpaths.service; do
  out=$(systemd-analyze security --offline=true "./$u" 2>&1) && rc=0 || rc=$?
  last=$(printf '%s\n' "$out" | tail -n1)
  score=$(printf '%s\n' "$last" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\) .*/\1/p')
  if [ "$rc" -ne 0 ] || [ -z "$score" ]; then
    fail "systemd-analyze security $u: exit $rc, no score in: $last"
    printf '%s\n' "$out" | tail -n 20 | sed 's/^/#   /'
  elif awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }'; then
    echo "ok - systemd-analyze security $u: exposure $score <= $MAX_EXPOSURE"
  else
    fail "systemd-analyze security $u: exposure $score > $MAX_EXPOSURE; the items that cost:"
    printf '%s\n' "$out" | grep '✗' | sed 's/^/#   /'
  fi
done

if [ "$failures" -ne 0 ]; then
  echo "# FAIL systemd_units: $failures failure(s)"
  exit 1
fi
echo "# PASS systemd_units"
