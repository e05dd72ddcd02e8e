"""Real, unmodified applications through the tunnel over TLS (issue 16 section 3), each against direct in one run:

  iperf3           bulk TCP both ways (client sends; -R: server sends), MB/s
  redis-benchmark  SET and GET, 50 clients, one request in flight per client and 16 pipelined (-P 16), requests/s
  pgbench -S       select-only TPC-B on PostgreSQL (initdb'd by the harness in its work directory, as nobody), tps
  http             small GETs through hcbridge -H (HC HTTP request mode, issue 15): requests/s with wrk -c 16, and
                   the p50 of sequential requests on one connection (added latency); a Node origin server
  iperf3-udp       iperf3 -u at a fixed rate both ways (issue 14): datagrams/s received and the loss; the tunnel
                   forwards the port for TCP (iperf3's control connection) and for UDP (its datagrams)

For each application its server is started once on loopback; every figure is then measured direct (client -> server)
and through a fresh TLS chain (client -> hcbridge -L -> hcrelay over TLS -> hcbridge -T -> server), one after the
other. The tunnel's CPU seconds are sampled around every tunnel run (per GiB for iperf3).
"""
import csv
import glob
import http.client
import io
import json
import os
import re
import signal
import ssl
import subprocess
import time
import urllib.parse

from . import chains
from .procs import ProcessFailed

APPS = ("iperf3", "redis", "pgbench", "iperf3-udp", "http")
# iperf3 -u: 1,400-byte datagrams (under a 1,500-byte MTU) at 20 and 100 Mbit/s, about 1,800 and 8,900 datagrams/s.
UDP_RATES, UDP_LENGTH = ("20M", "100M"), 1400
GIB = 1 << 30


class AppFailed(RuntimeError):
    pass


def run(argv, timeout, env=None):
    """Runs a client to completion; its stdout, or AppFailed with the end of what it said."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise AppFailed(f"{argv[0]}: no result within {timeout} s") from e
    if done.returncode != 0:
        raise AppFailed(f"{argv[0]} exit {done.returncode}: {(done.stderr or done.stdout).strip()[-300:]}")
    return done.stdout


# ------------------------------------------------------------------------------------------------------ servers


def start_iperf3(chain):
    port = chains.free_port()
    # --forceflush: its "listening" line must reach the pipe at once.
    proc = chain.start("iperf3 -s", ["iperf3", "-s", "-B", "127.0.0.1", "-p", str(port), "--forceflush"])
    proc.wait_for(lambda l: "Server listening" in l, 10, "'Server listening'")
    return port


def start_redis(chain):
    port = chains.free_port()
    d = os.path.join(chain.env.workdir, "redis")
    os.makedirs(d, exist_ok=True)
    proc = chain.start("redis-server", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                        "--appendonly", "no", "--dir", d, "--daemonize", "no"])
    proc.wait_for(lambda l: "Ready to accept connections" in l, 10, "'Ready to accept connections'")
    return port


def postgres_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise AppFailed("no /usr/lib/postgresql/*/bin/initdb: run scripts/setup.sh (Debian postgresql)")
    return os.path.dirname(found[-1])


def start_postgres(chain, timeout):
    """A throw-away cluster in the work directory: trust auth on loopback only, no fsync (nothing here is kept), run
    as nobody when the harness is root; then pgbench's tables (scale 1) loaded directly."""
    env, bindir = chain.env, postgres_bin()
    d = os.path.join(env.workdir, "pg")
    os.makedirs(d, exist_ok=True)
    if os.getuid() == 0:
        os.chown(d, chains.NOBODY, chains.NOBODY)
    data = os.path.join(d, "data")
    run(chains.unprivileged([os.path.join(bindir, "initdb"), "-D", data, "-U", "postgres", "--auth=trust",
                             "--no-sync", "--locale=C", "-E", "UTF8"], env.workdir), timeout)
    port = chains.free_port()
    # SIGINT is postgres's fast shutdown (SIGTERM waits for every client to leave); it exits 0 either way.
    proc = chain.start("postgres", stop_signal=signal.SIGINT, argv=chains.unprivileged(
        [os.path.join(bindir, "postgres"), "-D", data, "-p", str(port), "-k", d, "-c", "listen_addresses=127.0.0.1",
         "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"], env.workdir))
    proc.wait_for(lambda l: "ready to accept connections" in l, timeout, "'ready to accept connections'")
    run(["pgbench", "-i", "-q", "-s", "1", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "postgres"], timeout)
    return port


