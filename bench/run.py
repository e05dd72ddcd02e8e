#!/usr/bin/env python3
"""The benchmark harness of issue 6 (docs/benchmarks.md). Python 3 standard library only; loopback only.

Starts each chain from nothing (direct, hcbridge over ws:// and TLS, the Node hyco-ws peer over ws:// and TLS, the
relay alone over ws:// and TLS), measures it with hcbench, stops it, and then measures idle memory on fresh pairs.
Every ratio is against the direct chain of the same run. Prints a table and the pass/fail lines of the targets, and
writes RESULTS_DIR/<timestamp>.{json,csv,txt,png}.

  python3 bench/run.py                 the default set (about 3-4 minutes)
  python3 bench/run.py --smoke         a few seconds; exit code 1 unless every chain produced every figure
  python3 bench/run.py --chains direct,hcbridge-ws --no-memory --apps ''
  python3 bench/run.py --chains direct --no-memory --apps iperf3,redis,pgbench   the real applications only
"""
import argparse
import datetime
import os
import platform
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import apps, chains, measure, report  # noqa: E402
from harness.procs import ProcessFailed, stop_all  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# How long each figure runs. The default set stays under 5 minutes on a 2-core machine; smoke under ~30 s.
PROFILES = {
    "default": dict(seconds=3.0, probe_bytes=64 << 20,
                    lat_count=20000, lat_warmup=200, lat_seconds=3.0,
                    setup_count=20000, setup_seconds=3.0, setup_concurrency=16,
                    idle_concurrency=64, memory={"hcbridge-ws": [1000, 10000], "hcbridge-tls": [1000], "node-ws": [1000]},
                    app_seconds=5, redis_requests=100000, http_requests=20000, app_start_timeout=60),
    "smoke": dict(seconds=0.2, probe_bytes=4 << 20,
                  lat_count=300, lat_warmup=20, lat_seconds=0.5,
                  setup_count=100, setup_seconds=0.5, setup_concurrency=4,
                  idle_concurrency=16, memory={"hcbridge-ws": [50], "hcbridge-tls": [50], "node-ws": [50]},
                  app_seconds=1, redis_requests=2000, http_requests=300, app_start_timeout=60),
}
FIGURES = ("single", "parallel", "latency", "setup")
CLIENT_TIMEOUT = 60


def raise_fd_limit():
    """10,000 tunnels need ~20,000 descriptors in each daemon and the relay: take everything the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def exit_on_signal(signum, _frame):
    """SIGTERM, SIGINT, SIGHUP: unwind through the finally blocks, which stop every process the harness started.
    Further signals are ignored so that the clean-up itself is not cut short."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def git_commit():
    done = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def measure_chain(chain, p, direct=None):
    """Every figure for one chain. `direct`, when given, is the running direct chain: its latency is measured again
    right before this chain's, so the "added" latency compares two measurements seconds apart, not minutes."""
    out = {"label": chain.label, "errors": []}
    steps = {
        "single": lambda: measure.throughput(chain, 1, p["seconds"], p["probe_bytes"], CLIENT_TIMEOUT),
        "parallel": lambda: measure.throughput(chain, 16, p["seconds"], p["probe_bytes"], CLIENT_TIMEOUT),
        "latency_direct": lambda: measure.latency(direct, p["lat_count"], p["lat_warmup"], p["lat_seconds"],
                                                  CLIENT_TIMEOUT),
        "latency": lambda: measure.latency(chain, p["lat_count"], p["lat_warmup"], p["lat_seconds"],
                                           CLIENT_TIMEOUT),
        "setup": lambda: measure.setup_rate(chain, p["setup_count"], p["setup_seconds"], p["setup_concurrency"],
                                            CLIENT_TIMEOUT),
    }
    if direct is None:
        del steps["latency_direct"]
    for name, step in steps.items():
        try:
            out[name] = step()
        # OSError: /proc of a process that died meanwhile.
        except (measure.ClientFailed, ProcessFailed, subprocess.TimeoutExpired, OSError) as e:
            out["errors"].append(f"{name}: {e}")
    return out


