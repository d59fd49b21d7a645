"""The end-to-end rig through real JACK ports, for ``bench --e2e``, the soak and the e2e tests.

A JACK peer (a plain python-rtmidi client, standing in for the DAW) sends Start
and MIDI clock at 24 ppqn into "MIDI Assistant In", plays phrases in time with
that clock, and records what comes back on "MIDI Assistant Out" and "MIDI
Assistant Accepted" with arrival times. The assistant is the real
``midi-assistant run`` in its own process. Both sides stamp with
``time.perf_counter_ns`` (CLOCK_MONOTONIC), so times compare directly. What came
back is judged by :mod:`assistant.bench.judge`.

Threads: the timed sender runs on its own thread (sleep, then a short spin);
the peer's receive callbacks run on python-rtmidi's JACK thread and only stamp
and enqueue. Everything else runs on the caller's thread.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import mido

from ..music import TICKS_PER_QUARTER, Note

MS = 1_000_000
PULSES_PER_TICK = 24 // TICKS_PER_QUARTER  # MIDI clock: 24 per quarter; ours: 12


def now() -> int:
    return time.perf_counter_ns()


# ------------------------------------------------------------------ timed sending

DAW_AHEAD_NS = 50_000_000  # how early the frame-accurate peer hands its messages to JACK


class TimedSender:
    """Sends ``(ns, bytes)`` pairs at their times from one thread (sleep, then spin).

    ``ahead_ns`` > 0: ``send(data, ns)`` is called that much early with each item's
    time, for a port that places messages at their frame itself (as a DAW does, which
    renders its MIDI inside the cycle: never late). ``lateness_ns`` is then counted
    against ``latest_ns`` before the time, the last moment the port still places it on
    its frame (> 0: the message missed its frame).
    """

    def __init__(self, send, ahead_ns: int = 0, latest_ns: int | None = None):
        self._send = send
        self.ahead_ns = ahead_ns
        self.latest_ns = ahead_ns if latest_ns is None else latest_ns
        self._items: list[tuple[int, int, bytes]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._seq = 0
        self.lateness_ns: list[int] = []
        self.sent: list[tuple[int, list[int]]] = []  # (time, bytes) in the order sent
        self._thread = threading.Thread(target=self._run, name="timed-sender", daemon=True)
        self._thread.start()

    def add(self, items) -> None:
        with self._lock:
            for ns, data in items:
                self._seq += 1
                self._items.append((ns, self._seq, bytes(data)))
            self._items.sort()
        self._wake.set()

    def cancel_after(self, ns: int) -> None:
        with self._lock:
            self._items = [it for it in self._items if it[0] < ns]

    def idle(self) -> bool:
        with self._lock:
            return not self._items

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(2)

    def _run(self) -> None:
        while not self._stop:
            with self._lock:
                head = self._items[0] if self._items else None
            if head is None:
                self._wake.wait(0.05)
                self._wake.clear()
                continue
            due = head[0] - self.ahead_ns
            delay = due - now()
            if delay > 1 * MS:
                self._wake.wait((delay - 1 * MS) / 1e9)
                self._wake.clear()
                continue
            while now() < due:
                pass
            with self._lock:
                if not self._items or self._items[0] != head:
                    continue
                self._items.pop(0)
            if self.ahead_ns:
                self._send(list(head[2]), head[0])
            else:
                self._send(list(head[2]))
            self.sent.append((head[0], list(head[2])))
            self.lateness_ns.append(now() - (head[0] - self.latest_ns))


# ------------------------------------------------------------------ the peer (the "DAW")

class Peer:
    """A JACK client beside the assistant: sends into its input, records its outputs.

    ``frame_accurate`` (where the native module is built): it acts as a DAW does on
    JACK: it places what it sends at the frame of its time and stamps what it
    receives with the time of its frame (:mod:`assistant.midi.jackmidi`, one client).
    Otherwise plain python-rtmidi: sends go out at the start of the next cycle and
    the inputs poll (``assistant.midi.rtmidi_input.RtInput``), stamped when JACK's callback ran.
    """


    def __init__(self, client_prefix: str, our_input: str, outputs: dict[str, str], frame_accurate: bool = True):
        import rtmidi

        from ..midi import jackmidi
        from ..midi.rtmidi_input import RtInput

        self._inboxes: dict[str, queue.SimpleQueue] = {}
        self._ins = []
        probe = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=f"{client_prefix}-probe")
        probe_out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=f"{client_prefix}-probe-out")
        try:
            names, writable = probe.get_ports(), probe_out.get_ports()
        finally:
            probe.delete()
            probe_out.delete()
        self.frame_accurate = frame_accurate and jackmidi.available() is None
        self._native = None
        self._frame_zero = 0
        self.tx = None
        if self.frame_accurate:
            self._native = jackmidi.JackClient(client_prefix, frames_only=True)
            for label, port in outputs.items():
                inbox = queue.SimpleQueue()
                self._inboxes[label] = inbox
                self._ins.append(self._native.add_input(f"rx-{label}", inbox, connect_from=self._full_name(names, port)))
            tx = self._native.add_output("tx", connect_to=self._full_name(writable, our_input))
            self._ins.append(tx)
            self.tx_port = tx
            # handed 50 ms early, so that a late wake-up of this thread on a busy machine (25 ms
            # seen) cannot make the DAW's own clock late: a DAW's clock is exact to the frame
            latest = jackmidi.hand_over_ahead_ns(self._native.period_ms())
            self.sender = TimedSender(lambda data, ns: tx.send_bytes(bytes(data), ns),
                                      ahead_ns=max(latest, DAW_AHEAD_NS), latest_ns=latest)
            self.log: list[tuple[str, mido.Message, int]] = []
            return
        for label, port in outputs.items():
            inbox: queue.SimpleQueue = queue.SimpleQueue()
            self._inboxes[label] = inbox
            self._ins.append(RtInput("UNIX_JACK", inbox, self._full_name(names, port), virtual=False,
                                     client_name=f"{client_prefix}-rx-{label}", mode="poll",
                                     idle_poll_s=0.001))  # a measuring instrument: always fast
        self.tx = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=f"{client_prefix}-tx")
        self.tx.open_port(self._index(self.tx, our_input), "tx")
        self.sender = TimedSender(self.tx.send_message)
        self.log: list[tuple[str, mido.Message, int]] = []

    @staticmethod
    def _full_name(names: list[str], port: str) -> str:
        hits = [n for n in names if n.endswith(":" + port)]
        if len(hits) != 1:
            raise RuntimeError(f"port {port!r} not found once among {names}")
        return hits[0]

    @staticmethod
    def _index(rt, port: str) -> int:
        names = rt.get_ports()
        return names.index(Peer._full_name(names, port))

    def collect(self) -> list[tuple[str, mido.Message, int]]:
        """Everything received so far, by arrival time (also kept in ``log``)."""
        fresh = []
        for label, inbox in self._inboxes.items():
            while True:
                try:
                    msg, ns = inbox.get_nowait()
                except queue.Empty:
                    break
                fresh.append((label, msg, ns))
        self.log.extend(sorted(fresh, key=lambda item: item[2]))
        return self.log

    @property
    def frame_zero_ns(self) -> int | None:
        """When this client's time base put the server's frame 0 (its base never moves), to
        compare its stamps with the assistant's in frames; None without the native client."""
        if self._native is not None and not self._frame_zero:
            self._frame_zero = self._native.frame_zero_ns()
        return self._frame_zero or None

    def close(self) -> None:
        self.frame_zero_ns  # read while the client is open
        self.sender.close()
        for port in self._ins:
            port.close()
        if self.tx is not None:
            self.tx.close_port()
            self.tx.delete()


