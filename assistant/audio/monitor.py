"""Live sound: messages posted with their times, played from an audio thread.

:class:`AudioMonitor` holds what is posted (by :class:`assistant.audio.tap.AudioTap`
from the scheduler thread, and by the engine thread for the player's notes) and, in
each audio block, plays every message due in that block at its own frame. An output
drives it: :class:`DeviceOutput` (a ``sounddevice`` stream on the audio device) or
:class:`PacedOutput` (a thread of ours at the audio pace, with no device: for the
benchmark, the tests and a machine without a sound card).

Threading: ``post``, ``forget`` and ``silence`` may be called from any thread; they
take the monitor's lock for a heap push. ``fill`` runs on the audio thread only, takes
the lock just to pop what is due, and renders outside it (tinysoundfont: about 10 us
a block), so the MIDI threads never wait on rendering and the GIL is held briefly.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time

import mido
import numpy as np

from ..clock import now_ns
from ..errors import UserError

log = logging.getLogger(__name__)

BLOCK_FRAMES = 256  # 5.3 ms at 48 kHz
NULL_DEVICE = "null"  # audio.device: render at the audio pace without a device


class AudioMonitor:
    """Plays posted messages at their times (see the module docstring)."""

    def __init__(self, voices, *, now=now_ns):
        self.voices = voices
        self.rate = voices.rate
        self.now = now
        self._pending: list[tuple[int, int, mido.Message, object]] = []  # (at_ns, seq, msg, key)
        self._latest = 0  # the latest time posted and not taken back (what played is past): keeps post O(log n)
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self.played = 0  # messages played (audio thread)
        self.late = 0  # messages played more than a block after their time
        self.blocks = 0
        self.render_ns_max = 0  # the longest block render, ns
        # how late a message sent now can be heard at the soonest: the output's latency
        # and one block (it may come just after a block was rendered); set by the output
        self.delay_ns = 0

    # -- any thread -------------------------------------------------------------------
    def post(self, msg: mido.Message, at_ns: int = 0, key=None) -> None:
        """Play ``msg`` at ``at_ns`` (now_ns, for a message handed over ahead of its
        time); 0: a message sent now, played ``delay_ns`` from now but never before
        what was posted before it (as a timed port does: a note-off never overtakes
        its note-on). ``key``: what :meth:`forget` takes it back by."""
        with self._lock:
            if at_ns <= 0:
                at_ns = max(self.now() + self.delay_ns, self._latest)
            self._latest = max(self._latest, at_ns)
            heapq.heappush(self._pending, (at_ns, next(self._seq), msg, key))

    def post_player(self, msg: mido.Message, _stamped_ns: int = 0) -> None:
        """Play the player's message as soon as the output can (``delay_ns`` from now),
        whatever is pending: it comes from another source than what the ports are sent."""
        with self._lock:
            heapq.heappush(self._pending, (self.now() + self.delay_ns, next(self._seq), msg, None))

    def forget(self, keys) -> None:
        """Take back the posted messages with these keys that have not played."""
        keys = set(keys)
        if not keys:
            return
        with self._lock:
            kept = [e for e in self._pending if e[3] not in keys]
            if len(kept) != len(self._pending):
                heapq.heapify(kept)
                self._pending = kept
                self._latest = max((e[0] for e in kept), default=0)

    def silence(self) -> None:
        """Drop what is pending and stop every sound at once (panic, shut-down)."""
        with self._lock:
            self._pending.clear()
            self._latest = 0
            for channel in range(16):
                heapq.heappush(self._pending, (0, next(self._seq),
                                               mido.Message("control_change", channel=channel, control=120), None))

    # -- the audio thread ------------------------------------------------------------
    def fill(self, frames: int, start_ns: int) -> np.ndarray:
        """The (frames, 2) float32 block heard from ``start_ns`` on: each message due
        before its end played at its own frame (a late one at the block's start)."""
        began = time.perf_counter_ns()
        end_ns = start_ns + frames * 1_000_000_000 // self.rate
        late_before = start_ns - (end_ns - start_ns)
        due = []
        with self._lock:
            while self._pending and self._pending[0][0] < end_ns:
                due.append(heapq.heappop(self._pending))
        out = np.empty((frames, 2), dtype=np.float32)
        done = 0
        voices = self.voices
        for at_ns, _, msg, _ in due:
            frame = ((at_ns - start_ns) * self.rate + 500_000_000) // 1_000_000_000  # nearest frame
            if frame < 0:
                self.late += 0 < at_ns < late_before  # (0: silence, due at once)
                frame = 0
            frame = min(frame, frames)
            if frame > done:
                out[done:frame] = voices.render(frame - done)
                done = frame
            try:
                voices.handle(msg)
            except Exception:  # a message the synth refuses is skipped, never the thread
                log.debug("audio: skipped %s", msg, exc_info=True)
            self.played += 1
        if frames > done:
            out[done:] = voices.render(frames - done)
        self.blocks += 1
        took = time.perf_counter_ns() - began
        if took > self.render_ns_max:
            self.render_ns_max = took
        return out


class PacedOutput:
    """Drives a monitor from a thread of ours, one block per block period on absolute
    deadlines, with no device, each block heard (as a device would play it) one block
    after it is rendered; ``keep=True`` keeps what was rendered (tests)."""

    def __init__(self, monitor: AudioMonitor, block_frames: int = BLOCK_FRAMES, keep: bool = False):
        self.monitor = monitor
        self.block_frames = block_frames
        self.description = f"no device (rendered at the audio pace, {block_frames}-frame blocks)"
        self.kept: list[np.ndarray] = [] if keep else None
        monitor.delay_ns = 2 * block_frames * 1_000_000_000 // monitor.rate  # heard a block after rendering
        self.started_ns = 0  # the time the first kept frame is heard at
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audio", daemon=True)

    def start(self) -> "PacedOutput":
        self._thread.start()
        return self

    def _run(self) -> None:
        monitor, frames = self.monitor, self.block_frames
        period_ns = frames * 1_000_000_000 // monitor.rate
        deadline = monitor.now()
        # each block is heard one block after it is rendered, as a device's buffer plays it
        self.started_ns = deadline + period_ns
        while not self._stop.is_set():
            block = monitor.fill(frames, deadline + period_ns)
            if self.kept is not None:
                self.kept.append(block.copy())
            deadline += period_ns
            wait = (deadline - monitor.now()) / 1e9
            if wait > 0:
                self._stop.wait(wait)

    def samples(self) -> np.ndarray:
        return np.concatenate(self.kept) if self.kept else np.zeros((0, 2), np.float32)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)


