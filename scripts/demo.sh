#!/usr/bin/env bash
# A real tunnel on one machine, no Azure account: hcrelay on loopback (the embedded default relay), an hcbridge
# listener (-T) in front of a local server, an hcbridge sender (-L), and traffic through all of it:
#   client -> 127.0.0.1:LOCAL -> hcbridge -L -> hcrelay -> hcbridge -T -> 127.0.0.1:TARGET
# Run as root on a fresh Debian 12 machine (it installs and builds what it needs). Everything stops at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh" >/dev/null
echo "== building (Release)"
bash "$root/scripts/build.sh" release >/dev/null
bin="$root/build/src"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { # asks the kernel for a free loopback port
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
wait_for() { # wait_for FILE PATTERN: up to 10 s for a log line
  for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; exit 1
}

relay_port=$(free_port); target_port=$(free_port); local_port=$(free_port)
key=$(head -c 32 /dev/urandom | base64)

echo "== hcrelay on 127.0.0.1:$relay_port"
"$bin/hcrelay" --bind "127.0.0.1:$relay_port" --sas "demo=$key" >"$work/relay.out" 2>"$work/relay.log" &
pids+=($!)
wait_for "$work/relay.out" "listening on"

echo "== a local server on 127.0.0.1:$target_port (it answers with the SHA-256 of what it receives)"
node -e '
  const net = require("net"), crypto = require("crypto");
  net.createServer(s => {
    const h = crypto.createHash("sha256"); let n = 0;
    s.on("data", d => { h.update(d); n += d.length; });
    s.on("end", () => s.end(`target received ${n} bytes, sha256 ${h.digest("hex")}\n`));
  }).listen(+process.argv[1], "127.0.0.1");' "$target_port" &
pids+=($!)

endpoint="ws://127.0.0.1:$relay_port/"
echo "== hcbridge -T demo:$target_port   (listener side, in front of the server)"
"$bin/hcbridge" -e "$endpoint" -K demo -k "$key" -T "demo:127.0.0.1:$target_port" 2>"$work/listener.log" &
pids+=($!)
wait_for "$work/listener.log" "control channel connected"

echo "== hcbridge -L $local_port:demo   (sender side, where the client is)"
"$bin/hcbridge" -e "$endpoint" -K demo -k "$key" -L "$local_port:demo" 2>"$work/sender.log" &
pids+=($!)
wait_for "$work/sender.log" "listening on"

echo "== sending 32 MiB of random bytes through the tunnel"
head -c 33554432 /dev/urandom >"$work/payload"
expected=$(sha256sum "$work/payload" | cut -d' ' -f1)
answer=$(node -e '
  const net = require("net"), fs = require("fs");
  const c = net.connect(+process.argv[1], "127.0.0.1", () => { c.end(fs.readFileSync(process.argv[2])); });
  let out = ""; c.on("data", d => out += d); c.on("end", () => process.stdout.write(out));
  c.on("error", e => { console.error("client: " + e.message); process.exit(1); });' "$local_port" "$work/payload")
echo "client sent        32 MiB, sha256 $expected"
echo "$answer"
if [[ "$answer" == *"$expected"* ]]; then
  echo "== OK: the bytes crossed client -> hcbridge -L -> hcrelay -> hcbridge -T -> server intact"
else
  echo "== FAILED: the server saw different bytes" >&2
  tail -n 20 "$work"/*.log >&2
  exit 1
fi
echo "== the tunnel as the daemons logged it:"
grep -h "tunnel t" "$work/sender.log" "$work/listener.log" | sed 's/^/   /'
