"""Native JACK MIDI: all our ports on one JACK client, with no Python on JACK's thread.

python-rtmidi opens one JACK client per port, and JACK wakes every client once a
period, so our three ports cost three realtime wake-ups per period while idle. The
realtime part here is C (``_jackmidi.c``, built by ``pip install`` as
``assistant/midi/_jackmidi*.so``; it needs only a C compiler): one client, one process
callback that copies events between JACK's port buffers and lock-free rings. This
module drives it through ctypes, which releases the GIL during each call.

Threading contract:

* :class:`JackClient` is opened, given ports and closed on the main thread.
* The client runs one reader thread (``midi-in``, :mod:`.jack_reader`) for all its
  inputs that blocks in the C ``mj_wait`` until the process callback has input (no polling: idle
  costs nothing), then decodes (:class:`assistant.midi.wire.WireDecoder`: junk is counted
  and dropped) and ``put((msg, ns))`` on the port's inbox; nothing else. If anything
  in that loop ever raises, it is logged and the loop starts again.
  Stamps are the events' frame times on JACK's clock, converted to
  :func:`assistant.clock.now_ns` (CLOCK_MONOTONIC) when read: exact to the frame
  however late the reader wakes (and about a period earlier than python-rtmidi's
  stamps, which are the moment the process callback ran).
* :meth:`JackOutput.send` may be called from any thread, one at a time per port (a
  lock makes sure); it copies the bytes into the port's ring and returns at once.
  With ``at_ns`` the event goes out at the frame of that time, in the cycle that
  holds it (hand it over at least :func:`hand_over_ahead_ns` before: a cycle's
  frames are processed about a period after their time); the port holds events in
  time order, however early they come. Without a time it goes out at once, but after
  everything the port already holds. :meth:`JackOutput.withdraw` takes back what is
  held and not yet committed (blocking about a period).
* Closing an output waits (at most ``DRAIN_S``) until what was sent has gone out, so
  the note-offs of a panic right before exit still reach the DAW. The client closes
  when its last port does.
"""

from __future__ import annotations

import ctypes
import logging
import queue
import threading
from typing import Callable

import mido

from .jack_library import NativeJackUnavailable, available, library_path, load_library  # noqa: F401
from .jack_reader import JackReader
from .wire import WireDecoder

log = logging.getLogger(__name__)

def hand_over_ahead_ns(period_ms: float) -> int:
    """How early a timed message must reach its port: two periods and a millisecond.

    The cycle whose frames hold a time is processed within about a period of that
    time, before or after (jack2's frame clock is not the callback's), so a message
    handed over later than a period before its time may miss its cycle."""
    return round((2 * period_ms + 1.0) * 1e6)


