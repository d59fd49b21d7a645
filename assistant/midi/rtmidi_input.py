"""An input port through python-rtmidi, stamped as it arrives.

Threading: on ALSA, CoreMIDI and Windows python-rtmidi's callback thread calls the
stamper, which stamps (:func:`assistant.clock.now_ns`), parses and puts ``(msg, ns)``
on the inbox, nothing else. On JACK no Python may run on JACK's realtime thread, so a
``midi-in`` reader thread of ours polls python-rtmidi's queue and stamps each batch
with :class:`ArrivalStamps`. Open and close from the main thread.
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from collections import deque
from typing import Callable

from ..clock import now_ns
from .wire import WireDecoder

log = logging.getLogger(__name__)


def _stamper(inbox: queue.SimpleQueue, decode: WireDecoder) -> Callable:
    """The input callback (runs on the MIDI thread, holding the GIL): stamp first,
    then decode the bytes into a mido Message (junk is counted and dropped) and
    enqueue ``(msg, ns)``. Nothing else; it never raises."""
    put, stamp = inbox.put, now_ns

    def on_midi(event, _data=None) -> None:
        ns = stamp()
        try:
            msg = decode(event[0])
        except Exception:  # a malformed event tuple from the backend: junk, never a dead thread
            msg = decode(b"")
        if msg is not None:
            put((msg, ns))

    return on_midi


def poll_interval(fast_s: float, idle_s: float, quiet_ns: int, hold_s: float) -> float:
    """The reader's next wait: ``fast_s`` until input has been quiet for ``hold_s``."""
    return fast_s if quiet_ns < hold_s * 1e9 else idle_s


class ArrivalStamps:
    """Rebuilds arrival times (:func:`now_ns` scale) from RtMidi's delta times.

    RtMidi timestamps each message in the backend's thread (on JACK with
    ``jack_get_time()`` in the process cycle) and hands out only the delta to
    the previous message. The deltas, summed in whole microseconds, give each
    message's time up to one unknown offset; every poll that finds messages
    bounds that offset from above (they arrived before the poll returned), and
    the smallest bound over a sliding window is the estimate. It converges to
    within a few microseconds of the poll that came soonest after an arrival,
    and the window lets it follow a slow drift between the two clocks. Used by
    one reader thread only.
    """

    def __init__(self, window_ns: int = 10 * 1_000_000_000):
        self.window_ns = window_ns
        self._chain_ns = 0
        self._started = False
        self._bounds: deque[tuple[int, int]] = deque()  # (poll_ns, bound), bounds increasing

    def stamp_batch(self, deltas_s: list[float], poll_ns: int) -> list[int]:
        """Stamps for messages with these deltas, all read before ``poll_ns``."""
        chains = []
        for delta in deltas_s:
            if self._started:
                self._chain_ns += round(delta * 1_000_000) * 1000
            self._started = True
            chains.append(self._chain_ns)
        bound = poll_ns - chains[-1]
        bounds = self._bounds
        while bounds and bounds[-1][1] >= bound:
            bounds.pop()
        bounds.append((poll_ns, bound))
        while bounds[0][0] < poll_ns - self.window_ns:
            bounds.popleft()
        offset = bounds[0][1]
        return [offset + c for c in chains]


