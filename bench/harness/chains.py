"""The chains under test, each started from nothing and stopped after its measurements:

  direct       client -> server                                                (the ceiling)
  hcbridge     client -> hcbridge -L -> hcrelay -> hcbridge -T -> server       (ws:// or TLS)
  hcbridge-tls-squid   the same over TLS, both daemons reaching hcrelay only through squid (HTTPS_PROXY, CONNECT)
  node         client -> node -L -> hcrelay -> node -T -> server               (hyco-ws forwarder, bench/peers)
  relay        client =HC=> hcrelay =HC=> server                               (hcbench speaks HC itself)

The server is always `hcbench server` (sink for throughput streams, echo otherwise).
"""
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import time
import urllib.parse

from .procs import Proc

HC_NAME = "bench"
KEY_NAME = "bench"
# As deployed: info logs one line per tunnel opened and closed, and the harness waits for the daemons' readiness lines.
LOG_LEVEL = "info"


def free_port(udp_too=False):
    """A loopback port the kernel just handed out (the daemons' -L needs a number up front); with `udp_too`, one
    that is free for UDP as well (a few tries)."""
    for _ in range(20):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not udp_too:
            return port
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no loopback port free for both TCP and UDP in 20 tries")


def json_line(line):
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class Env:
    """Paths, the throw-away key and certificate, and the settings every chain shares."""

    def __init__(self, root, build, workdir, key, cert_dir):
        self.root, self.build, self.workdir = root, build, workdir
        self.key, self.cert_dir = key, cert_dir
        self.hcbench = os.path.join(build, "bench", "hcbench")
        self.hcrelay = os.path.join(build, "src", "hcrelay")
        self.hcbridge = os.path.join(build, "src", "hcbridge")
        self.key_file = os.path.join(workdir, "relay.key")
        with open(os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(key + "\n")

    @property
    def ca_file(self):
        return os.path.join(self.cert_dir, "cert.pem")

    def child_env(self, **extra):
        env = dict(os.environ)
        env.update(extra)
        return env


class Chain:
    """A running chain: its processes (role -> Proc, in start order) and how a client reaches it."""

    def __init__(self, name, label, env):
        self.name, self.label, self.env = name, label, env
        self.procs = {}
        self.client_args = []
        self.client_env = env.child_env()

    def __enter__(self):
        """The chain builders below start their processes inside `with Chain(...) as chain:`."""
        return self

    def __exit__(self, exc_type, exc, tb):
        """A chain whose start-up fails stops what it already started (its server and relay, say) before the
        error goes on."""
        if exc_type is not None:
            self.stop()
        return False

    def start(self, role, argv, **kw):
        proc = Proc(f"{self.name} {role}", argv, self.env.workdir, **kw)
        self.procs[role] = proc
        return proc

    def measured(self):
        """The processes whose CPU and memory are reported: everything but hcbench itself."""
        return {role: p for role, p in self.procs.items() if role != "server"}

    def stop(self):
        codes = {}
        for role, proc in reversed(list(self.procs.items())):
            codes[role] = proc.stop()
        return codes


def start_server(chain, hc_endpoint=None):
    env = chain.env
    if hc_endpoint:
        argv = [env.hcbench, "server", "--hc-endpoint", hc_endpoint, "--hc", HC_NAME, "--key-name", KEY_NAME,
                "--ca-file", env.ca_file, "--timeout", "100000"]
        proc = chain.start("server", argv, env=env.child_env(HCBENCH_KEY=env.key))
    else:
        proc = chain.start("server", [env.hcbench, "server", "--listen", "127.0.0.1:0", "--timeout", "100000"])
    event = proc.wait_for(lambda l: (json_line(l) or {}).get("event") in ("listening", "error") and json_line(l), 10,
                          "listening")
    if event["event"] == "error":
        raise RuntimeError(f"{chain.name} server: {event['error']}")
    return event["port"]


def start_relay(chain, tls):
    env = chain.env
    argv = [env.hcrelay, "--bind", "127.0.0.1:0", "--sas", f"{KEY_NAME}={env.key}", "--log-level", LOG_LEVEL,
            # two connections per tunnel: room for the 10,000-tunnel memory run (the default cap is 10,000)
            "--max-connections", "100000"]
    if tls:
        argv += ["--tls-cert", os.path.join(env.cert_dir, "cert.pem"),
                 "--tls-key", os.path.join(env.cert_dir, "key.pem")]
    proc = chain.start("hcrelay", argv)
    m = proc.wait_for(lambda l: re.search(r"listening on (wss?://127\.0\.0\.1:\d+)", l), 10, "'listening on'")
    return m.group(1) + "/"


def direct(env):
    with Chain("direct", "direct TCP", env) as chain:
        port = start_server(chain)
        chain.client_args = ["--connect", f"127.0.0.1:{port}"]
    return chain


NOBODY = 65534


def unprivileged(argv, workdir):
    """argv run as nobody when the harness runs as root (squid and postgres refuse root, or should not have it); the
    harness's private (0700) work directory is opened for walking through, so nobody reaches its own directory."""
    if os.getuid() != 0:
        return argv
    os.chmod(workdir, os.stat(workdir).st_mode | 0o111)
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] + argv


