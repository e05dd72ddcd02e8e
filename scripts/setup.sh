#!/usr/bin/env bash
# Installs every Debian and npm package hcbridge and its tests need. Idempotent; run as root on Debian 12.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

debs=(
  build-essential cmake pkg-config ca-certificates
  libasio-dev libwebsocketpp-dev libssl-dev rapidjson-dev libspdlog-dev libcli11-dev catch2
  openssl nodejs npm curl netcat-openbsd procps iproute2
  systemd          # systemd-analyze: the unit files are verified and scored by the tests
  clang libclang-rt-14-dev   # libFuzzer for the fuzz targets (fuzz/, scripts/fuzz.sh)
  python3 gnuplot-nox        # the benchmark harness (bench/run.py) and its plot
  # docker.engine (HCB_DOCKER_TESTS=1): a dockerd of the test's own, the base image made offline by debootstrap,
  # Debian's docker-compose for the compose files
  docker.io debootstrap docker-compose
  tinyproxy squid            # real HTTP CONNECT proxies for the proxy-egress tests (started unprivileged on loopback)
  bind9-dnsutils dnsmasq-base  # dig and a DNS server (no system service) for the UDP tunnel test
  # real applications through the tunnel in the benchmark (bench/run.py --apps): the harness starts its own servers
  # on loopback (redis-server, postgres as nobody, iperf3 -s); the packages' system services are not used;
  # interop.daemon_unix_redis starts redis-server on a Unix socket and uses redis-cli
  iperf3 redis-server redis-tools postgresql
  wrk                        # HTTP load: requests/s through hcbridge -H in the benchmark (bench/run.py --apps http)
)

missing=()
for p in "${debs[@]}"; do
  # nodejs/npm may come from another repository already; accept any installed node.
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages for the interop tests (hyco-ws needs an override stub, see tests/interop/package.json).
if [ ! -d "$here/tests/interop/node_modules/hyco-ws" ] || [ ! -d "$here/tests/interop/node_modules/hyco-https" ] || [ ! -d "$here/tests/interop/node_modules/ws" ]; then
  (cd "$here/tests/interop" && npm install --no-audit --no-fund --loglevel=error)
fi
# npm packages for the offline Dockerfile/compose checks (tests/docker: two Dockerfile linters and a YAML parser).
if [ ! -d "$here/tests/docker/node_modules/dockerfile-utils" ] || [ ! -d "$here/tests/docker/node_modules/dockerfilelint" ] || [ ! -d "$here/tests/docker/node_modules/yaml" ]; then
  (cd "$here/tests/docker" && npm install --no-audit --no-fund --loglevel=error)
fi
echo "setup: ok"
