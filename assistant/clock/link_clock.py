"""Ableton Link as a clock source: tempo, beat and phase from a Link session.

:class:`LinkClock` joins the session (``LinkPython-extern``, the ``link`` extra; Link is
GPL, so it stays optional) and maps its beat timeline onto our ticks: Link beat ``b``
is tick ``b * TICKS_PER_QUARTER``, with the quantum set to the meter's bar so that bar
lines fall where every peer has phase 0. A thread of its own ("link") reads the
session state every ``POLL_S`` and starts a new segment when the tempo changed or the
timeline moved (a peer forced a beat), so between changes ``ns_at`` and ``tick_at``
are exact reads of a straight line (Link's timeline is one). Link's clock and
:func:`assistant.clock.now_ns` are both the system's monotonic clock; their offset
is measured from narrow paired reads (see ``_link_micros_offset``).

With ``start_stop = True`` the transport follows the session's start/stop sync
(listeners get "start" and "stop"); otherwise it runs from :meth:`start` on, as a
Link session without start/stop sync always plays.

Threading: the link thread drives the mapping; any thread reads it (the
:class:`~assistant.clock._TickMap` contract). ``start``/``close`` on the main thread.
"""

from __future__ import annotations

import logging
import math
import threading

from ..errors import UserError
from ..music import TICKS_PER_QUARTER, Meter
from . import _TickMap, check_tempo, now_ns, ns_per_tick

log = logging.getLogger(__name__)

LINK_EXTRA_HINT = "pip install 'midi-assistant[link]' (Ableton Link through LinkPython-extern; GPL)"
POLL_S = 0.005
MOVE_TICKS = 0.002  # a timeline this far off our line (0.1 ms at 120 BPM) starts a new segment
JUMP_TICKS = TICKS_PER_QUARTER / 2  # this far: a jump (a peer forced a beat), told as a locate


def import_link():
    try:
        import link
    except ImportError as exc:
        raise UserError(f"clock.source = \"link\" needs Ableton Link: {LINK_EXTRA_HINT}") from exc
    return link


def paired_offset_ns(link_clock, now=now_ns, reads: int = 3) -> tuple[int, int]:
    """(width, ``now`` - Link's clock in ns) of the narrowest of ``reads`` paired reads of the
    two clocks: a read is bracketed by two of ours, and its width bounds its error."""
    best = None
    for _ in range(reads):
        before = now()
        micros = link_clock.micros()
        after = now()
        if best is None or after - before < best[0]:
            best = (after - before, (before + after) // 2 - micros * 1000)
    return best


class LinkClock(_TickMap):
    def __init__(self, tempo_bpm: float = 120.0, meters: list[Meter] | None = None, *,
                 start_stop: bool = False, now=now_ns):
        super().__init__(tempo_bpm, meters, now)
        link = import_link()
        self.start_stop = start_stop
        bar = self._meters[0].bar_ticks
        self.quantum = bar / TICKS_PER_QUARTER  # beats (quarters) to a bar: where phase 0 falls
        self._link = link.Link(check_tempo(tempo_bpm))
        self._link.startStopSyncEnabled = start_stop
        self._offset_ns = 0  # now_ns - Link's clock, in ns
        self._best_width = 1e9  # the narrowest paired read of the two clocks so far, ns (see _link_micros_offset)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="link", daemon=True)
        self.peers = 0
        self.segments = 0  # segments started (tempo changes and moves), for tests and the UI

    # -- main thread -------------------------------------------------------------------
    def start(self) -> "LinkClock":
        self._link.enabled = True
        self._read()
        if not self.start_stop:
            with self._lock:
                self._running = True
            self._emit("start", self._current_tick(self._now()), self._now())
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1.0)
        self._link.enabled = False

    # -- the link thread ----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                self._read()
            except Exception:  # never let the clock's thread die: the mapping holds its line
                log.exception("link: reading the session failed")

    def _link_micros_offset(self) -> int:
        """now_ns - Link's clock (ns). Both are the system's monotonic clock, so the offset
        holds still: a paired read is taken only when it is about as narrow as the best
        so far (a read that was preempted on a busy machine is hundreds of us wide), and
        the best width slowly widens so that a lasting change is followed."""
        width, offset = paired_offset_ns(self._link.clock(), self._now)
        if width <= self._best_width * 1.5 + 2_000:
            self._best_width = min(width, self._best_width)
            self._offset_ns = offset
        self._best_width = min(self._best_width * 1.01 + 10, 1e9)
        return self._offset_ns

    def _read(self) -> None:
        state = self._link.captureAppSessionState()
        offset = self._link_micros_offset()
        ns = self._now()
        micros = (ns - offset) // 1000
        tick = state.beatAtTime(micros, self.quantum) * TICKS_PER_QUARTER
        bpm = state.tempo()
        playing = state.isPlaying() if self.start_stop else True
        self.peers = self._link.numPeers()
        npt = ns_per_tick(min(max(bpm, 20.0), 400.0))
        event = None
        with self._lock:
            seg = self._history[-1]
            ours = seg.tick_at(ns) if not math.isinf(seg.npt) else seg.tick0
            moved = abs(ours - tick)
            if playing != self._running:
                event = "start" if playing else "stop"
                self._running = playing
                self._push(ns, tick, npt if playing else math.inf)
                self.segments += 1
            elif playing and (moved > MOVE_TICKS or abs(npt - self._npt) > 1e-6 * npt):
                if moved > JUMP_TICKS:
                    event = "locate"
                    self._history.clear()
                self._push(ns, tick, npt)
                self.segments += 1
            self._npt = npt
        if event is not None:
            self._emit(event, tick, ns)

    def ns_of_link_micros(self, micros: int) -> int:
        """Our now_ns for a time of Link's clock (tests compare the two peers with it)."""
        return micros * 1000 + self._offset_ns