def start_squid(chain):
    """squid on loopback (no auth, no cache), unprivileged when the harness runs as root; returns its proxy URL."""
    env = chain.env
    d = os.path.join(env.workdir, "squid")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o777)
    port = free_port()
    conf = os.path.join(d, "squid.conf")
    with open(conf, "w") as f:
        f.write("\n".join([
            f"http_port 127.0.0.1:{port}", "pid_filename none", f"cache_log {d}/cache.log",
            f"access_log stdio:{d}/access.log squid", "cache_store_log none", "netdb_filename none",
            f"coredump_dir {d}", "cache deny all", "shutdown_lifetime 1 seconds", "http_access allow localhost",
            "http_access deny all", ""]))
    proc = chain.start("squid", unprivileged(["squid", "-N", "-d", "1", "-f", conf], env.workdir))
    proc.wait_for(lambda l: "Accepting HTTP Socket connections" in l, 15, "'Accepting HTTP Socket connections'")
    return f"http://127.0.0.1:{port}"


def hcbridge(env, tls, max_connections=20000, proxy=False, target_port=None, name=None, udp=False):
    """The daemon pair; to an hcbench server of its own, or to `target_port` (a real application, see apps.py).
    With `udp`, the same local and target port numbers are forwarded for UDP as well (port names `ctl` and `dgm`):
    iperf3 -u runs its control connection over TCP and its datagrams to the same port number."""
    label = f"hcbridge, {'TLS' if tls else 'ws://'}"
    if name is None:
        name = "hcbridge-tls" if tls else "hcbridge-ws"
        if proxy:
            name, label = name + "-squid", label + ", via squid"
    with Chain(name, label, env) as chain:
        server_port = target_port if target_port is not None else start_server(chain)
        endpoint = start_relay(chain, tls)
        daemon_env = env.child_env(HTTPS_PROXY=start_squid(chain), NO_PROXY="") if proxy else None
        common = [env.hcbridge, "-e", endpoint, "-K", KEY_NAME, "--key-file", env.key_file,
                  "--max-connections", str(max_connections), "--log-level", LOG_LEVEL]
        if tls:
            common += ["--ca-file", env.ca_file]
        local_port = free_port(udp_too=udp)
        if udp:
            targets = ["-T", f"{HC_NAME}:ctl/127.0.0.1:{server_port};dgm/127.0.0.1:{server_port}U"]
            locals_ = ["-L", f"127.0.0.1:{local_port}/ctl;127.0.0.1:{local_port}U/dgm:{HC_NAME}"]
        else:
            targets = ["-T", f"{HC_NAME}:127.0.0.1:{server_port}"]
            locals_ = ["-L", f"127.0.0.1:{local_port}:{HC_NAME}"]
        listener = chain.start("hcbridge -T", common + targets, env=daemon_env)
        listener.wait_for(lambda l: "control channel connected" in l, 15, "'control channel connected'")
        sender = chain.start("hcbridge -L", common + locals_, env=daemon_env)
        sender.wait_for(lambda l: "listening on" in l and "/udp" not in l, 15, "'listening on'")
        if udp:
            sender.wait_for(lambda l: "listening on" in l and "/udp" in l, 15, "'listening on .../udp'")
        chain.client_args = ["--connect", f"127.0.0.1:{local_port}"]
    return chain