class RtInput:
    """An input port on python-rtmidi with mido's ``name``/``close()``; feeds ``inbox``.

    ``mode`` 'callback': python-rtmidi calls :func:`_stamper` on the backend's
    MIDI thread. Right for ALSA, CoreMIDI and Windows, where that thread is the
    library's own.

    ``mode`` 'poll' (the default on JACK): no Python ever runs on JACK's
    realtime process thread. A Python callback there must take the GIL, and
    while any thread of ours holds the GIL longer than a period (1.33 ms) the
    whole JACK graph - the user's DAW included - misses its deadline: we
    measured xruns ("client ... was not finished") for the full length of a
    GIL hold. Instead a reader thread (``midi-in``) drains RtMidi's queue every
    ``poll_s`` and stamps with :class:`ArrivalStamps`, so stamps keep
    sub-period precision; the messages reach the inbox up to ``poll_s`` later.
    After ``FAST_HOLD_S`` without input it polls every ``idle_poll_s`` instead
    (idle CPU). The stamps' bounds are kept for 10 s (RtMidi's deltas drift
    against our clock: we measured about 300 ppm through the dummy driver), so
    the first message after a longer silence may be stamped up to
    ``idle_poll_s`` late. (The native JACK client of :mod:`assistant.midi.jackmidi`
    needs no polling and stamps every event with its frame's time.)

    Closing: python-rtmidi 1.5's ``cancel_callback()`` frees the callback's
    data while a callback may already be waiting for the GIL on the MIDI
    thread (a use-after-free: we saw heap corruption), and ``close_port()`` /
    ``delete()`` wait for that thread while holding the GIL (we saw hangs).
    mido's ``close()`` does both. Here, in callback mode, ``close()`` keeps the
    callback data alive, cancels, sleeps ``CLOSE_GRACE_S`` with the GIL released
    so an in-flight call can finish, and only then closes; in poll mode it
    stops the reader thread first.
    """

    CLOSE_GRACE_S = 0.01
    FAST_HOLD_S = 2.0
    IDLE_POLL_S = 0.01

    def __init__(self, api: str, inbox: queue.SimpleQueue, name: str, *, virtual: bool,
                 client_name: str | None, mode: str | None = None, poll_s: float = 0.001,
                 idle_poll_s: float | None = None):
        import rtmidi

        self.name = name
        self.mode = mode or ("poll" if api == "UNIX_JACK" else "callback")
        if self.mode not in ("poll", "callback"):
            raise ValueError(f"mode must be 'poll' or 'callback', not {mode!r}")
        self.closed = True
        self.decoder = WireDecoder(name)
        self.restarts = 0  # times the poll reader's loop failed and was restarted
        self._pinned: list = []
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None
        self._inbox = inbox
        self._polls = (poll_s, idle_poll_s or self.IDLE_POLL_S)
        self._rt = rtmidi.MidiIn(getattr(rtmidi, f"API_{api}"), name=client_name or "midi-assistant",
                                 queue_size_limit=4096)
        try:
            self._rt.ignore_types(sysex=False, timing=False, active_sense=True)
            if virtual:
                self._rt.open_virtual_port(name)
            else:
                self._open_named(name)
            self._start_reading()
        except BaseException:
            self._rt.delete()
            raise
        self.closed = False

    def _open_named(self, name: str) -> None:
        ports = self._rt.get_ports()
        if name not in ports:
            raise OSError(f"no input port {name!r}")
        self._rt.open_port(ports.index(name), "in")

    def _start_reading(self) -> None:
        if self.mode == "callback":
            self._rt.set_callback(_stamper(self._inbox, self.decoder))
            # python-rtmidi holds the callback data only in a private slot: keep it alive ourselves
            self._pinned += [r for r in gc.get_referents(self._rt) if isinstance(r, tuple)]
        else:
            self._stop = threading.Event()
            self._reader = threading.Thread(target=self._read, args=(self._inbox, *self._polls),
                                            name="midi-in", daemon=True)
            self._reader.start()

    def _stop_reading(self) -> None:
        if self._reader is not None:
            self._stop.set()
            self._reader.join()
            self._reader = None
        else:
            self._rt.cancel_callback()
            time.sleep(self.CLOSE_GRACE_S)

    def reattach(self, name: str) -> None:
        """Open the device port ``name`` again after it went away (an attached input; the
        port watch's thread). The counters go on; raises OSError if it is not there."""
        if self.closed:
            raise OSError(f"MIDI input {self.name!r} is closed")
        self._stop_reading()
        self._rt.close_port()
        try:
            self._open_named(name)
        finally:
            self._start_reading()
        self.name = name

    def _read(self, inbox: queue.SimpleQueue, poll_s: float, idle_poll_s: float) -> None:
        """The reader thread: drain, stamp, decode, enqueue; restarts its loop if anything
        in it ever raises (logged), so input never stops while the port is open."""
        while not self._stop.is_set():
            try:
                self._read_loop(inbox, poll_s, idle_poll_s)
            except Exception:
                self.restarts += 1
                log.exception("MIDI input %r: the reader failed and was restarted", self.name)
                self._stop.wait(0.01)

    def _read_loop(self, inbox: queue.SimpleQueue, poll_s: float, idle_poll_s: float) -> None:
        get, put, wait, decode = self._rt.get_message, inbox.put, self._stop.wait, self.decoder
        stamps = ArrivalStamps()
        interval, last_input = poll_s, now_ns()
        while not wait(interval):
            batch = []
            while (item := get()) is not None:
                batch.append(item)
            if not batch:
                interval = poll_interval(poll_s, idle_poll_s, now_ns() - last_input, self.FAST_HOLD_S)
                continue
            interval, last_input = poll_s, now_ns()
            for (data, _), ns in zip(batch, stamps.stamp_batch([d for _, d in batch], last_input)):
                msg = decode(data)
                if msg is not None:
                    put((msg, ns))

    def close(self) -> None:
        """Stop input without racing the MIDI thread (see the class docstring); idempotent."""
        if self.closed:
            return
        self.closed = True
        self._stop_reading()
        self._rt.close_port()
        self._rt.delete()
