"""A JACK dummy server of the benchmarks' own, and a watch on its xruns.

Main thread starts and stops the server; :class:`XrunWatch` polls its log from a
thread of its own.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass
class JackServer:
    name: str
    proc: subprocess.Popen | None  # None: a server we did not start
    period_ns: int
    log: Path | None = None  # its output, where we started it

    def xruns(self) -> int | None:
        """Cycles the server itself ran late so far (its 'Process XRun' lines); None if unknown.
        After one, JACK's own frame-to-time mapping wanders by a few ms for seconds."""
        if self.log is None or not self.log.exists():
            return None
        return self.log.read_text(errors="replace").count("Process XRun")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        if self.log is not None:
            self.log.unlink(missing_ok=True)


class XrunWatch:
    """Notes when each XRun line appears in a server's log (polled every 5 ms, so each
    time is within about 5 ms after the xrun), from a thread of its own."""

    def __init__(self, log: Path | None):
        self._log = log
        self.times: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="xrun-watch", daemon=True)
        if log is not None:
            self._thread.start()

    def _run(self) -> None:
        seen = 0
        while not self._stop.wait(0.005):
            try:
                count = self._log.read_text(errors="replace").count("XRun")
            except OSError:
                continue
            self.times.extend([time.perf_counter_ns()] * (count - seen))  # the rig's clock
            seen = max(seen, count)

    def near(self, ns: int, window_ns: int = 200 * 1_000_000) -> list[float]:
        """The xruns within ``window_ns`` of ``ns``, as ms from it."""
        return [round((t - ns) / 1e6, 1) for t in self.times if abs(t - ns) <= window_ns]

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(1)


def start_dummy_jack(period: int = 64, rate: int = 48000, name: str | None = None) -> JackServer:
    """A realtime-mode jackd with the dummy driver under ``name`` (default: a unique one);
    raises if it cannot start."""
    jackd = shutil.which("jackd")
    if jackd is None:
        raise RuntimeError("jackd is not installed (Debian package jackd2)")
    name = name or f"midi-assistant-bench-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    log = Path(tempfile.gettempdir()) / f"{name}.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([jackd, "-n", name, "-d", "dummy", "-r", str(rate), "-p", str(period)],
                                stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"jackd exited with {proc.returncode}")
        r = subprocess.run(["jack_wait", "-s", name, "-c"], capture_output=True, text=True)
        if r.returncode == 0 and "not running" not in r.stdout:
            return JackServer(name, proc, period * 1_000_000_000 // rate, log)
        time.sleep(0.05)
    proc.kill()
    log.unlink(missing_ok=True)
    raise RuntimeError("jackd did not start within 10 s")