class DeviceOutput:
    """Drives a monitor from a ``sounddevice`` output stream's callback (PortAudio's
    audio thread): each block is placed at the time PortAudio says it will be heard."""

    def __init__(self, monitor: AudioMonitor, device=None, block_frames: int = BLOCK_FRAMES):
        sd = import_sounddevice()
        self.monitor = monitor
        self.errors = 0
        try:
            info = sd.query_devices(device, kind="output")
            self.stream = sd.OutputStream(samplerate=monitor.rate, blocksize=block_frames, device=device,
                                          channels=2, dtype="float32", latency="low", callback=self._callback)
        except (sd.PortAudioError, ValueError) as exc:
            raise UserError(f"audio: no audio output device{f' {device!r}' if device else ''} ({exc}): "
                            "connect one or pick another with --audio-device (see python -m sounddevice); "
                            "MIDI output works without --audio") from exc
        self.description = f"{info['name']} ({self.stream.latency * 1e3:.1f} ms output latency)"
        monitor.delay_ns = round(self.stream.latency * 1e9) + block_frames * 1_000_000_000 // monitor.rate

    def _callback(self, outdata, frames, time_info, status) -> None:
        try:
            heard_in_ns = round((time_info.outputBufferDacTime - time_info.currentTime) * 1e9)
            outdata[:] = self.monitor.fill(frames, self.monitor.now() + max(0, heard_in_ns))
        except Exception:  # never raise into PortAudio's thread: play silence and count it
            self.errors += 1
            outdata.fill(0)

    def start(self) -> "DeviceOutput":
        self.stream.start()
        return self

    def close(self) -> None:
        try:
            self.stream.stop()
            self.stream.close()
        except Exception:
            log.debug("audio: closing the stream failed", exc_info=True)


def import_sounddevice():
    """``sounddevice``, or a UserError naming the missing PortAudio library."""
    try:
        import sounddevice
    except OSError as exc:  # sounddevice raises OSError when it cannot load PortAudio
        raise UserError(f"audio: the PortAudio library is missing ({exc}): apt-get install libportaudio2 "
                        "(macOS: brew install portaudio); MIDI output works without --audio") from exc
    return sounddevice


def open_output(monitor: AudioMonitor, device: str = ""):
    """The started output for ``device`` ("" the default device, "null" none)."""
    if device == NULL_DEVICE:
        return PacedOutput(monitor).start()
    chosen = int(device) if device.isdigit() else (device or None)
    return DeviceOutput(monitor, chosen).start()
