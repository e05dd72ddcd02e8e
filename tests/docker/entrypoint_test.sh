#!/bin/sh
# Runs docker/entrypoint.sh for real with fake hcbridge/hcrelay programs on PATH and checks the argument lists it
# builds from HCBRIDGE_ADMIN, HCBRIDGE_CONFIG, HCBRIDGE_ARGS and the container's arguments. Also: `sh -n`, shellcheck
# (when installed), that it execs (the daemon gets the entrypoint's PID, so it is PID 1 in a container), and the
# default config path /etc/hcbridge/hcbridge.json (in a private mount namespace, when unshare works here).
# Usage: sh entrypoint_test.sh [REPO_ROOT]
set -u

root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
ep="$root/docker/entrypoint.sh"
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok:   $1"; }
flunk() { failed=$((failed + 1)); echo "FAIL: $1"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/cwd"

# Fakes: write their name, PID and arguments (one per line) to $FAKE_OUT.
for prog in hcbridge hcrelay; do
  cat >"$tmp/bin/$prog" <<EOF
#!/bin/sh
{ echo "prog=$prog"; echo "pid=\$\$"; for a in "\$@"; do echo "arg=\$a"; done; } >"\$FAKE_OUT"
exit 0
EOF
  chmod +x "$tmp/bin/$prog"
done
# Files a glob would expand to, to prove HCBRIDGE_ARGS is not globbed.
touch "$tmp/cwd/a:8080:web" "$tmp/cwd/b"

# The image's default HCBRIDGE_ADMIN, as the Dockerfile sets it.
image_admin=$(sed -n 's/^ENV HCBRIDGE_ADMIN=\([^ ]*\).*/\1/p' "$root/Dockerfile" | tail -n 1)
if [ -n "$image_admin" ]; then pass "Dockerfile sets ENV HCBRIDGE_ADMIN=$image_admin"; else flunk "Dockerfile sets no ENV HCBRIDGE_ADMIN"; image_admin=127.0.0.1:9090; fi

# run NAME EXPECTED_RC EXPECTED_LINES [NAME=VALUE...] -- [ARGS...]: runs the entrypoint with exactly that environment.
run() {
  name=$1 want_rc=$2 want=$3
  shift 3
  # Replace the first "--" by `sh ENTRYPOINT`, so "$@" becomes: NAME=VALUE... sh ENTRYPOINT ARGS... (for env).
  seen=false
  for a do
    shift
    if [ "$seen" = false ] && [ "$a" = -- ]; then seen=true; set -- "$@" sh "$ep"; else set -- "$@" "$a"; fi
  done
  rm -f "$tmp/out"
  (cd "$tmp/cwd" && exec env -i PATH="$tmp/bin:/usr/bin:/bin" FAKE_OUT="$tmp/out" "$@") >"$tmp/stdout" 2>"$tmp/stderr"
  rc=$?
  got=$(grep -v '^pid=' "$tmp/out" 2>/dev/null)
  if [ "$rc" = "$want_rc" ] && [ "$got" = "$want" ]; then
    pass "$name"
  else
    flunk "$name: rc=$rc (want $want_rc)"
    echo "  want: $(echo "$want" | tr '\n' ' ')"
    echo "  got:  $(echo "$got" | tr '\n' ' ')"
    sed 's/^/  stderr: /' "$tmp/stderr"
  fi
}

lines() { printf '%s\n' "$@"; }

# 1. Syntax and style.
if sh -n "$ep"; then pass "sh -n: POSIX syntax"; else flunk "sh -n"; fi
if command -v dash >/dev/null 2>&1; then
  if dash -n "$ep"; then pass "dash -n (the image's /bin/sh)"; else flunk "dash -n"; fi
fi
if command -v shellcheck >/dev/null 2>&1; then
  if shellcheck -s sh "$ep" >"$tmp/sc" 2>&1; then pass "shellcheck -s sh: clean"; else flunk "shellcheck -s sh"; cat "$tmp/sc"; fi
else
  echo "note: shellcheck not installed: style check skipped"
fi
if head -n 1 "$ep" | grep -qx '#!/bin/sh'; then pass "shebang is #!/bin/sh"; else flunk "shebang is not #!/bin/sh"; fi

cfg="$tmp/hcbridge.json"
echo '{}' >"$cfg"
A=$image_admin

# 2. Argument lists.
run "no arguments: --admin from HCBRIDGE_ADMIN only" 0 "$(lines prog=hcbridge arg=--admin "arg=$A")" \
  HCBRIDGE_ADMIN="$A" --
run "forwards as arguments" 0 "$(lines prog=hcbridge arg=--admin "arg=$A" arg=-T arg=web:127.0.0.1:80 arg=-L 'arg=*:8080:db')" \
  HCBRIDGE_ADMIN="$A" -- -T web:127.0.0.1:80 -L '*:8080:db'
run "leading word hcbridge is dropped" 0 "$(lines prog=hcbridge arg=--admin "arg=$A" arg=-T arg=web:80)" \
  HCBRIDGE_ADMIN="$A" -- hcbridge -T web:80
run "arguments keep their spaces" 0 "$(lines prog=hcbridge arg=--admin "arg=$A" arg=--log-level 'arg=a b')" \
  HCBRIDGE_ADMIN="$A" -- --log-level 'a b'
run "HCBRIDGE_ARGS split at white space, not globbed, before the arguments" 0 \
  "$(lines prog=hcbridge arg=--admin "arg=$A" arg=-L 'arg=*:8080:web' arg=-T 'arg=db:[::1]:5432' arg=-L arg=a:8080:web arg=--log-format arg=json)" \
  HCBRIDGE_ADMIN="$A" 'HCBRIDGE_ARGS=-L	*:8080:web' -- -T 'db:[::1]:5432' -L 'a:8080:web' --log-format json
run "HCBRIDGE_ARGS alone, with several spaces" 0 \
  "$(lines prog=hcbridge arg=--admin "arg=$A" arg=-T arg=web:80 arg=-T arg=db:5432)" \
  HCBRIDGE_ADMIN="$A" "HCBRIDGE_ARGS=  -T web:80   -T db:5432 " --
run "empty HCBRIDGE_ADMIN: no --admin" 0 "$(lines prog=hcbridge arg=-T arg=web:80)" \
  HCBRIDGE_ADMIN= -- -T web:80
run "--admin in the arguments wins over HCBRIDGE_ADMIN" 0 "$(lines prog=hcbridge arg=-T arg=web:80 arg=--admin arg=0.0.0.0:9100)" \
  HCBRIDGE_ADMIN="$A" -- -T web:80 --admin 0.0.0.0:9100
run "--admin=ADDR in the arguments wins too" 0 "$(lines prog=hcbridge arg=--admin=127.0.0.1:9200 arg=-T arg=web:80)" \
  HCBRIDGE_ADMIN="$A" -- --admin=127.0.0.1:9200 -T web:80
run "HCBRIDGE_CONFIG=FILE: -c FILE first" 0 "$(lines prog=hcbridge arg=--admin "arg=$A" arg=-c "arg=$cfg" arg=-T arg=web:80)" \
  HCBRIDGE_ADMIN="$A" HCBRIDGE_CONFIG="$cfg" -- -T web:80
run "HCBRIDGE_CONFIG naming a missing file: exit 2, hcbridge not started" 2 "" \
  HCBRIDGE_ADMIN="$A" HCBRIDGE_CONFIG="$tmp/missing.json" -- -T web:80
if grep -q 'HCBRIDGE_CONFIG' "$tmp/stderr"; then pass "the missing-config message names HCBRIDGE_CONFIG"; else flunk "no message for a missing HCBRIDGE_CONFIG file"; fi
run "empty HCBRIDGE_CONFIG: no config file" 0 "$(lines prog=hcbridge arg=--admin "arg=$A" arg=-T arg=web:80)" \
  HCBRIDGE_ADMIN="$A" HCBRIDGE_CONFIG= -- -T web:80
run "-c in the arguments wins over HCBRIDGE_CONFIG" 0 "$(lines prog=hcbridge arg=--admin "arg=$A" arg=-c arg=/x.json)" \
  HCBRIDGE_ADMIN="$A" HCBRIDGE_CONFIG="$cfg" -- -c /x.json
run "--config=FILE in HCBRIDGE_ARGS wins too" 0 "$(lines prog=hcbridge arg=--admin "arg=$A" arg=--config=/y.json arg=-T arg=web:80)" \
  HCBRIDGE_ADMIN="$A" HCBRIDGE_CONFIG="$cfg" HCBRIDGE_ARGS=--config=/y.json -- -T web:80
run "check-config gets the same settings" 0 "$(lines prog=hcbridge arg=--admin "arg=$A" arg=-c "arg=$cfg" arg=check-config)" \
  HCBRIDGE_ADMIN="$A" HCBRIDGE_CONFIG="$cfg" -- check-config
run "healthcheck goes to hcbridge unchanged" 0 "$(lines prog=hcbridge arg=healthcheck arg=--timeout arg=3)" \
  HCBRIDGE_ADMIN="$A" HCBRIDGE_CONFIG="$cfg" HCBRIDGE_ARGS=-T -- healthcheck --timeout 3
run "hcrelay gets its arguments unchanged" 0 "$(lines prog=hcrelay arg=--bind arg=0.0.0.0:9350 arg=--sas arg=demo=k)" \
  HCBRIDGE_ADMIN="$A" HCBRIDGE_CONFIG="$cfg" HCBRIDGE_ARGS=-T -- hcrelay --bind 0.0.0.0:9350 --sas demo=k
if [ ! -e /etc/hcbridge/hcbridge.json ]; then
  run "HCBRIDGE_CONFIG unset, no /etc/hcbridge/hcbridge.json: no config file" 0 "$(lines prog=hcbridge arg=--admin "arg=$A" arg=-T arg=web:80)" \
    HCBRIDGE_ADMIN="$A" -- -T web:80
fi

# 3. exec: the daemon replaces the shell (same PID), so it is PID 1 in the container and gets SIGTERM directly.
rm -f "$tmp/out"
env -i PATH="$tmp/bin:/usr/bin:/bin" FAKE_OUT="$tmp/out" HCBRIDGE_ADMIN="$A" sh "$ep" -T web:80 &
pid=$!
wait "$pid"
if [ "$(sed -n 's/^pid=//p' "$tmp/out")" = "$pid" ]; then pass "the entrypoint execs hcbridge (same PID $pid)"; else flunk "the entrypoint does not exec hcbridge"; fi
rm -f "$tmp/out"
env -i PATH="$tmp/bin:/usr/bin:/bin" FAKE_OUT="$tmp/out" sh "$ep" hcrelay --no-auth &
pid=$!
wait "$pid"
if [ "$(sed -n 's/^pid=//p' "$tmp/out")" = "$pid" ]; then pass "the entrypoint execs hcrelay (same PID $pid)"; else flunk "the entrypoint does not exec hcrelay"; fi

# 4. The default config path, in a private mount namespace with a stand-in /etc (needs root and unshare).
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1 && unshare --mount true 2>/dev/null; then
  mkdir -p "$tmp/etc/hcbridge"
  echo '{}' >"$tmp/etc/hcbridge/hcbridge.json"
  rm -f "$tmp/out"
  unshare --mount sh -c 'mount --bind "$1" /etc && exec env -i PATH="$2:/usr/bin:/bin" FAKE_OUT="$3" HCBRIDGE_ADMIN="$4" sh "$5" -T web:80' \
    sh "$tmp/etc" "$tmp/bin" "$tmp/out" "$A" "$ep" 2>"$tmp/stderr"
  got=$(grep -v '^pid=' "$tmp/out" 2>/dev/null)
  want=$(lines prog=hcbridge arg=--admin "arg=$A" arg=-c arg=/etc/hcbridge/hcbridge.json arg=-T arg=web:80)
  if [ "$got" = "$want" ]; then pass "HCBRIDGE_CONFIG unset, /etc/hcbridge/hcbridge.json present: -c /etc/hcbridge/hcbridge.json"
  else flunk "default config path: got $(echo "$got" | tr '\n' ' ')"; cat "$tmp/stderr"; fi
else
  echo "note: no private mount namespace here (needs root and unshare): the /etc/hcbridge/hcbridge.json default was not tried"
fi

echo "entrypoint checks: $passed ok, $failed failed"
[ "$failed" -eq 0 ]
