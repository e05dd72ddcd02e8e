#!/usr/bin/env python3
"""A daemon whose log reader goes away keeps running and still exits cleanly.

hcbridge and hcrelay log to stderr; under `... 2>&1 | tee file`, a log shipper, or a container runtime that restarts
its reader, that is a pipe whose reader can vanish. The next log line must not kill the daemon with SIGPIPE.

    broken_pipe.py HCBRIDGE_BIN HCRELAY_BIN

Each program is started with stderr on a pipe; after its first ready line the test closes the read end, makes the
program log (a client whose tunnel cannot be opened; for hcrelay, a request that is not HTTP), checks that the
process is still alive, then sends SIGTERM (which logs too) and expects exit code 0.
"""
import os
import select
import signal
import socket
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_until(proc, needle, seconds=10):
    """Reads stderr lines until one contains `needle` (bounded in time)."""
    deadline = time.monotonic() + seconds
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.1)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
            if needle in seen:
                return
    raise AssertionError(f"no '{needle.decode()}' in the log: {seen.decode(errors='replace')}")


def poke(port, data=b""):
    """Connects to 127.0.0.1:port, sends `data`, and waits until the peer closes (bounded)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        if data:
            s.sendall(data)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass


def check(name, argv, ready, port, data):
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        read_until(proc, ready)
        proc.stderr.close()  # the reader is gone: the next log line meets a broken pipe
        for _ in range(3):
            try:
                poke(port, data)
            except OSError:
                break  # refused: the process is gone (said below)
        if proc.poll() is not None:
            raise AssertionError(f"{name} died after its log reader went away: exit {proc.returncode}"
                                 f" ({'SIGPIPE' if proc.returncode == -signal.SIGPIPE else 'not SIGPIPE'})")
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=20)
        if rc != 0:
            raise AssertionError(f"{name} exited with {rc} after SIGTERM, not 0"
                                 f"{' (SIGPIPE)' if rc == -signal.SIGPIPE else ''}")
        print(f"ok - {name}: alive after its log reader went away, exit 0 on SIGTERM")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main():
    hcbridge, hcrelay = sys.argv[1], sys.argv[2]
    failures = 0
    port = free_port()
    relay_port = free_port()  # nothing listens there: every tunnel fails and says so in the log
    cases = [
        ("hcbridge -L", [hcbridge, "-e", f"ws://127.0.0.1:{relay_port}/", "--no-auth", "--connect-timeout", "2",
                         "-L", f"127.0.0.1:{port}:pipe"], b"listening on", port, b""),
        ("hcrelay", [hcrelay, "--bind", f"127.0.0.1:{relay_port}", "--no-auth", "--log-level", "debug"],
         b"hcrelay listening", relay_port, b"NOT HTTP\r\n\r\n"),
    ]
    for name, argv, ready, p, data in cases:
        try:
            check(name, argv, ready, p, data)
        except AssertionError as e:
            print(f"not ok - {e}")
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
