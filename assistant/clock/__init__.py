"""Musical time: where the beat is, as a swappable source behind one small protocol.

The one wall clock of the project is :func:`now_ns` (``time.perf_counter_ns``,
CLOCK_MONOTONIC on Linux): input callbacks stamp arrivals with it, the scheduler
sleeps against it, the clocks here map it to ticks and back. Never mix it with
``time.time()``.

Engine time is integer ticks, ``TICKS_PER_QUARTER`` (12) to a quarter note. A MIDI
clock pulse is 1/24 of a quarter, so two pulses make one of our ticks. A clock maps
monotonic ns <-> ticks as a chain of straight segments; a tempo change starts a new
segment at the current position, so the mapping never jumps (and never goes back)
when the tempo estimate changes. Conversions to seconds/ns happen only at the edge
(input stamping, scheduler deadlines).

Three sources:

* :class:`InternalClock` - tempo from config, start/stop/continue, tap tempo.
* :class:`~assistant.clock.midi_follower.MidiClockFollower` - follows a DAW's MIDI clock
  (0xF8 at 24 ppqn, Start, Stop, Continue, Song Position Pointer) fed by the engine
  thread; its own module, as it is most of the work, with the judgement of which pulses
  are real (repeats, losses, the count after a storm) in :mod:`~assistant.clock.pulse_checks`.
* :class:`FakeClock` - time set explicitly by a test; fully deterministic.

Threading contract: one thread *drives* a clock (the engine thread feeds the
follower; whoever owns an internal clock calls start/stop/tap). Any thread may
*read* it (``tick_at``, ``ns_at``, ``running``, ``tempo_bpm``): reads and writes take a
short internal lock and never block on anything else. Listeners run on the driving
thread, outside the lock, and must not block (set a flag or notify a condition).
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from typing import Callable, Protocol, runtime_checkable

from ..errors import UserError
from ..music import TICKS_PER_QUARTER, Meter, meter_at

now_ns: Callable[[], int] = time.perf_counter_ns
"""The project's one monotonic clock, in integer nanoseconds."""

NS_PER_S = 1_000_000_000
MIDI_PPQN = 24
PULSES_PER_TICK = MIDI_PPQN // TICKS_PER_QUARTER  # 2
PULSES_PER_SIXTEENTH = MIDI_PPQN // 4  # 6: Song Position Pointer unit
MIN_BPM, MAX_BPM = 20.0, 400.0
TICK_EPS = 1e-6
"""Tick positions this close below a whole tick count as that tick (ns rounding is ~1e-8 tick)."""

TransportListener = Callable[[str, float, int], None]
"""``listener(event, tick, ns)`` with event in 'start', 'stop', 'continue', 'locate'."""


def floor_tick(tick: float) -> int:
    """The whole tick a fractional position is in, robust to ns rounding."""
    return math.floor(tick + TICK_EPS)


def ns_per_tick(bpm: float) -> float:
    return 60 * NS_PER_S / (bpm * TICKS_PER_QUARTER)


def bpm_from_ns_per_tick(npt: float) -> float:
    return 60 * NS_PER_S / (npt * TICKS_PER_QUARTER)


def check_tempo(bpm: float, what: str = "tempo") -> float:
    """``bpm`` as a float, or a ``UserError`` naming the allowed range."""
    try:
        value = float(bpm)
    except (TypeError, ValueError):
        raise UserError(f"{what} {bpm!r} is not a number: give beats per minute, e.g. 120") from None
    if not (MIN_BPM <= value <= MAX_BPM):
        raise UserError(f"{what} {bpm!r} bpm is out of range: use {MIN_BPM:g}..{MAX_BPM:g}")
    return value


def check_meters(meters: list[Meter] | None) -> list[Meter]:
    """A non-empty list of meters sorted by start (default 4/4 from tick 0)."""
    if not meters:
        return [Meter(0)]
    out = sorted(meters, key=lambda m: m.start)
    for m in out:
        if m.numerator < 1 or m.denominator not in (1, 2, 4, 8, 16, 32) or m.bar_ticks < 1:
            raise UserError(
                f"time signature {m.numerator}/{m.denominator} is not usable: "
                "use a numerator >= 1 and a denominator of 1, 2, 4, 8, 16 or 32"
            )
    return out


@runtime_checkable
class Clock(Protocol):
    """What the engine, capture and scheduler need from a time source."""

    @property
    def running(self) -> bool: ...

    @property
    def tempo_bpm(self) -> float: ...

    @property
    def meters(self) -> list[Meter]: ...

    def now(self) -> int: ...

    def tick_at(self, ns: int) -> float: ...

    def ns_at(self, tick: float) -> int: ...

    def now_tick(self) -> int: ...

    def meter_at(self, tick: int) -> Meter: ...

    def add_listener(self, listener: TransportListener) -> None: ...

    def remove_listener(self, listener: TransportListener) -> None: ...