class JackClient:
    """One JACK client holding all our ports (main thread: open, add ports, close).

    When the server goes away the client is dead (:attr:`alive` False: sends raise
    OSError, nothing arrives). :meth:`reopen` then opens it again on the server that is
    back, with the same client and port names (same indexes, so the port objects keep
    working), and restores the connections :meth:`remember_connections` last saw. Call
    those two from one thread (the port watch), not beside ``add_*`` or ``close``.
    """

    DRAIN_S = 0.2

    def __init__(self, name: str, frames_only: bool = False):
        """``frames_only``: the time base never moves, however far the server's frames fall
        behind the wall: times are the frames' own, as on a DAW's timeline (a DAW stand-in
        for tests and benchmarks). Ours moves to stay near the wall (see tb_cycle)."""
        self._lib = load_library()
        self.name = name
        self.frames_only = frames_only
        self._h = self._open_handle(name)
        self._base_moved_before = 0  # ns the time bases of clients before a reopen moved
        self._reader: JackReader | None = None
        self._open_ports = 0
        self._lock = threading.Lock()
        self.closed = False
        self._layout: list[tuple[str, bool]] = []  # (name, is_output) of each port, by index
        self._connections: dict[int, list[str]] = {}  # by port index, as last seen alive
        self._to_restore: list[tuple[str, str]] = []  # (source, destination) not yet connected again
        self._latency: dict[int, int] = {}  # frames a port adds of its own, by index (set_latency)

    def _open_handle(self, name: str) -> ctypes.c_void_p:
        handle = self._lib.mj_open(name.encode())
        if not handle:
            raise OSError(self._lib.mj_load_error().decode(errors="replace"))
        if self.frames_only:
            self._lib.mj_keep_to_frames(handle)
        return ctypes.c_void_p(handle)

    # -- ports
    def _add(self, name: str, is_output: bool) -> tuple[int, str]:
        index = self._lib.mj_add_port(self._h, name.encode(), int(is_output))
        if index < 0:
            raise OSError(self._lib.mj_load_error().decode(errors="replace"))
        self._open_ports += 1
        self._layout.append((name, is_output))
        return index, self._lib.mj_port_name(self._h, index).decode()

    def full_name(self, index: int) -> str:
        return self._lib.mj_port_name(self._h, index).decode()

    # -- losing the server and coming back (the port watch's thread)
    def remember_connections(self) -> None:
        """Note every port's connections, to restore them after a server restart."""
        if not self.alive:
            return
        cap = 1 << 16
        buf = ctypes.create_string_buffer(cap)
        for index in range(len(self._layout)):
            used = self._lib.mj_connections(self._h, index, buf, cap)
            if used >= 0:
                self._connections[index] = [n for n in buf.value.decode(errors="replace").split("\n") if n]

    def reopen(self) -> bool:
        """Open the client again on a server that is back; True if it is alive now.

        Same client and port names, in the same order; the reader starts again with the
        same inboxes; the remembered connections are made (or retried later, by
        :meth:`restore_connections`, while their other ends do not exist yet)."""
        if self.closed:
            return False
        if self.alive:
            return True
        try:
            handle = self._open_handle(self.name)
        except OSError:
            return False
        for index, (name, is_output) in enumerate(self._layout):
            if self._lib.mj_add_port(handle, name.encode(), int(is_output)) != index:
                self._lib.mj_close(handle)
                log.warning("JACK: could not recreate port %r: %s", name,
                            self._lib.mj_load_error().decode(errors="replace"))
                return False
        # the new client's time base starts afresh: its moves add to the dead one's
        self._base_moved_before += self._lib.mj_base_shift_ns(self._h, 2**62)
        self._h = handle  # the dead handle is left as it is (see mj_close)
        for index, frames in self._latency.items():
            self._lib.mj_set_latency(handle, index, frames)
        inboxes = dict(self._reader.inboxes) if self._reader is not None else {}
        if inboxes:
            self._reader = JackReader(self)
            self._reader.inboxes.update(inboxes)
        self._to_restore = []
        for index, peers in self._connections.items():
            ours = self.full_name(index)
            is_output = self._layout[index][1]
            self._to_restore += [(ours, peer) if is_output else (peer, ours) for peer in peers]
        return True

    def restore_connections(self) -> tuple[int, int]:
        """Try the connections not yet made again; (made now, still missing)."""
        made, missing = 0, []
        for source, destination in self._to_restore:
            try:
                self.connect(source, destination)
                made += 1
            except OSError:
                missing.append((source, destination))
        self._to_restore = missing
        return made, len(missing)

    def add_input(self, name: str, inbox: queue.SimpleQueue, *, connect_from: str | None = None,
                  parse: Callable[[bytes], object] | None = None) -> "JackInput":
        """A new input port feeding ``inbox`` with ``(msg, ns)``; ``parse`` turns an event's
        bytes into what is enqueued (None: dropped); default: the port's :class:`WireDecoder`."""
        index, full = self._add(name, False)
        port = JackInput(self, index, name, full)
        if self._reader is None:
            self._reader = JackReader(self)
        self._reader.inboxes[index] = (inbox, parse or port.decoder)
        if connect_from is not None:
            self.connect(connect_from, full)
        return port

    def _stop_input(self, index: int) -> None:
        """No more deliveries for input ``index``; the last one stops the reader thread."""
        reader = self._reader
        if reader is None:
            return
        reader.inboxes.pop(index, None)
        if not reader.inboxes:
            self._reader = None
            reader.stop()

    def add_output(self, name: str, *, connect_to: str | None = None) -> "JackOutput":
        index, full = self._add(name, True)
        port = JackOutput(self, index, name, full)
        if connect_to is not None:
            self.connect(full, connect_to)
        return port

    def connect(self, source: str, destination: str) -> None:
        code = self._lib.mj_connect(self._h, source.encode(), destination.encode())
        if code not in (0, 17):  # 17 (EEXIST): already connected
            raise OSError(f"cannot connect JACK port {source!r} to {destination!r} (error {code})")

    def set_latency(self, index: int, frames: int) -> bool:
        """Report that port ``index`` adds ``frames`` of its own latency (an output: since
        its data was made; an input: until its data is used). Every port reports 0 until
        told: nothing passes through this client (see mj_latency in _jackmidi.c), so a
        DAW never takes its own path for ours. False where libjack has no latency API."""
        self._latency[index] = int(frames)
        return self._lib.mj_set_latency(self._h, index, int(frames)) == 0

    @property
    def reports_latency(self) -> bool:
        """True if our ports' latencies reach JACK (libjack has the latency API)."""
        return bool(self._lib.mj_reports_latency())

    # -- facts
    @property
    def alive(self) -> bool:
        return not self.closed and bool(self._lib.mj_alive(self._h))

    def period_ms(self) -> float:
        return self._lib.mj_buffer_size(self._h) / self._lib.mj_sample_rate(self._h) * 1000.0

    COUNTERS = ("dropped", "oversize", "deferred", "frame_jumps", "repeated", "cycles", "ring_high",
                "base_steps", "xruns")

    def counters(self) -> dict[str, int]:
        """Since the client opened: input dropped (ring full), input too long (sysex), output
        deferred to a later cycle, cycles that did not start where the previous one ended or
        whose time base moved (frame_jumps), input events the server handed a second time
        (dropped), cycles, the most events the input ring held at once, how often the
        time base moved by a stall's lag (base_steps), and the server's xrun notices."""
        values = (ctypes.c_uint64 * len(self.COUNTERS))()
        self._lib.mj_counters(self._h, values)
        return dict(zip(self.COUNTERS, values))

    UNSURE_AFTER_JUMP_NS = 500_000_000

    def timing_unsure(self, ns: int) -> bool:
        """True if input stamped at ``ns`` (now_ns scale) came within 0.5 s after a cycle of
        ours that did not start where the one before ended, or whose time base moved by a
        stall's lag (see tb_cycle in _jackmidi.c), or after the server told of an xrun (a
        client not finished in its cycle): pulses there are bunched, late, lost or handed
        twice (any thread). The base is right again within tens of ms."""
        last = self._lib.mj_last_jump_ns(self._h)
        # the stalled cycles' events carry frame times from before the jump was seen
        return bool(last) and -self.UNSURE_AFTER_JUMP_NS // 4 <= ns - last < self.UNSURE_AFTER_JUMP_NS

    def base_shift_ns(self, ns: int) -> int:
        """How far our time base had moved, in all, for input stamped at ``ns`` (now_ns
        scale): after a stall the base moves by whole periods to stay near the wall (see
        tb_cycle in _jackmidi.c), and a frame's stamp after a move is that much later than
        before it. A line fitted to stamps before a move holds after it once moved by the
        difference (any thread)."""
        return self._base_moved_before + self._lib.mj_base_shift_ns(self._h, ns)

    def frame_zero_ns(self) -> int:
        """The time (now_ns scale) this client's first time base gave the server's frame
        0; 0 before the first cycle. Two clients' bases differ by the difference of
        theirs, and by their moves (base_shift_ns): each starts from jack2's mapping or,
        where that lay off the wall, from the wall (any thread)."""
        return self._lib.mj_frame_zero_ns(self._h)

    def frame_of(self, ns: int) -> float | None:
        """The server's frame (a float: its count since the server started) that this
        client's time base gives ``ns`` (now_ns scale), a stamp of input or the time
        output was placed at; its base's moves are taken off, so every client of one
        server gives one frame the same number. None before the first cycle. For
        judging timing across clients (any thread); a client reopened after a server
        restart counts the new server's frames."""
        zero = self.frame_zero_ns()
        if not zero:
            return None
        ns_per_frame = 1e9 / self._lib.mj_sample_rate(self._h)
        return (ns - self._lib.mj_base_shift_ns(self._h, ns) - zero) / ns_per_frame

    # -- closing
    def _port_closed(self) -> None:
        with self._lock:
            self._open_ports -= 1
            last = self._open_ports == 0
        if last:
            self.close()

    def drain(self) -> bool:
        """Wait until everything sent has gone out (at most ``DRAIN_S``)."""
        return bool(self._lib.mj_drain(self._h, int(self.DRAIN_S * 1000)))

    def close(self) -> None:
        """Send what is queued, then close the client; idempotent (main thread)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
        if self._reader is not None:
            self._reader.inboxes.clear()
            self._reader.stop()
            self._reader = None
        if not self._lib.mj_alive(self._h):  # nothing to send, nobody to tell: mj_close leaves it
            return
        self._lib.mj_drain(self._h, int(self.DRAIN_S * 1000))
        self._lib.mj_close(self._h)


class _Port:
    """One port of a :class:`JackClient`: its name as asked for and as JACK knows it."""

    def __init__(self, client: JackClient, index: int, name: str, full_name: str):
        self.name = name
        self.full_name = full_name
        self.closed = False
        self._client = client
        self._index = index

    def set_latency(self, frames: int) -> bool:
        """Report ``frames`` of this port's own latency to JACK (see JackClient.set_latency)."""
        return self._client.set_latency(self._index, frames)


