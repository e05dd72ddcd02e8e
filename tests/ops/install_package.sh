#!/usr/bin/env bash
# Installation and the Debian package (cmake/Install.cmake):
#  1. `cmake --install BUILD --prefix /usr` into a temporary DESTDIR puts the binaries, the three systemd units, the
#     docs and the example config where they belong (nothing outside DESTDIR), the units start /usr/bin/...;
#  2. with --prefix /opt/hcbridge the units start /opt/hcbridge/bin/... (the paths follow the prefix);
#  3. when dpkg-deb is available: cpack (without its build step, see below) builds hcbridge_<version>_<arch>.deb;
#     `dpkg-deb -c` lists the binaries and units, the control file names the package hcbridge and depends on every
#     package that owns a shared library the binaries link (ldd + dpkg -S, computed here, so a new library without a
#     Depends entry fails the test).
#
#   install_package.sh BUILD_DIR HCBRIDGE_BIN HCRELAY_BIN
set -euo pipefail

build=$(realpath -- "${1:?usage: install_package.sh BUILD_DIR HCBRIDGE_BIN HCRELAY_BIN}")
hcbridge=$(realpath -- "${2:?}")
hcrelay=$(realpath -- "${3:?}")
work=$(mktemp -d "${TMPDIR:-/tmp}/hcb-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

failures=0
fail() {
  echo "not ok - $*"
  failures=$((failures + 1))
}
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok - $what"; else fail "$what"; fi
}

# ---- 1. DESTDIR install with prefix /usr ----
dest=$work/destdir
started=$(date +%s.%N)
if ! DESTDIR=$dest cmake --install "$build" --prefix /usr >"$work/install.log" 2>&1; then
  fail "cmake --install failed:"; sed 's/^/#   /' "$work/install.log"; exit 1
fi
echo "# cmake --install took $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s"
# Every path the install reported must be inside DESTDIR (the /etc destination included).
outside=$(sed -n 's/^-- \(Installing\|Up-to-date\): //p' "$work/install.log" | grep -v "^$dest/" || true)
check "every installed file is under DESTDIR" test -z "$outside"
[ -z "$outside" ] || printf '#   outside: %s\n' $outside

for f in usr/bin/hcbridge usr/bin/hcrelay; do
  check "$f is installed and executable" test -x "$dest/$f"
done
for f in usr/lib/systemd/system/hcbridge.service usr/lib/systemd/system/hcbridge@.service \
         usr/lib/systemd/system/hcrelay.service \
         usr/share/doc/hcbridge/README.md usr/share/doc/hcbridge/configuration.md \
         usr/share/doc/hcbridge/architecture.md usr/share/doc/hcbridge/operations.md \
         usr/share/doc/hcbridge/examples/hcbridge.example.json etc/hcbridge/hcbridge.json.example; do
  check "$f is installed" test -s "$dest/$f"
done
check "no config that would start forwarding is installed (only the .example)" test ! -e "$dest/etc/hcbridge/hcbridge.json"
check "installed hcbridge runs (--version)" "$dest/usr/bin/hcbridge" --version
check "installed unit starts /usr/bin/hcbridge" grep -qx 'ExecStart=/usr/bin/hcbridge -c /etc/hcbridge/hcbridge.json' \
  "$dest/usr/lib/systemd/system/hcbridge.service"
check "installed units equal the sources for prefix /usr" \
  cmp -s "$dest/usr/lib/systemd/system/hcbridge@.service" "$(dirname "$0")/../../systemd/hcbridge@.service"
check "installed example equals config/hcbridge.example.json" \
  cmp -s "$dest/etc/hcbridge/hcbridge.json.example" "$(dirname "$0")/../../config/hcbridge.example.json"

# ---- 2. Another prefix: the units follow it ----
dest2=$work/destdir2
DESTDIR=$dest2 cmake --install "$build" --prefix /opt/hcbridge >"$work/install2.log" 2>&1 || { fail "cmake --install --prefix /opt/hcbridge failed"; sed 's/^/#   /' "$work/install2.log"; }
check "prefix /opt/hcbridge: hcbridge@.service starts /opt/hcbridge/bin/hcbridge" \
  grep -qx 'ExecStart=/opt/hcbridge/bin/hcbridge -c /etc/hcbridge/%i.json' "$dest2/opt/hcbridge/lib/systemd/system/hcbridge@.service"