@dataclass(frozen=True, slots=True)
class _Segment:
    """From ``ns0`` on, tick = tick0 + (ns - ns0) / npt (``npt`` inf: frozen) up to
    ``knee_tick``, and from there on ``then_npt`` ns per tick.

    The knee lets a correction steer only the near future: a follower aims at its next
    expected pulse at one rate and continues beyond it at the fitted tempo, so what is
    planned a few pulses ahead is placed on the fitted line, never on the slope of one
    correction (after an outlier pulse that slope can be twice or half the tempo)."""

    ns0: int
    tick0: float
    npt: float
    knee_tick: float = math.inf
    then_npt: float = math.inf

    def _knee_ns(self) -> float:
        return self.ns0 + (self.knee_tick - self.tick0) * self.npt

    def tick_at(self, ns: int) -> float:
        if math.isinf(self.npt):
            return self.tick0
        tick = self.tick0 + (ns - self.ns0) / self.npt
        if tick <= self.knee_tick:
            return tick
        return self.knee_tick + (ns - self._knee_ns()) / self.then_npt

    def ns_at(self, tick: float, stopped_npt: float) -> int:
        """When ``tick`` falls on this segment; frozen: as if at ``stopped_npt`` from ``ns0``."""
        if math.isinf(self.npt):
            return self.ns0 + round((tick - self.tick0) * stopped_npt)
        if tick <= self.knee_tick:
            return self.ns0 + round((tick - self.tick0) * self.npt)
        return round(self._knee_ns() + (tick - self.knee_tick) * self.then_npt)


