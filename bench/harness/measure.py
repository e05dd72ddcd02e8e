"""The figures, each measured on a running chain with hcbench as the client.

CPU seconds per GiB come from the utime+stime each chain process spent during a throughput run, divided by the bytes
moved; memory from VmRSS. Throughput runs are sized from a short probe so each lasts about `seconds`.
"""
import subprocess

from .chains import json_line
from .procs import Proc, ProcessFailed

GIB = 1 << 30
MIB = 1 << 20


class ClientFailed(RuntimeError):
    pass


def run_client(chain, mode, args, timeout):
    """Runs `hcbench MODE` against the chain and returns its JSON result line (raises if it failed)."""
    argv = [chain.env.hcbench, mode] + chain.client_args + args + ["--timeout", str(timeout)]
    done = subprocess.run(argv, env=chain.client_env, capture_output=True, text=True, timeout=timeout + 30)
    results = [json_line(l) for l in done.stdout.splitlines() if json_line(l)]
    result = results[-1] if results else {}
    if done.returncode != 0 or not result or result.get("error") or result.get("errors"):
        detail = result.get("error") or result.get("errors") or done.stderr.strip()[-300:]
        raise ClientFailed(f"{chain.name}: hcbench {mode} failed (exit {done.returncode}): {detail}")
    return result


def throughput(chain, streams, seconds, probe_bytes, timeout):
    """Aggregate MB/s over `streams` parallel verified streams, and CPU seconds per GiB of each chain process."""
    probe_args = ["--streams", str(streams), "--bytes", str(probe_bytes // streams)]
    probe = run_client(chain, "throughput", probe_args, timeout)
    rate = probe["mb_per_s"] * 1e6
    per_stream = max(MIB, int(rate * seconds / streams))
    before = {role: p.cpu_seconds() for role, p in chain.measured().items()}
    result = run_client(chain, "throughput", ["--streams", str(streams), "--bytes", str(per_stream)], timeout)
    gib = result["bytes"] / GIB
    cpu = {role: (p.cpu_seconds() - before[role]) / gib for role, p in chain.measured().items()}
    return {"mb_per_s": result["mb_per_s"], "bytes": result["bytes"], "seconds": result["seconds"],
            "cpu_s_per_gib": cpu}


def latency(chain, count, warmup, seconds, timeout):
    r = run_client(chain, "latency", ["--count", str(count), "--warmup", str(warmup), "--seconds", str(seconds),
                                      "--size", "64"], timeout)
    return {k: r[k] for k in ("round_trips", "p50_us", "p90_us", "p99_us", "max_us")}


def setup_rate(chain, count, seconds, concurrency, timeout):
    r = run_client(chain, "setup", ["--count", str(count), "--seconds", str(seconds),
                                    "--concurrency", str(concurrency)], timeout)
    return {k: r[k] for k in ("connections", "per_second", "p50_us", "p99_us")}


def idle_memory(chain, counts, concurrency, timeout):
    """Baseline RSS of each chain process, then RSS per idle tunnel with `count` tunnels open, for each count.

    The tunnels are opened by `hcbench idle` (one round trip each), measured once all are open, then released by
    closing its stdin. Failures are reported with the error texts, not raised: the daemons' limits are a finding.
    """
    procs = chain.measured()
    base = {role: p.memory_kib() for role, p in procs.items()}
    out = {"baseline_kib": {role: m["VmRSS"] for role, m in base.items()},
           "baseline_private_kib": {role: m.get("Private") for role, m in base.items()}, "runs": []}
    for count in counts:
        # hcbench gives up a little before we do, so its own error line says what was still pending.
        argv = [chain.env.hcbench, "idle"] + chain.client_args + [
            "--count", str(count), "--concurrency", str(concurrency), "--timeout", str(max(1, timeout - 5))]
        client = Proc(f"{chain.name} idle {count}", argv, chain.env.workdir, env=chain.client_env, stdin=True)
        run = {"requested": count}
        try:
            ready = client.wait_for(lambda l: (json_line(l) or {}).get("event") in ("ready", "error") and json_line(l),
                                    timeout, "all tunnels open")
            errors = ready.get("errors", {}) if ready["event"] == "ready" else {"hcbench": ready.get("error")}
            run.update(open=ready.get("open", 0), failed=ready.get("failed", count), errors=errors,
                       open_seconds=ready.get("seconds", 0))
            after = {role: p.memory_kib()["VmRSS"] for role, p in procs.items()}
            run["rss_kib"] = after
            run["kib_per_tunnel"] = {role: (after[role] - out["baseline_kib"][role]) / max(1, run["open"])
                                     for role in procs}
            run["alive"] = {role: p.alive() for role, p in procs.items()}
        except (ProcessFailed, OSError) as e:  # a chain process died, or hcbench said nothing in time
            run.update(open=0, failed=count, errors={"harness": str(e)})
        finally:
            client.close_stdin()
            try:
                client.wait_for(lambda l: (json_line(l) or {}).get("event") == "released", 60, "release")
            except Exception:  # noqa: BLE001 - the measurement above is what counts; stop() below cleans up
                pass
            client.stop()
        out["runs"].append(run)
    return out