def run_chain(name, env, work):
    """Starts chain `name`, runs work(chain), stops it; start-up failures and bad exit codes become errors."""
    try:
        chain = chains.CHAINS[name](env)
    except (ProcessFailed, RuntimeError) as e:
        return {"errors": [f"start: {e}"]}
    try:
        out = work(chain)
    finally:
        codes = chain.stop()
    # hcbench server exits 1 when a sink saw wrong bytes; daemons exit 0 on SIGTERM.
    bad = {role: code for role, code in codes.items() if code not in (0, -15)}
    if bad:
        out.setdefault("errors", []).append(f"exit codes after SIGTERM: {bad} (logs in {env.workdir})")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny version: checks the harness works, not the speed")
    ap.add_argument("--chains", default=",".join(chains.CHAINS),
                    help="comma-separated, from: " + ",".join(chains.CHAINS))
    ap.add_argument("--no-memory", action="store_true", help="skip the idle-tunnel memory runs")
    ap.add_argument("--apps", default=",".join(apps.APPS),
                    help="real applications through the TLS tunnel, comma-separated, from: " + ",".join(apps.APPS)
                    + " ('' for none)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="CMake build dir with src/ and bench/")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"), help="where results are written")
    ap.add_argument("--keep-logs", action="store_true", help="keep the work directory with every process's log")
    args = ap.parse_args()

    started = time.monotonic()
    p = PROFILES["smoke" if args.smoke else "default"]
    names = [n for n in args.chains.split(",") if n]
    unknown = [n for n in names if n not in chains.CHAINS]
    if unknown:
        ap.error(f"unknown chain(s): {', '.join(unknown)}")
    names = ["direct"] + [n for n in names if n != "direct"]  # every ratio needs it, measured first
    app_names = [n for n in args.apps.split(",") if n]
    unknown = [n for n in app_names if n not in apps.APPS]
    if unknown:
        ap.error(f"unknown application(s): {', '.join(unknown)}")
    for binary in ("src/hcrelay", "src/hcbridge", "bench/hcbench"):
        if not os.access(os.path.join(args.build, binary), os.X_OK):
            sys.exit(f"run.py: {os.path.join(args.build, binary)} missing: build first (bash bench/run.sh does)")

    nofile = raise_fd_limit()
    work = tempfile.mkdtemp(prefix="hcbench-")
    cert_dir = os.path.join(work, "certs")
    subprocess.run(["bash", os.path.join(ROOT, "tests", "support", "make-test-cert.sh"), cert_dir], check=True)
    env = chains.Env(ROOT, args.build, work, secrets.token_urlsafe(32), cert_dir)

    now = datetime.datetime.now(datetime.timezone.utc)
    results = {
        "meta": {"date": now.strftime("%Y-%m-%d %H:%M UTC"), "commit": git_commit(), "profile": "smoke" if args.smoke
                 else "default", "cpus": os.cpu_count(), "kernel": platform.release(), "nofile": nofile,
                 "log_level": chains.LOG_LEVEL, "loadavg_at_start": os.getloadavg()},
        "chains": {},
        "memory": {},
        "apps": {},
    }
    # The direct chain stays up during the others (an idle hcbench server costs nothing) for the latency baselines.
    print("== direct", file=sys.stderr, flush=True)
    direct = chains.direct(env)
    try:
        results["chains"]["direct"] = measure_chain(direct, p)
        for name in names[1:]:
            print(f"== {name}", file=sys.stderr, flush=True)
            results["chains"][name] = run_chain(name, env, lambda c: measure_chain(c, p, direct))
    finally:
        direct.stop()

    if not args.no_memory:
        for name, counts in p["memory"].items():
            if name not in names:
                continue
            print(f"== {name}: idle memory at {counts} tunnels", file=sys.stderr, flush=True)
            timeout = 120 if not args.smoke else 30
            results["memory"][name] = run_chain(
                name, env, lambda c: measure.idle_memory(c, counts, p["idle_concurrency"], timeout))

    for name in app_names:
        print(f"== {name} through the TLS tunnel and direct", file=sys.stderr, flush=True)
        results["apps"][name] = apps.measure_app(env, name, p)

    report.derive(results)
    results["targets"] = report.targets(results)
    results["tls_targets"] = report.tls_targets(results)
    results["meta"]["seconds"] = round(time.monotonic() - started, 1)
    stem = now.strftime("%Y%m%dT%H%M%SZ") + ("-smoke" if args.smoke else "")
    base, png = report.write_all(results, args.out, stem, work)
    print(report.render(results))
    print(f"results: {base}.json .csv .txt" + (" .png" if png else " (no gnuplot: no plot)"))
    print(f"took {results['meta']['seconds']} s")

    problems = [f"{n}: {e}" for n, r in results["chains"].items() for e in r.get("errors", [])]
    problems += [f"{n}: missing {f}" for n, r in results["chains"].items() for f in FIGURES if f not in r]
    problems += [f"memory {n}: {e}" for n, r in results["memory"].items() for e in r.get("errors", [])]
    problems += [f"{n}: {e}" for n, r in results["apps"].items() for e in r.get("errors", [])]
    if args.keep_logs or problems:
        print(f"logs: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if args.smoke and problems:
        print("smoke FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, exit_on_signal)
    try:
        sys.exit(main())
    finally:
        stop_all()  # whatever an exception or a signal left running