class _TickMap:
    """The shared machinery: segment chain, meters, transport listeners.

    ``_history`` keeps the recent segments so that ``tick_at`` of a slightly old
    arrival stamp uses the tempo that held then. While stopped the last segment is
    frozen; ``ns_at`` then answers as if time had kept going at ``_npt`` from the
    stop, and callers check ``running`` before acting on it.
    """

    HISTORY = 256

    def __init__(self, tempo_bpm: float, meters: list[Meter] | None, now: Callable[[], int]):
        self._lock = threading.Lock()
        self._now = now
        self._npt = ns_per_tick(check_tempo(tempo_bpm))
        self._meters = check_meters(meters)
        self._running = False
        t = now()
        self._history: deque[_Segment] = deque([_Segment(t, 0.0, math.inf)], maxlen=self.HISTORY)
        self._listeners: list[TransportListener] = []

    # -- reading (any thread) -------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    @property
    def tempo_bpm(self) -> float:
        return bpm_from_ns_per_tick(self._npt)

    @property
    def meters(self) -> list[Meter]:
        return list(self._meters)

    def meter_at(self, tick: int) -> Meter:
        return meter_at(self._meters, tick)

    def now(self) -> int:
        return self._now()

    def tick_at(self, ns: int) -> float:
        """Fractional tick position at monotonic time ``ns`` (past or future)."""
        with self._lock:
            return self._tick_at_locked(ns)

    def ns_at(self, tick: float) -> int:
        """Monotonic ns at which ``tick`` is (or was, or will be if the tempo holds)."""
        with self._lock:
            return self._ns_at_locked(tick)

    def _tick_at_locked(self, ns: int) -> float:
        hist = self._history
        seg = hist[-1]
        if ns < seg.ns0 and len(hist) > 1:
            i = bisect_right([s.ns0 for s in hist], ns) - 1
            seg = hist[max(i, 0)]
        return seg.tick_at(ns)

    def _ns_at_locked(self, tick: float) -> int:
        hist = self._history
        seg = hist[-1]
        if tick < seg.tick0 and len(hist) > 1:
            for s in reversed(hist):
                if s.tick0 <= tick and not math.isinf(s.npt):
                    seg = s
                    break
        return seg.ns_at(tick, self._npt)

    def now_tick(self) -> int:
        """The whole tick we are in now (floor of ``tick_at(now())``)."""
        return floor_tick(self.tick_at(self._now()))

    # -- listeners ------------------------------------------------------------
    def add_listener(self, listener: TransportListener) -> None:
        """Call ``listener(event, tick, ns)`` on transport changes (on the driving thread)."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: TransportListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _emit(self, event: str, tick: float, ns: int) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(event, tick, ns)

    # -- writing (driving thread, lock held by caller) --------------------------
    def _push(self, ns: int, tick: float, npt: float, knee_tick: float = math.inf,
              then_npt: float = math.inf) -> None:
        hist = self._history
        if hist:
            if ns < hist[-1].ns0:  # time never runs backwards; clamp a stale stamp
                ns = hist[-1].ns0
            if ns == hist[-1].ns0:
                hist.pop()
        hist.append(_Segment(ns, tick, npt, knee_tick, then_npt))

    def _current_tick(self, ns: int) -> float:
        seg = self._history[-1]
        return seg.tick_at(max(ns, seg.ns0))


class InternalClock(_TickMap):
    """A clock that keeps its own tempo: from config, ``set_tempo`` or tap tempo.

    Created stopped at tick 0; ``start()`` runs it from tick 0 (or ``tick``),
    ``stop()`` freezes the position, ``continue_()`` resumes from it. Every method
    takes an optional ``ns`` (default: now) so that callers can pass the arrival
    stamp of the message that caused it. Call from one driving thread.
    """

    TAPS = 8
    TAP_RESET_NS = 2 * NS_PER_S

    def __init__(self, tempo_bpm: float = 120.0, meters: list[Meter] | None = None,
                 now: Callable[[], int] = now_ns):
        super().__init__(tempo_bpm, meters, now)
        self._taps: deque[int] = deque(maxlen=self.TAPS)

    def start(self, ns: int | None = None, tick: int = 0) -> None:
        ns = self._now() if ns is None else ns
        with self._lock:
            self._push(ns, float(tick), self._npt)
            self._running = True
        self._emit("start", float(tick), ns)

    def stop(self, ns: int | None = None) -> None:
        ns = self._now() if ns is None else ns
        with self._lock:
            if not self._running:
                return
            tick = self._current_tick(ns)
            self._push(ns, tick, math.inf)
            self._running = False
        self._emit("stop", tick, ns)

    def continue_(self, ns: int | None = None) -> None:
        ns = self._now() if ns is None else ns
        with self._lock:
            if self._running:
                return
            tick = self._current_tick(ns)
            self._push(ns, tick, self._npt)
            self._running = True
        self._emit("continue", tick, ns)

    def locate(self, tick: int, ns: int | None = None) -> None:
        """Jump to ``tick`` (the one place the position may go backwards)."""
        ns = self._now() if ns is None else ns
        with self._lock:
            self._history.clear()
            self._history.append(_Segment(ns, float(tick), self._npt if self._running else math.inf))
        self._emit("locate", float(tick), ns)

    def set_tempo(self, bpm: float, ns: int | None = None) -> None:
        """Change tempo from ``ns`` on; the position stays continuous."""
        npt = ns_per_tick(check_tempo(bpm))
        ns = self._now() if ns is None else ns
        with self._lock:
            self._npt = npt
            if self._running:
                self._push(ns, self._current_tick(ns), npt)

    def tap(self, ns: int | None = None) -> float | None:
        """Register a tap (a quarter note); returns the new tempo once there are 2 taps.

        The tempo is the median of the recent tap intervals, so one stray tap does
        not throw it. A pause longer than 2 s, or an interval outside the allowed
        tempo range, starts a new series.
        """
        ns = self._now() if ns is None else ns
        taps = self._taps
        if taps and not (60 * NS_PER_S / MAX_BPM <= ns - taps[-1] <= min(self.TAP_RESET_NS, 60 * NS_PER_S / MIN_BPM)):
            taps.clear()
        taps.append(ns)
        if len(taps) < 2:
            return None
        intervals = sorted(b - a for a, b in zip(taps, list(taps)[1:]))
        n = len(intervals)
        median = intervals[n // 2] if n % 2 else (intervals[n // 2 - 1] + intervals[n // 2]) / 2
        bpm = 60 * NS_PER_S / median
        self.set_tempo(bpm, ns)
        return bpm


class FakeClock(InternalClock):
    """An internal clock whose 'now' is set by the test: deterministic.

    ``FakeClock(tempo_bpm=120, ns=0)`` starts *running* at tick 0 at ns 0 unless
    ``running=False``. Move time with ``set_time``, ``advance_ns`` or
    ``advance_ticks``. At 120 bpm a tick is 41_666_666.67 ns.
    """

    def __init__(self, tempo_bpm: float = 120.0, ns: int = 0, meters: list[Meter] | None = None,
                 running: bool = True):
        self.ns = ns
        super().__init__(tempo_bpm, meters, now=lambda: self.ns)
        if running:
            self.start(ns)

    def set_time(self, ns: int) -> None:
        if ns < self.ns:
            raise ValueError("a FakeClock never goes back in time")
        self.ns = ns

    def advance_ns(self, delta: int) -> int:
        self.set_time(self.ns + delta)
        return self.ns

    def advance_ticks(self, ticks: float) -> int:
        """Move 'now' to where the clock will be ``ticks`` later at the current tempo."""
        self.set_time(self.ns_at(self.tick_at(self.ns) + ticks))
        return self.ns