check "prefix /opt/hcbridge: hcrelay.service starts /opt/hcbridge/bin/hcrelay" \
  grep -q '^ExecStart=/opt/hcbridge/bin/hcrelay ' "$dest2/opt/hcbridge/lib/systemd/system/hcrelay.service"
check "prefix /opt/hcbridge: no /usr/bin/hc left in the units" \
  bash -c "! grep -q '/usr/bin/hc' '$dest2'/opt/hcbridge/lib/systemd/system/*.service"
check "prefix /opt/hcbridge: the example config still goes to /etc/hcbridge" test -s "$dest2/etc/hcbridge/hcbridge.json.example"

# ---- 3. The .deb ----
if ! command -v dpkg-deb >/dev/null 2>&1; then
  echo "# dpkg-deb not found: skipping the .deb part"
else
  # `cpack --config BUILD/CPackConfig.cmake` first builds the `preinstall` target, i.e. the whole tree (every test
  # included): minutes inside a test whenever a source changed since the last build. This config is the real one
  # with the install step run as a plain install script: the same cmake_install.cmake that `cmake --install` runs,
  # with cpack's prefix and DESTDIR handling, without the build.
  cat >"$work/cpack-config.cmake" <<EOF
include("$build/CPackConfig.cmake")
set(CPACK_INSTALL_CMAKE_PROJECTS "")
set(CPACK_INSTALL_SCRIPTS "$build/cmake_install.cmake")
EOF
  started=$(date +%s.%N)
  if ! cpack -G DEB --config "$work/cpack-config.cmake" -B "$work/pkg" >"$work/cpack.log" 2>&1; then
    fail "cpack -G DEB failed:"; sed 's/^/#   /' "$work/cpack.log"
  else
    echo "# cpack took $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s"
    debs=("$work"/pkg/hcbridge_*.deb)
    if [ "${#debs[@]}" -ne 1 ] || [ ! -f "${debs[0]}" ]; then
      fail "expected one hcbridge_*.deb in $work/pkg, found: $(ls "$work/pkg")"
    else
      deb=${debs[0]}
      echo "# $(basename "$deb"), $(stat -c %s "$deb") bytes"
      dpkg-deb -c "$deb" | awk '{ print $1, $6 }' >"$work/contents"
      for f in ./usr/bin/hcbridge ./usr/bin/hcrelay ./usr/lib/systemd/system/hcbridge.service \
               ./usr/lib/systemd/system/hcbridge@.service ./usr/lib/systemd/system/hcrelay.service \
               ./usr/share/doc/hcbridge/examples/hcbridge.example.json ./etc/hcbridge/hcbridge.json.example \
               ./usr/share/doc/hcbridge/operations.md; do
        check "deb contains $f" grep -q " $f\$" "$work/contents"
      done
      check "deb: the binaries are executable" bash -c "grep -q '^-rwxr-xr-x ./usr/bin/hcbridge\$' '$work/contents'"
      check "deb: nothing under /usr/local" bash -c "! grep -q ' ./usr/local' '$work/contents'"
      check "deb: Package is hcbridge" test "$(dpkg-deb -f "$deb" Package)" = hcbridge
      depends=$(dpkg-deb -f "$deb" Depends)
      echo "# Depends: $depends"
      dpkg-deb -x "$deb" "$work/x"
      check "deb: hcbridge.service starts /usr/bin/hcbridge" \
        grep -qx 'ExecStart=/usr/bin/hcbridge -c /etc/hcbridge/hcbridge.json' "$work/x/usr/lib/systemd/system/hcbridge.service"
      check "deb: packaged hcbridge runs (--version)" "$work/x/usr/bin/hcbridge" --version
      # Every package owning a library the binaries link must be in Depends.
      if command -v dpkg >/dev/null 2>&1; then
        libs=$(ldd "$hcbridge" "$hcrelay" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u)
        for lib in $libs; do
          real=$(realpath "$lib")
          owner=$( (dpkg -S "$lib" 2>/dev/null || dpkg -S "$real" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null) \
                   | head -n1 | cut -d: -f1)
          if [ -z "$owner" ]; then
            fail "no Debian package owns $lib"
          else
            check "deb: Depends names $owner (owner of $(basename "$lib"))" \
              bash -c "printf '%s\n' '$depends' | tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -qx '$owner'"
          fi
        done
      fi
    fi
  fi
fi

if [ "$failures" -ne 0 ]; then
  echo "# FAIL install_package: $failures failure(s)"
  exit 1
fi
echo "# PASS install_package"