def wait_for_ports(names: list[str], timeout: float = 30.0) -> None:
    import rtmidi

    probe_in = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=f"probe-{uuid.uuid4().hex[:6]}")
    probe_out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=f"probe-{uuid.uuid4().hex[:6]}")
    try:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            have = probe_in.get_ports() + probe_out.get_ports()
            if all(any(h.endswith(":" + n) for h in have) for n in names):
                return
            time.sleep(0.1)
        raise RuntimeError(f"ports {names} did not appear within {timeout} s")
    finally:
        probe_in.delete()
        probe_out.delete()


# ------------------------------------------------------------------ the assistant process

@dataclass
class Assistant:
    proc: subprocess.Popen
    stats_path: Path
    session_dir: Path
    log_path: Path

    def stop(self, sig=signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def stats(self) -> dict:
        return json.loads(self.stats_path.read_text())

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_assistant(server: str, workdir: Path, settings: dict[str, object], model: str | None = None,
                    client: str | None = None, extra_args: tuple[str, ...] = ()) -> Assistant:
    """``midi-assistant run --no-ui`` on JACK server ``server`` with ``--set`` overrides
    (and ``extra_args`` for ``run``)."""
    client = client or f"ma-{uuid.uuid4().hex[:8]}"
    stats = workdir / "stats.json"
    sessions = workdir / "sessions"
    log_path = workdir / "assistant.log"
    args = [sys.executable, "-m", "assistant.cli", "run", "--no-ui", "--backend", "jack", "--client-name", client,
            "--stats", str(stats), "--seed", "1", "--set", f"session.folder={json.dumps(str(sessions))}"]
    for key, value in settings.items():
        args += ["--set", f"{key}={json.dumps(value)}"]
    if model:
        args += ["--model", model]
    args += list(extra_args)
    env = dict(os.environ, JACK_DEFAULT_SERVER=server, PYTHONUNBUFFERED="1")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
    return Assistant(proc, stats, sessions, log_path)


# ------------------------------------------------------------------ schedules

def pulse_ns(bpm: float) -> float:
    return 60e9 / (bpm * 24)


def tick_time(t0: int, bpm: float, tick: float) -> int:
    """When tick ``tick`` falls, for a clock whose first pulse (tick 0) was sent at ``t0``."""
    return round(t0 + tick * PULSES_PER_TICK * pulse_ns(bpm))


def clock_schedule(t0: int, bpm: float, beats: float, start: bool = True) -> list[tuple[int, list[int]]]:
    """Start just before ``t0``, then clock pulses from ``t0`` for ``beats`` quarter notes."""
    out = [(t0 - 2 * MS, [0xFA])] if start else []
    p = pulse_ns(bpm)
    out += [(round(t0 + k * p), [0xF8]) for k in range(int(beats * 24))]
    return out


def notes_schedule(t0: int, bpm: float, notes: list[Note], channel: int = 0) -> list[tuple[int, list[int]]]:
    out = []
    for n in notes:
        out.append((tick_time(t0, bpm, n.onset) + 1000, [0x90 | channel, n.pitch, n.velocity]))  # after the pulse
        out.append((tick_time(t0, bpm, n.end) - 1000, [0x80 | channel, n.pitch, 0]))
    return out


# ------------------------------------------------------------------ a session on the rig

PHRASE = [Note(o, d, p, 96) for o, d, p in [
    (0, 12, 67), (12, 12, 69), (24, 12, 71), (36, 12, 72), (48, 24, 74), (72, 12, 72), (84, 12, 71),
]]  # two bars of 4/4 at tick 0; ends at tick 96


class Rig:
    """A JACK server (ours or given), the assistant process and the peer, for one scenario.

    ``common_settings``: config overrides every rig of a benchmark run gets (main thread;
    ``bench --e2e --audio`` renders audio in the assistant under test with them)."""

    common_settings: dict = {}

    def __init__(self, server: str, settings: dict | None = None, model: str | None = None,
                 bpm: float = 120.0, workdir: Path | None = None, extra_args: tuple[str, ...] = ()):
        self.server = server
        self.bpm = bpm
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="midi-assistant-e2e-"))
        base = {"clock.source": "midi", "suggest.mode": "call", "suggest.answer_on": "bar",
                "suggest.phrase_end_beats": 1.0, "suggest.bars": 1, "humanise.timing_ms": 0,
                "humanise.velocity_spread": 0, "ports.input": "MIDI Assistant In",
                "ports.output": "MIDI Assistant Out", "ports.accepted": "MIDI Assistant Accepted"}
        base.update(Rig.common_settings)
        base.update(settings or {})
        self.settings = base
        os.environ["JACK_DEFAULT_SERVER"] = server
        self.assistant = start_assistant(server, self.workdir, base, model, extra_args=extra_args)
        try:
            wait_for_ports([base["ports.input"], base["ports.output"], base["ports.accepted"]])
        except RuntimeError:
            self.assistant.stop()
            raise RuntimeError("the assistant's ports did not appear; its log:\n" + self.assistant.log_text()[-3000:])
        self.peer = Peer(f"peer-{uuid.uuid4().hex[:6]}", base["ports.input"],
                         {"out": base["ports.output"], "accepted": base["ports.accepted"]})
        time.sleep(0.2)
        self.t0: int | None = None

    def start_clock(self, beats: float, lead_s: float = 0.3) -> int:
        self.t0 = now() + int(lead_s * 1e9)
        self.peer.sender.add(clock_schedule(self.t0, self.bpm, beats))
        return self.t0

    def play(self, notes: list[Note], at_tick: int, ahead_ns: int = 0) -> None:
        """Send ``notes`` from ``at_tick`` on, each ``ahead_ns`` before its tick's pulse (as
        a DAW sends its tracks' notes ahead of its clock by its output latency)."""
        shifted = [Note(n.onset + at_tick, n.duration, n.pitch, n.velocity) for n in notes]
        self.peer.sender.add([(t - ahead_ns, data) for t, data in notes_schedule(self.t0, self.bpm, shifted)])

    def send_at_tick(self, tick: float, data: list[int]) -> None:
        self.peer.sender.add([(tick_time(self.t0, self.bpm, tick) + 2000, data)])

    def time_of(self, tick: float) -> int:
        return tick_time(self.t0, self.bpm, tick)

    def tick_of(self, ns: int) -> float:
        return (ns - self.t0) / (PULSES_PER_TICK * pulse_ns(self.bpm))

    def wait_until_tick(self, tick: float) -> None:
        delay = (self.time_of(tick) - now()) / 1e9
        if delay > 0:
            time.sleep(delay)

    def close(self, sig=signal.SIGTERM) -> int:
        code = self.assistant.stop(sig)
        time.sleep(0.1)
        self.peer.collect()
        self.peer.close()
        return code


# ------------------------------------------------------------------ chords (harmony mode)

HARMONY_CHANNEL = 1  # suggest.harmony_channel 2 (the default), as mido numbers channels

# a C major phrase of quarters and eighths, four bars of 4/4 from tick 0 (ends at tick 192)
C_MAJOR_PHRASE = [Note(o, d, p, 96) for o, d, p in [
    (0, 12, 72), (12, 12, 76), (24, 12, 79), (36, 6, 76), (42, 6, 74),
    (48, 12, 72), (60, 6, 74), (66, 6, 76), (72, 12, 77), (84, 12, 74),
    (96, 12, 76), (108, 6, 77), (114, 6, 76), (120, 12, 74), (132, 12, 71),
    (144, 12, 72), (156, 6, 71), (162, 6, 74), (168, 12, 72), (180, 12, 72),
]]