class JackInput(_Port):
    """Our input port: the client's reader thread feeds ``inbox`` with ``(msg, now_ns stamp)``."""

    def __init__(self, client: JackClient, index: int, name: str, full_name: str):
        super().__init__(client, index, name, full_name)
        self.decoder = WireDecoder(name)

    def close(self) -> None:
        """Stop delivering to the inbox, then release the port; idempotent (main thread)."""
        if self.closed:
            return
        self.closed = True
        self._client._stop_input(self._index)
        self._client._port_closed()


class JackOutput(_Port):
    """Our output port with mido's ``send(msg)``; a send after close raises OSError.

    ``timed``: :class:`assistant.live.scheduler.Scheduler` hands it events early with their
    time (``send(msg, at_ns, event_id)``), and they go out at their own frame.
    ``withdrawable``: events handed over but not yet committed can be taken back
    (:meth:`withdraw`), so the scheduler may hand them over long before their time.
    ``send`` and ``withdraw`` may be called from any thread, one at a time (a lock).
    """

    timed = True
    withdrawable = True
    WITHDRAW_TIMEOUT_MS = 50  # a server stalled longer than this answers nothing: all stays committed
    WITHDRAW_MARGIN_NS = 100_000

    def __init__(self, client: JackClient, index: int, name: str, full_name: str):
        super().__init__(client, index, name, full_name)
        self._lock = threading.Lock()
        self._ids = None

    def send(self, msg: mido.Message, at_ns: int = 0, event_id: int = 0) -> None:
        """Queue ``msg`` for ``at_ns`` (now_ns scale; 0: as soon as possible, after what the
        port holds); ``event_id`` is what :meth:`withdraw` reports if it takes it back."""
        self.send_bytes(bytes(msg.bytes()), at_ns, event_id)

    def send_bytes(self, data: bytes, at_ns: int = 0, event_id: int = 0) -> None:
        """:meth:`send` for raw bytes, unchecked (a test's or a bench's junk goes out as it is)."""
        with self._lock:
            if self.closed:
                raise OSError(f"MIDI output {self.name!r} is closed")
            code = self._client._lib.mj_send(self._client._h, self._index, data, len(data), at_ns,
                                             event_id & 0xFFFFFFFF)
        if code == -1:
            raise OSError(f"MIDI output {self.name!r}: queue full (is the JACK server stalled?)")
        if code == -2:
            raise OSError(f"MIDI output {self.name!r}: the JACK server has shut our client down")
        if code == -3:
            raise OSError(f"MIDI output {self.name!r}: message of {len(data)} bytes is too long")

    def withdraw(self, from_ns: int = 0) -> tuple[list[int], int] | None:
        """Take back the timed events not yet committed, at or after ``from_ns`` (0: all).

        Returns (their ids, the cutoff in now_ns): every event sent before this call and
        not listed will play. None if nothing could be taken back (the server did not
        answer within ``WITHDRAW_TIMEOUT_MS``, or is gone): then everything sent plays.
        Blocks about one JACK period, waiting for the server's cycle, with the GIL released.
        """
        lib = self._client._lib
        with self._lock:
            if self.closed:
                return None
            if self._ids is None:
                self._ids = (ctypes.c_uint32 * lib.mj_pending_slots())()
            cutoff = ctypes.c_int64()
            # JACK keeps microseconds, and each call measures its clock against ours anew (to
            # a few us): take a margin, so an event at exactly ``from_ns`` is always taken
            # (taking a little more is safe: the caller plans again what comes back)
            start = max(from_ns - self.WITHDRAW_MARGIN_NS, 1) if from_ns > 0 else 0
            count = lib.mj_withdraw(self._client._h, self._index, start, self._ids, ctypes.byref(cutoff),
                                    self.WITHDRAW_TIMEOUT_MS)
            if count < 0:
                return None
            return list(self._ids[:count]), cutoff.value

    def close(self) -> None:
        """Let what was sent go out, then release the port; idempotent (main thread)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
        self._client.drain()
        self._client._port_closed()
