"""What a process costs, read from Linux's /proc: its private memory, its CPU seconds, and
a reference client's idle CPU beside ours (JACK's own ``jack_midi_dump``). For the e2e
benchmark and the soak; the caller's thread.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time


def read_process_memory(pid: int) -> dict:
    """Private and RSS memory of ``pid`` in MB (Linux /proc)."""
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            fields = {line.split(":")[0]: int(line.split()[1]) for line in f if line.split()[-1] == "kB"}
        out["private_mb"] = round((fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)) / 1024, 1)
        out["rss_mb"] = round(fields.get("Rss", 0) / 1024, 1)
    except OSError:
        pass
    return out


def reference_idle_cpu(server: str, our_pid: int, seconds: float = 10.0) -> dict | None:
    """The floor under ``idle_cpu_pct`` on this machine: JACK's own minimal MIDI client
    (``jack_midi_dump``, C, a process callback and nothing else) measured over the same
    kind of window, beside ours. JACK wakes every client once a period, so no client can
    idle below what this one costs; on a VM a cross-CPU wake-up is far dearer than on
    bare metal. None where ``jack_midi_dump`` is not installed."""
    dump = shutil.which("jack_midi_dump")
    if dump is None:
        return None
    env = {**os.environ, "JACK_DEFAULT_SERVER": server, "JACK_NO_START_SERVER": "1"}
    proc = subprocess.Popen([dump], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    try:
        time.sleep(2.0)
        if proc.poll() is not None:
            return None
        r0, o0, w0 = process_cpu_seconds(proc.pid), process_cpu_seconds(our_pid), time.monotonic()
        time.sleep(seconds)
        wall = time.monotonic() - w0
        return {"client": "jack_midi_dump", "pct": round((process_cpu_seconds(proc.pid) - r0) / wall * 100, 2),
                "ours_same_window_pct": round((process_cpu_seconds(our_pid) - o0) / wall * 100, 2)}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def process_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
