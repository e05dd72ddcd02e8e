"""Child processes of the benchmark: start, wait for a line that says "ready", sample CPU time and memory, stop.

Every wait is for an event (a line on stdout or stderr) with a deadline; nothing sleeps to let things settle.
Nothing outlives the harness: every Proc is registered until stopped and stop_all() (run.py calls it on every exit
path, signals included) stops the rest; and each child is told by the kernel to terminate when the harness dies
without cleaning up (SIGKILL), through PR_SET_PDEATHSIG.
"""
import ctypes
import os
import signal
import subprocess
import threading
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_running = set()          # every Proc not yet stopped
_running_lock = threading.Lock()


def _die_with_parent():
    """In the child before exec: SIGTERM when the harness's thread that started it ends (run.py starts them all from
    its main thread). Lost if the harness died between fork and this call: then its parent is init already."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_all():
    """Stops every Proc still running (newest first); for the exit paths that skipped the normal stops."""
    with _running_lock:
        left = sorted(_running, key=lambda proc: proc.started, reverse=True)
    for proc in left:
        proc.stop()


class ProcessFailed(RuntimeError):
    pass


class Proc:
    """A child whose stdout and stderr lines are kept (and copied to WORKDIR/NAME.log) so callers can wait on them."""

    def __init__(self, name, argv, workdir, env=None, stdin=False, stop_signal=signal.SIGTERM):
        self.name = name
        self.stop_signal = stop_signal
        self.log_path = os.path.join(workdir, name.replace(" ", "_") + ".log")
        self._log = open(self.log_path, "w", encoding="utf-8")
        self.p = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            bufsize=1,
            preexec_fn=_die_with_parent,
        )
        self.started = time.monotonic()
        with _running_lock:
            _running.add(self)
        self.lines = []
        self._cond = threading.Condition()
        self._open_streams = 2
        for stream in (self.p.stdout, self.p.stderr):
            threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream):
        for line in stream:
            with self._cond:
                self._log.write(line)
                self._log.flush()
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._open_streams -= 1
            self._cond.notify_all()

    def wait_for(self, test, timeout, what):
        """Returns test(line) for the first line where it is truthy; raises when the child ends or time is up."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    result = test(line)
                    if result:
                        return result
                seen = len(self.lines)
                if self._open_streams == 0:
                    raise ProcessFailed(f"{self.name} ended before {what}: {self.tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ProcessFailed(f"{self.name}: no {what} within {timeout} s: {self.tail()}")
                self._cond.wait(left)

    def tail(self, n=5):
        return " | ".join(self.lines[-n:])

    def cpu_seconds(self):
        """utime + stime of every thread so far, from /proc/PID/stat (fields 14 and 15)."""
        with open(f"/proc/{self.p.pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def memory_kib(self):
        """{'VmRSS': KiB, 'VmHWM': KiB} from /proc/PID/status."""
        out = {}
        with open(f"/proc/{self.p.pid}/status", encoding="ascii") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])
        # Private pages: what this process alone costs. VmRSS also counts shared library code (libcrypto's pages
        # are shared with every process that uses OpenSSL), which is why both are reported.
        try:
            with open(f"/proc/{self.p.pid}/smaps_rollup", encoding="ascii") as f:
                out["Private"] = sum(int(line.split()[1]) for line in f
                                     if line.startswith(("Private_Clean:", "Private_Dirty:")))
        except OSError:
            pass
        return out

    def alive(self):
        return self.p.poll() is None

    def close_stdin(self):
        if self.p.stdin:
            self.p.stdin.close()

    def stop(self, timeout=10):
        """stop_signal (SIGTERM unless given), then SIGKILL if it is still there after `timeout` seconds; returns the
        exit code."""
        if self.p.poll() is None:
            self.p.send_signal(self.stop_signal)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        with self._cond:
            self._cond.wait_for(lambda: self._open_streams == 0, timeout=5)
        self._log.close()
        with _running_lock:
            _running.discard(self)
        return self.p.returncode