# ------------------------------------------------------------------------------------------------------ clients


def iperf3_tests(p):
    def one(reverse):
        def client(port):
            argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(p["app_seconds"]), "-J"]
            out = json.loads(run(argv + (["-R"] if reverse else []), p["app_seconds"] + 60))
            got = out["end"]["sum_received"]
            return {"value": got["bits_per_second"] / 8e6, "bytes": got["bytes"]}
        return client
    return [("iperf3 client->server", "MB/s", one(False)), ("iperf3 -R server->client", "MB/s", one(True))]


def redis_tests(p):
    def one(pipeline, command):
        def client(port):
            argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", command, "-c", "50",
                    "-n", str(p["redis_requests"] * pipeline), "-P", str(pipeline), "--csv"]
            rows = list(csv.DictReader(io.StringIO(run(argv, 300))))
            if not rows or "rps" not in rows[0]:
                raise AppFailed(f"redis-benchmark: no CSV result for {command}")
            return {"value": float(rows[0]["rps"]), "p50_us": float(rows[0]["p50_latency_ms"]) * 1000}
        return client
    return [(f"redis-benchmark {c.upper()}{' -P 16' if n > 1 else ''}", "req/s", one(n, c))
            for n in (1, 16) for c in ("set", "get")]


def pgbench_tests(p):
    def client(port):
        out = run(["pgbench", "-S", "-n", "-c", "8", "-j", "2", "-T", str(p["app_seconds"]), "-h", "127.0.0.1",
                   "-p", str(port), "-U", "postgres", "postgres"], p["app_seconds"] + 60)
        tps = re.search(r"tps = ([\d.]+)", out)
        lat = re.search(r"latency average = ([\d.]+) ms", out)
        if not tps:
            raise AppFailed(f"pgbench: no tps in: {out.strip()[-200:]}")
        return {"value": float(tps.group(1)), "avg_latency_us": float(lat.group(1)) * 1000 if lat else None}
    return [("pgbench -S, 8 clients", "tps", client)]


def iperf3_udp_tests(p):
    def one(rate, reverse):
        def client(port):
            argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-u", "-b", rate, "-l", str(UDP_LENGTH),
                    "-t", str(p["app_seconds"]), "-J"]
            got = json.loads(run(argv + (["-R"] if reverse else []), p["app_seconds"] + 60))["end"]["sum_received"]
            if not got.get("seconds") or not got.get("packets"):
                raise AppFailed("iperf3 -u: no datagram arrived")
            received = got["packets"] - got["lost_packets"]
            return {"value": received / got["seconds"], "loss_percent": got["lost_percent"], "bytes": got["bytes"]}
        return client
    return [(f"iperf3 -u -b {rate} -l {UDP_LENGTH}{' -R server->client' if reverse else ' client->server'}",
             "datagrams/s", one(rate, reverse)) for rate in UDP_RATES for reverse in (False, True)]


def start_http_origin(chain):
    script = os.path.join(chain.env.root, "bench", "peers", "http_origin.js")
    proc = chain.start("http origin", ["node", script, "0"])
    return proc.wait_for(lambda l: (chains.json_line(l) or {}).get("port"), 10, "the origin's ready line")