def sas_token(uri, key_name, key, lifetime=3600):
    """A SAS token for `uri` as the Azure SDKs make it (HMAC-SHA256 over the encoded URI and the expiry)."""
    encoded = urllib.parse.quote_plus(uri)
    expiry = str(int(time.time()) + lifetime)
    sig = base64.b64encode(hmac.new(key.encode(), f"{encoded}\n{expiry}".encode(), hashlib.sha256).digest()).decode()
    return f"SharedAccessSignature sr={encoded}&sig={urllib.parse.quote_plus(sig)}&se={expiry}&skn={key_name}"


def hcbridge_http(env, target_port):
    """HC HTTP request mode: an HTTPS client -> hcrelay (TLS) -> hcbridge -H -> the web server on `target_port`.
    The client needs the URL and the token header: chain.http = {"url", "headers", "ca_file"}."""
    with Chain("http-tls", "hcbridge -H, TLS", env) as chain:
        endpoint = start_relay(chain, tls=True)
        listener = chain.start("hcbridge -H", [env.hcbridge, "-e", endpoint, "-K", KEY_NAME, "--key-file", env.key_file,
                                                "--ca-file", env.ca_file, "--log-level", LOG_LEVEL,
                                                "-H", f"{HC_NAME}:http/127.0.0.1:{target_port}"])
        # As deployed: info, so the access log line per request is part of the cost.
        listener.wait_for(lambda l: "control channel connected" in l, 15, "'control channel connected'")
        url = "https://" + endpoint.split("://", 1)[1] + HC_NAME + "/"
        chain.http = {"url": url, "ca_file": env.ca_file,
                      "headers": {"ServiceBusAuthorization": sas_token(url.replace("https://", "http://"), KEY_NAME,
                                                                       env.key)}}
    return chain


def node_peer(env, tls):
    name = "node-tls" if tls else "node-ws"
    with Chain(name, f"Node hyco-ws peer, {'TLS' if tls else 'ws://'}", env) as chain:
        server_port = start_server(chain)
        endpoint = start_relay(chain, tls).rstrip("/")
        node_env = env.child_env(NODE_PATH=os.path.join(env.root, "tests", "interop", "node_modules"),
                                 HCB_BENCH_KEY_NAME=KEY_NAME, HCB_BENCH_KEY=env.key)
        if tls:
            node_env["NODE_EXTRA_CA_CERTS"] = env.ca_file
        script = os.path.join(env.root, "bench", "peers", "node_forwarder.js")
        ready = lambda l: (json_line(l) or {}).get("event") == "ready"
        listener = chain.start("node -T", ["node", script, "-T", "--relay", endpoint, "--hc", HC_NAME,
                                           "--target", f"127.0.0.1:{server_port}"], env=node_env)
        listener.wait_for(ready, 15, "ready")
        local_port = free_port()
        sender = chain.start("node -L", ["node", script, "-L", "--relay", endpoint, "--hc", HC_NAME,
                                         "--port", str(local_port)], env=node_env)
        sender.wait_for(ready, 15, "ready")
        chain.client_args = ["--connect", f"127.0.0.1:{local_port}"]
    return chain


def relay_only(env, tls):
    name = "relay-tls" if tls else "relay-ws"
    with Chain(name, f"relay only (HC clients), {'TLS' if tls else 'ws://'}", env) as chain:
        endpoint = start_relay(chain, tls)
        start_server(chain, hc_endpoint=endpoint)
        chain.client_args = ["--hc-endpoint", endpoint, "--hc", HC_NAME, "--key-name", KEY_NAME,
                             "--ca-file", env.ca_file]
        chain.client_env = env.child_env(HCBENCH_KEY=env.key)
    return chain


CHAINS = {
    "direct": direct,
    "hcbridge-ws": lambda env: hcbridge(env, tls=False),
    "hcbridge-tls": lambda env: hcbridge(env, tls=True),
    "hcbridge-tls-squid": lambda env: hcbridge(env, tls=True, proxy=True),
    "node-ws": lambda env: node_peer(env, tls=False),
    "node-tls": lambda env: node_peer(env, tls=True),
    "relay-ws": lambda env: relay_only(env, tls=False),
    "relay-tls": lambda env: relay_only(env, tls=True),
}
