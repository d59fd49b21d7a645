"""Following a DAW's MIDI clock: position, transport and tempo from 0xF8 pulses.

The mapping machinery (segments, meters, listeners, the threading contract) is
:mod:`assistant.clock`'s; this module holds only what turns arriving pulses into that
mapping: the tempo fit, the phase-locked position, lost and repeated pulses, and the
count check after stamps the input could not vouch for. Fed by the engine thread only
(never the MIDI callback); any thread may read it.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Callable

from . import MAX_BPM, MIDI_PPQN, MIN_BPM, NS_PER_S, PULSES_PER_SIXTEENTH, PULSES_PER_TICK, _TickMap, now_ns
from ..music import Meter
from .pulse_checks import BUNCHED_NS, WINDOW, PulseChecks, fit_line


class MidiClockFollower(_TickMap):
    """Follows a MIDI clock master (a DAW): position, transport and tempo.

    Fed by the engine thread with every (message, arrival_ns) from the input port:
    :meth:`feed` consumes 'clock', 'start', 'stop', 'continue' and 'songpos' and
    returns False for anything else. Must not be fed from the MIDI callback.

    * Start: position 0, running; the first pulse after it is tick 0.
    * Stop: position frozen; pulses that keep coming while stopped still refine
      the tempo estimate but do not move the position.
    * Continue: running again; the next pulse lands where the last one left off.
    * Song Position Pointer (sixteenths): relocates while stopped (a 'locate'
      event); ignored while running, as the MIDI spec says.

    Tempo: a least-squares line through the arrival times of the last
    ``WINDOW`` pulses (one beat), so one late pulse moves the estimate by a
    fraction of its error. When the newest pulses all fall on one side of the
    line by more than ``JUMP_NS`` the older ones are dropped, so a tempo change
    is followed within a few pulses, well inside a beat.

    Position: at each pulse the mapping starts a new segment at its *current*
    position (continuity) with a rate aimed to reach the fitted line at the next
    expected pulse (a phase-locked loop that corrects within one pulse). The
    rate is held within [0.5, 2] x the estimate, so the position never moves
    backwards and never races ahead. Where the correction meets the fitted line
    the segment continues on the line, so ``ns_at`` of a tick a few pulses ahead
    (what the scheduler hands over early) is the line's, whatever the last pulse did.
    Pulses bunched by a stall have no weight in the line (see ``pulse_checks.fit_line``).
    """

    WINDOW = WINDOW
    JUMP_PULSES = 3
    JUMP_NS = 2_000_000  # above JACK's period jitter (1.33 ms) at any sane period
    GAP_NS = 60 * NS_PER_S // (int(MIN_BPM) * MIDI_PPQN)  # slower than MIN_BPM: a new series
    BUNCHED_NS = BUNCHED_NS
    PHASE_PULSES = PulseChecks.PHASE_PULSES

    def __init__(self, meters: list[Meter] | None = None, tempo_bpm: float = 120.0,
                 now: Callable[[], int] = now_ns, timing_unsure: Callable[[int], bool] | None = None,
                 base_shift: Callable[[int], int] | None = None):
        super().__init__(tempo_bpm, meters, now)
        self._checks = PulseChecks(timing_unsure, base_shift)  # the window and the judgements on it
        self._next_pulse = 0  # song position (pulses) the next clock pulse lands on
        self._await_first = False  # after Start/Continue: the next pulse anchors the position
        self._last_ns = 0
        self.pulse_count = 0
        self.missed_pulses = 0  # pulses inferred lost on the way (see PulseChecks)
        self.repeated_pulses = 0  # pulses taken for repeats and dropped (see PulseChecks)
        # each change of the count on judgement, for the benchmarks to explain a note off its
        # time: (stamp, the input's time base move for it, why, pulses added)
        self.count_changes: deque[tuple[int, int, str, int]] = deque(maxlen=256)
        self._base_shift = base_shift or (lambda _ns: 0)
        self._follows_base = base_shift is not None
        self._pulse_ns = self._pulse_shift = 0  # the last pulse's stamp, and the input's time-base move for it

    def ns_at(self, tick: float) -> int:
        """As :meth:`_TickMap.ns_at`, in the input's time base as it is now: where it moved
        since the last pulse (a stall's aftermath: see JackClient.base_shift_ns), a time
        after that pulse moves with it, as the DAW's next pulses' stamps will (any thread).
        What the ports already hold moves with the base on their side."""
        with self._lock:
            ns = self._ns_at_locked(tick)
            return ns + self._unseen_move(ns)

    def tick_at(self, ns: int) -> float:
        """As :meth:`_TickMap.tick_at`, for a stamp or time in the input's time base as it
        was at ``ns`` (see :meth:`ns_at`; any thread)."""
        with self._lock:
            return self._tick_at_locked(ns - self._unseen_move(ns))

    def _unseen_move(self, ns: int) -> int:
        """How far the input's time base had moved at ``ns`` since the last pulse's stamp,
        for a time after that pulse; 0 before it, or for an input without a base (lock held)."""
        if not self._follows_base or ns <= self._pulse_ns:
            return 0
        return self._base_shift(ns) - self._pulse_shift

    @property
    def song_position_pulses(self) -> int:
        return self._next_pulse

    def feed(self, msg, ns: int) -> bool:
        """Consume one timing/transport message; True if it was one."""
        kind = msg.type
        if kind == "clock":
            self._pulse(ns)
        elif kind == "start":
            self._transport("start", ns, position=0)
        elif kind == "continue":
            self._transport("continue", ns, position=None)
        elif kind == "stop":
            self._stop(ns)
        elif kind == "songpos":
            self._songpos(msg.pos, ns)
        else:
            return False
        return True

    # -- internals (driving thread) ----------------------------------------------
    def _pulse(self, ns: int) -> None:
        regrid = self._pulse_locked(ns)
        if regrid is not None:
            self._emit("regrid", *regrid)

    def _pulse_locked(self, ns: int) -> tuple[float, int] | None:
        """Count one pulse; (tick, ns) if the count was corrected (see PulseChecks.phase_check)."""
        ns = max(ns, self._last_ns)
        gap = ns - self._last_ns if self.pulse_count else 0
        self._last_ns = ns
        self.pulse_count += 1
        with self._lock:
            if self._follows_base:  # the mapping pushed below is in this stamp's base
                self._pulse_ns, self._pulse_shift = ns, self._base_shift(ns)
            checks = self._checks
            if self._running:
                checks.note_running_pulse(ns)
            was_held = checks.held is not None
            if was_held and checks.settle_repeat(ns):
                self.repeated_pulses += 1
                self._count_changed(ns, "repeat", -1)
            else:
                if was_held and self._counting():
                    self._next_pulse += 1
                if checks.repeat_suspect(ns):
                    checks.held = ns
                    return None
            pulses = checks.pulses
            if pulses and ns - pulses[-1] > self.GAP_NS:
                pulses.clear()
            missed = checks.confirmed_missed_pulses(ns, self._counting())
            pulses.append(ns)
            if missed and self._counting():
                self._next_pulse += missed
                self.missed_pulses += missed
                self._count_changed(ns, "lost" if missed > 0 else "not lost after all", missed)
            fit = self._estimate()
            if fit is not None:
                self._npt = fit[1] * PULSES_PER_TICK
            if not self._running:
                return None
            corrected, grid_moved = (0, False) if self._await_first else checks.phase_check(ns, gap, self._next_pulse)
            if corrected or grid_moved:
                self._count_changed(ns, checks.last_judgement, corrected)
            if corrected:
                self._next_pulse += corrected
                if corrected < 0:
                    self.repeated_pulses -= corrected
                else:
                    self.missed_pulses += corrected
                fit = self._estimate()
                if fit is not None:
                    self._npt = fit[1] * PULSES_PER_TICK
            target_tick = self._next_pulse / PULSES_PER_TICK
            self._next_pulse += 1
            if self._await_first:
                self._await_first = False
                checks.set_origin(ns, self._next_pulse - 1)
                self._push(ns, target_tick, self._npt)
                return None
            here = self._current_tick(ns)
            coast = checks.coast_line(ns)
            if coast is not None:
                # the count is in doubt until the phase check judges it: coast on the last
                # steady line, which repeats, losses and bunches in the stall do not move,
                # moved with our time base as a DAW's grid on the frames is (a JACK DAW's
                # transport runs on them); one that keeps the wall's time is set right
                # when the check finds it there
                t_anchor, anchor_pos, period = coast
                self._npt = nominal = period * PULSES_PER_TICK
                next_ns = ns + period
                next_tick = (anchor_pos + (next_ns - t_anchor) / period) / PULSES_PER_TICK
            else:
                nominal = self._npt
                next_tick = self._next_pulse / PULSES_PER_TICK
                # where the fitted line puts the next pulse (or one nominal pulse on)
                next_ns = ns + (fit[0] + fit[1] if fit is not None else nominal / PULSES_PER_TICK)
            if next_ns > ns and next_tick > here:
                npt = (next_ns - ns) / (next_tick - here)
            else:
                npt = 2 * nominal
            npt = min(max(npt, 0.5 * nominal), 2 * nominal)
            # from where the correction meets the fitted line on, the line (see _Segment)
            self._push(ns, here, npt, knee_tick=_meeting_tick(here, ns, npt, next_tick, next_ns, nominal),
                       then_npt=nominal)
            return (here, ns) if corrected or grid_moved else None

    def _estimate(self) -> tuple[float, float] | None:
        """(fitted ns of the newest pulse minus its arrival, ns per pulse), or None.

        Drops the older pulses first when the newest ``JUMP_PULSES`` all miss the
        line through the older ones by more than ``JUMP_NS`` on the same side.
        """
        pts = list(self._checks.pulses)
        k = self.JUMP_PULSES
        if len(pts) >= k + 3:
            older = pts[:-k]
            o_int, o_slope = fit_line(older)
            base = older[-1] + o_int
            res = [p - (base + o_slope * (j + 1)) for j, p in enumerate(pts[-k:])]
            # pulses closer together than MAX_BPM allows were bunched by a stall, not a new tempo
            bunched = any(b - a < self.BUNCHED_NS for a, b in zip(pts[-k - 1:], pts[-k:]))
            if not bunched and (all(r > self.JUMP_NS for r in res) or all(r < -self.JUMP_NS for r in res)):
                pts = pts[-(k + 1):]
                self._checks.pulses.clear()
                self._checks.pulses.extend(pts)
        if len(pts) < 2:
            return None
        intercept, slope = fit_line(pts)
        lo = 60 * NS_PER_S / (MAX_BPM * MIDI_PPQN)
        hi = 60 * NS_PER_S / (MIN_BPM * MIDI_PPQN)
        if not (lo <= slope <= hi):
            return None
        return intercept, slope

    def _count_changed(self, ns: int, why: str, pulses: int) -> None:
        self.count_changes.append((ns, self._base_shift(ns), why, pulses))

    def _counting(self) -> bool:
        """Whether a pulse now moves the position (lock held)."""
        return self._running and not self._await_first

    def _release_held(self) -> None:
        """A transport message before the pulse that would tell: a held pulse counts as
        real (see PulseChecks.release_held). Lock held."""
        if self._checks.release_held() and self._counting():
            self._next_pulse += 1

    def _transport(self, event: str, ns: int, position: int | None) -> None:
        with self._lock:
            self._release_held()
            self._checks.forget()  # positions start afresh
            if position is not None:  # Start: a relocation, the old mapping is void
                self._next_pulse = position
                self._history.clear()
            tick = self._next_pulse / PULSES_PER_TICK
            # Until the first pulse arrives, hold the position (frozen segment);
            # ns_at() meanwhile projects from here at the current tempo.
            self._push(ns, tick, math.inf)
            self._running = True
            self._await_first = True
        self._emit(event, tick, ns)

    def _stop(self, ns: int) -> None:
        with self._lock:
            self._release_held()
            if not self._running:
                return
            # freeze where we are, but not beyond where the next pulse would land
            tick = min(self._current_tick(ns), self._next_pulse / PULSES_PER_TICK)
            tick = max(tick, self._history[-1].tick0)
            self._push(ns, tick, math.inf)
            self._running = False
            self._await_first = False
        self._emit("stop", tick, ns)

    def _songpos(self, sixteenths: int, ns: int) -> None:
        with self._lock:
            if self._running:
                return
            self._next_pulse = sixteenths * PULSES_PER_SIXTEENTH
            tick = self._next_pulse / PULSES_PER_TICK
            self._history.clear()
            self._checks.forget()
            self._push(ns, tick, math.inf)
        self._emit("locate", tick, ns)


def _meeting_tick(here: float, ns: int, npt: float, line_tick: float, line_ns: float, line_npt: float) -> float:
    """The tick where a segment from (``ns``, ``here``) at ``npt`` meets the line through
    (``line_ns``, ``line_tick``) at ``line_npt``: ``line_tick`` when the segment aims at
    that point; further on when its rate was held in bounds; inf if they never meet."""
    ahead = here - (line_tick - (line_ns - ns) / line_npt)  # segment minus line at ns, in ticks
    closing = 1 / line_npt - 1 / npt  # how fast the line catches up, ticks per ns
    if ahead == 0:
        return here
    if closing == 0 or ahead / closing < 0:
        return math.inf
    return here + ahead / closing / npt