def http_tests(p):
    """`where` is the origin's port (direct) or the tunnel's {"url", "headers", "ca_file"}."""
    def target(where):
        if isinstance(where, int):
            return f"http://127.0.0.1:{where}/", {}, None
        return where["url"], where["headers"], where["ca_file"]

    def rate(connections):
        def client(where):
            url, headers, _ = target(where)
            argv = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{p['app_seconds']}s", "--latency"]
            for k, v in headers.items():
                argv += ["-H", f"{k}: {v}"]
            out = run(argv + [url], p["app_seconds"] + 60)
            rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
            p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
            if not rps:
                raise AppFailed(f"wrk: no Requests/sec in: {out.strip()[-200:]}")
            if re.search(r"Non-2xx or 3xx responses|Socket errors", out):
                raise AppFailed(f"wrk: errors or non-2xx responses: {out.strip()[-300:]}")
            result = {"value": float(rps.group(1))}
            if p50:
                result["p50_us"] = float(p50.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[p50.group(2)]
            return result
        return client

    def latency(where):
        """One keep-alive connection, sequential GETs: p50 of the round trip."""
        url, headers, ca_file = target(where)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=10,
                                               context=ssl.create_default_context(cafile=ca_file))
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        samples, deadline = [], time.monotonic() + p["app_seconds"]
        try:
            while time.monotonic() < deadline and len(samples) < p["http_requests"]:
                t0 = time.perf_counter()
                conn.request("GET", parts.path, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                samples.append(time.perf_counter() - t0)
                if resp.status != 200 or len(body) != 64:
                    raise AppFailed(f"GET {parts.path}: {resp.status}, {len(body)} bytes")
        finally:
            conn.close()
        samples.sort()
        return {"value": len(samples) / sum(samples), "p50_us": samples[len(samples) // 2] * 1e6}

    return [("GET 64 B, wrk -c 16 (keep-alive)", "req/s", rate(16)),
            ("GET 64 B, one connection, sequential", "req/s", latency)]


SERVERS = {"iperf3": (lambda c, p: start_iperf3(c), iperf3_tests),
           "redis": (lambda c, p: start_redis(c), redis_tests),
           "pgbench": (lambda c, p: start_postgres(c, p["app_start_timeout"]), pgbench_tests),
           "iperf3-udp": (lambda c, p: start_iperf3(c), iperf3_udp_tests),
           "http": (lambda c, p: start_http_origin(c), http_tests)}


# ------------------------------------------------------------------------------------------------------ running


def through_tunnel(env, app, port, client):
    """One client run through a fresh TLS chain to `port`; with the chain processes' CPU seconds (per GiB when the
    client reports bytes)."""
    if app == "http":
        tunnel = chains.hcbridge_http(env, port)
        where = tunnel.http
    else:
        tunnel = chains.hcbridge(env, tls=True, target_port=port, name=f"{app}-tls", udp=app == "iperf3-udp")
        where = int(tunnel.client_args[1].rsplit(":", 1)[1])
    try:
        before = {role: proc.cpu_seconds() for role, proc in tunnel.measured().items()}
        out = client(where)
        cpu = {role: proc.cpu_seconds() - before[role] for role, proc in tunnel.measured().items()}
    finally:
        codes = tunnel.stop()
    bad = {role: code for role, code in codes.items() if code not in (0, -15)}
    if bad:
        raise AppFailed(f"tunnel exit codes after SIGTERM: {bad} (logs in {env.workdir})")
    out["cpu_s"] = cpu
    if out.get("bytes"):
        out["cpu_s_per_gib"] = {role: s / (out["bytes"] / GIB) for role, s in cpu.items()}
    return out


def measure_app(env, app, p):
    """Starts the app's server, runs each of its tests direct and through the tunnel, stops it."""
    start, tests = SERVERS[app]
    result = {"tests": [], "errors": []}
    try:
        with chains.Chain(app, app, env) as server:
            port = start(server, p)
    except (AppFailed, ProcessFailed, OSError) as e:
        result["errors"].append(f"start: {e}")
        return result
    try:
        for name, unit, client in tests(p):
            row = {"test": name, "unit": unit}
            for path, measure in (("direct", lambda: client(port)), ("tunnel", lambda: through_tunnel(env, app, port,
                                                                                                     client))):
                try:
                    row[path] = measure()
                except (AppFailed, ProcessFailed, RuntimeError, OSError, KeyError, ValueError) as e:
                    result["errors"].append(f"{name} {path}: {e}")
            result["tests"].append(row)
    finally:
        codes = server.stop()
    # iperf3 -s exits 1 on SIGTERM ("interrupt - the server has terminated").
    clean = (0, 1, -15) if app.startswith("iperf3") else (0, -15)
    bad = {role: code for role, code in codes.items() if code not in clean}
    if bad:
        result["errors"].append(f"server exit codes when stopped: {bad} (logs in {env.workdir})")
    return result
