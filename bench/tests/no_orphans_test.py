#!/usr/bin/env python3
"""bench.no_orphans: the benchmark harness stops every process it started, on every exit path.

Each case runs bench/run.py --smoke with a marker variable in its environment (inherited by everything the harness
starts) and then scans /proc for processes that carry the marker:
  broken chain   `node` on PATH is a stub that exits at once (as when the npm packages are missing), so the node-ws
                 chain fails to start after its hcbench server and hcrelay are up: run.py must fail (exit 1) and
                 leave nothing running
  SIGTERM        run.py is sent SIGTERM while the hcbridge-ws chain is running: it must exit and leave nothing
  SIGKILL        run.py is killed outright: its children must still go (they are told to when their parent dies)
  apps SIGTERM   as SIGTERM, while the real-application section runs PostgreSQL (as nobody, with its backends)
Usage: no_orphans_test.py BUILD_DIR
"""
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_PY = os.path.join(os.path.dirname(HERE), "run.py")
BUILD = os.path.abspath(sys.argv[1])
failed = []
SCRATCH = tempfile.mkdtemp(prefix="hcb-orphans-")   # results and the node stub; removed at the end


def check(cond, msg):
    print(("ok:   " if cond else "FAIL: ") + msg, flush=True)
    if not cond:
        failed.append(msg)


def marked(marker):
    """PID -> exe of every process whose environment holds HCB_ORPHAN_MARKER=marker."""
    found = {}
    needle = f"HCB_ORPHAN_MARKER={marker}".encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
            found[int(pid)] = os.readlink(f"/proc/{pid}/exe")
        except OSError:   # gone meanwhile, or a zombie
            continue
    return found


def wait_until(cond, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    return cond()


def start(marker, chains, path_prefix=None, apps=""):
    env = dict(os.environ, HCB_ORPHAN_MARKER=marker)
    if path_prefix:
        env["PATH"] = path_prefix + os.pathsep + env["PATH"]
    out = os.path.join(SCRATCH, "results-" + marker)
    return subprocess.Popen([sys.executable, RUN_PY, "--smoke", "--no-memory", "--chains", chains, "--apps", apps,
                             "--build", BUILD, "--out", out], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def leftovers(marker):
    # The harness has exited; its children get at most the harness's own stop timeout to go.
    return wait_until(lambda: not marked(marker), 15) or marked(marker)


def kill_all(found):
    for pid in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def case_broken_chain(stub_dir):
    marker = secrets.token_hex(8)
    proc = start(marker, "node-ws", path_prefix=stub_dir)
    out, _ = proc.communicate(timeout=120)
    check(proc.returncode == 1, f"broken chain: run.py exits 1 (got {proc.returncode})")
    check("node -T ended before ready" in out, "broken chain: the failure names the node -T start")
    left = leftovers(marker)
    check(left is True, f"broken chain: no process left behind (left: {left if left is not True else {}})")
    if left is not True:
        kill_all(left)


def command_line(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def case_signal(sig, chains="hcbridge-ws", apps="", waits_for=None):
    """Signals run.py once a process whose command line holds `waits_for` (hcrelay's path unless given) runs under
    it."""
    marker = secrets.token_hex(8)
    proc = start(marker, chains, apps=apps)
    needle = waits_for or os.path.join(BUILD, "src", "hcrelay")
    up = wait_until(lambda: any(needle in command_line(pid) for pid in marked(marker)), 60)
    check(bool(up), f"{sig.name}: '{needle}' started under run.py ({chains}, apps: {apps or 'none'})")
    proc.send_signal(sig)
    try:
        proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        check(False, f"{sig.name}: run.py did not exit within 60 s")
    left = leftovers(marker)
    check(left is True, f"{sig.name}: run.py exited ({proc.returncode}) and left no process behind "
          f"(left: {left if left is not True else {}})")
    if left is not True:
        kill_all(left)


def main():
    for binary in ("src/hcrelay", "src/hcbridge", "bench/hcbench"):
        if not os.access(os.path.join(BUILD, binary), os.X_OK):
            print(f"FAIL: {binary} not built in {BUILD}")
            return 1
    stub_dir = os.path.join(SCRATCH, "nonode")
    os.mkdir(stub_dir)
    with open(os.path.join(stub_dir, "node"), "w") as f:
        f.write("#!/bin/sh\necho \"Error: Cannot find module 'hyco-ws' (stub: the npm packages are missing)\" >&2\n"
                "exit 1\n")
    os.chmod(os.path.join(stub_dir, "node"), 0o755)
    try:
        case_broken_chain(stub_dir)
        case_signal(signal.SIGTERM)
        case_signal(signal.SIGKILL)
        # The application section: postgres (run as nobody, with its own backends) must go too.
        # (its server, not initdb's bootstrap postgres: only the server gets listen_addresses)
        case_signal(signal.SIGTERM, chains="direct", apps="pgbench", waits_for="listen_addresses=")
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    print(f"{len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
