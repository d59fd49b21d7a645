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

from . import (MAX_BPM, MIDI_PPQN, MIN_BPM, NS_PER_S, PULSES_PER_SIXTEENTH, PULSES_PER_TICK, _TickMap,
                    now_ns)
from ..music import Meter


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
    Pulses bunched by a stall have no weight in the line (see ``_fit_line``).
    """

    WINDOW = MIDI_PPQN
    JUMP_PULSES = 3
    JUMP_NS = 2_000_000  # above JACK's period jitter (1.33 ms) at any sane period
    GAP_NS = 60 * NS_PER_S // (int(MIN_BPM) * MIDI_PPQN)  # slower than MIN_BPM: a new series
    BUNCHED_NS = 60 * NS_PER_S // (int(MAX_BPM) * MIDI_PPQN) // 2  # faster than 2 x MAX_BPM: bunched

    def __init__(self, meters: list[Meter] | None = None, tempo_bpm: float = 120.0,
                 now: Callable[[], int] = now_ns, timing_unsure: Callable[[int], bool] | None = None,
                 base_shift: Callable[[int], int] | None = None):
        super().__init__(tempo_bpm, meters, now)
        # how far the input's time base had moved, in all, for a stamp (our JACK ports: see
        # JackClient.base_shift_ns): a DAW whose grid lies on the frames moves with it
        self._base_shift = base_shift or (lambda _ns: 0)
        self._anchor_moved = 0  # ...as it was for the anchor's pulse
        # True for a stamp the input cannot vouch for (a JACK server stall's aftermath): no
        # pulse is then inferred lost or taken for a repeat from timing alone
        self._timing_unsure = timing_unsure or (lambda _ns: False)
        self._pulses: deque[int] = deque(maxlen=self.WINDOW)  # arrival ns of recent pulses
        self._next_pulse = 0  # song position (pulses) the next clock pulse lands on
        self._await_first = False  # after Start/Continue: the next pulse anchors the position
        self._last_ns = 0
        self.pulse_count = 0
        self.missed_pulses = 0  # pulses inferred lost on the way (see _confirmed_missed_pulses)
        self.repeated_pulses = 0  # pulses taken for repeats and dropped (see _repeat_suspect)
        self._held_pulse: int | None = None  # a pulse that may be a repeat, until the next one tells
        # (pulses taken as lost at the last gap, the period then, whether they were counted)
        self._suspect: tuple[int, float, bool] = (0, 0.0, False)
        # the last steady line: (its time for a pulse, that pulse's song position, ns per pulse);
        # from the first pulse after Start or Continue until the first steady line, that pulse
        # with no period yet (an origin: see _origin_check)
        self._anchor: tuple[float, int, float | None] | None = None
        # (stamp, our time base's move for it) of every pulse since the origin, while it lasts
        self._since_origin: list[tuple[int, int]] = []
        self._watching = False  # since a pulse the input could not vouch for: see _phase_check
        self._since: deque[int] = deque(maxlen=self.PHASE_PULSES)  # regular pulses since the unsure ones

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
        """Count one pulse; (tick, ns) if the count was corrected (see _phase_check)."""
        ns = max(ns, self._last_ns)
        gap = ns - self._last_ns if self.pulse_count else 0
        self._last_ns = ns
        self.pulse_count += 1
        with self._lock:
            if self._anchor is not None and self._anchor[2] is None and self._running:
                self._note_since_origin(ns)
            if self._held_pulse is not None and self._settle_repeat(ns):
                self.repeated_pulses += 1
            elif self._repeat_suspect(ns):
                self._held_pulse = ns
                return None
            pulses = self._pulses
            if pulses and ns - pulses[-1] > self.GAP_NS:
                pulses.clear()
            missed = self._confirmed_missed_pulses(ns)
            pulses.append(ns)
            if missed and self._running and not self._await_first:
                self._next_pulse += missed
                self.missed_pulses += missed
            fit = self._estimate()
            if fit is not None:
                self._npt = fit[1] * PULSES_PER_TICK
            if not self._running:
                return None
            corrected, grid_moved = (0, False) if self._await_first else self._phase_check(ns, gap)
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
                self._anchor, self._anchor_moved = (ns, self._next_pulse - 1, None), self._base_shift(ns)
                self._since_origin = [(ns, self._anchor_moved)]
                self._push(ns, target_tick, self._npt)
                return None
            here = self._current_tick(ns)
            if self._watching and self._anchor[2] is not None:
                # the count is in doubt until the phase check judges it: coast on the last
                # steady line, which repeats, losses and bunches in the stall do not move,
                # moved with our time base as a DAW's grid on the frames is (a JACK DAW's
                # transport runs on them); one that keeps the wall's time is set right
                # when the check finds it there
                t_anchor, anchor_pos, period = self._anchor
                moved = self._base_shift(ns) - self._anchor_moved
                self._npt = nominal = period * PULSES_PER_TICK
                next_ns = ns + period
                next_tick = (anchor_pos + (next_ns - t_anchor - moved) / period) / PULSES_PER_TICK
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

    PHASE_PULSES = 8  # regular pulses in a row after the unsure ones: the count is judged
    PHASE_TOLERANCE = 0.2  # ...each within this fraction of a pulse of a whole number off the line
    PHASE_REGULAR = 0.15  # regular: this close to one period after the one before
    PHASE_SAME_TEMPO = 0.006  # ...and their own line's period this close to the steady line's
    # the steady line is trusted this many pulses ahead: its slope, fitted over a beat, is good to
    # a few µs a pulse, and a busy server can keep the stamps unsure for seconds (seen: 4 s)
    PHASE_MAX_AGE_PULSES = 32 * MIDI_PPQN

    def _phase_check(self, ns: int, gap: int) -> tuple[int, bool]:
        """Whole pulses the count is off by, to be corrected now, and whether the grid was
        found moved with the input's time base (lock held, running).

        Where the input cannot vouch for its stamps (``timing_unsure``: our JACK ports,
        around a stall of the server) no single pulse is taken for a repeat or a lost one:
        jack2 also bunches pulses and repeats whole cycles there. The count is checked
        afterwards instead, against the line of the last steady window before: once
        ``PHASE_PULSES`` regular pulses in a row have come at that line's tempo, all the same
        whole number of pulses off it, pulses were repeated (negative) or lost (positive)
        on the way. Pulses at another tempo end the watch: nothing is corrected. While the
        watch lasts the position coasts on that line (see _pulse_locked), so what is handed
        over meanwhile is placed where the DAW's grid is, whatever the count says.
        """
        pos = self._next_pulse
        unsure = self._timing_unsure(ns)
        if unsure and self._anchor is not None:
            self._watching = True
            self._since.clear()
        if not self._watching:
            steady = self._steady_line()
            if steady is not None:
                self._anchor = (self._pulses[-1] + steady[0], pos, steady[1])
                self._anchor_moved = self._base_shift(self._pulses[-1])
            return 0, False
        t_anchor, anchor_pos, period = self._anchor
        if unsure:
            return 0, False
        if period is None:
            return self._origin_check(pos)
        if (ns - t_anchor) / period > self.PHASE_MAX_AGE_PULSES:
            self._watching, self._anchor = False, None
            return 0, False
        since = self._since
        if abs(gap / period - 1) >= self.PHASE_REGULAR:
            since.clear()
            return 0, False
        since.append(ns)
        if len(since) < self.PHASE_PULSES:
            return 0, False
        points = list(since)
        if abs(_fit_line(points)[1] / period - 1) > self.PHASE_SAME_TEMPO:
            self._watching, self._anchor = False, None  # a new tempo: the window follows it
            return 0, False
        n = len(points)
        # the grid where it was in our stamps (a DAW or device that keeps the wall's time), or
        # moved with our time base (a DAW whose transport runs on the frames, which a stall
        # holds back): whichever the pulses are a whole number off; the first if both are
        moved = self._base_shift(ns) - self._anchor_moved
        for shift in (0, moved) if moved else (0,):
            offs = [anchor_pos + (p - t_anchor - shift) / period - (pos - (n - 1 - i)) for i, p in enumerate(points)]
            d = round(offs[-1])
            if all(abs(o - d) < self.PHASE_TOLERANCE for o in offs):
                break
        else:
            return 0, False  # not yet clear: the next pulse tells
        self._watching = False
        if d == 0 and not shift:
            return 0, False
        # the window as the line has it, up to this pulse at its right place: a repeat
        # left in it would tilt the fit for a beat
        right = pos + d
        self._pulses.clear()
        self._pulses.extend(int(t_anchor + shift + (right - anchor_pos - k) * period)
                            for k in range(self.WINDOW - 1, 0, -1))
        self._pulses.append(ns)
        return d, bool(shift)

    def _note_since_origin(self, ns: int) -> None:
        """Keep a pulse's stamp for the recount from the origin (lock held); past
        ``PHASE_MAX_AGE_PULSES`` the origin is given up."""
        if len(self._since_origin) > self.PHASE_MAX_AGE_PULSES:
            self._anchor, self._watching, self._since_origin = None, False, []
        else:
            self._since_origin.append((ns, self._base_shift(ns)))

    RECOUNT_CLEAR = 0.35  # a gap is this close to a whole number of the pulses' period, or the recount is not clear
    RECOUNT_MAX_DRIFT = 0.05  # a count found off by more than this share of its pulses is not believed

    def _origin_check(self, pos: int) -> tuple[int, bool]:
        """The count judged from the first pulse after Start or Continue (the origin), when
        the input could not vouch for its stamps before any steady line (lock held,
        watching, the current pulse ``pos`` the last in the window).

        A busy server can make the stamps unsure from the first pulse on (a storm of xruns),
        and what is counted as it comes there drifts by whole pulses; a steady line formed
        afterwards would keep that error until the next Start. So at the first steady window
        after the storm, every gap between the pulses that came since the origin is taken as
        a whole number of periods (a repeat 0, a lost pulse 2, each of a bunch 0 but the
        gap before it as many as it holds), the period being the median gap of its beat,
        so a tempo change on the way is followed. The sum is the count the DAW sent. It
        is believed only where every gap is clearly whole (``RECOUNT_CLEAR``), in our
        stamps or with our time base's moves taken off (a DAW's grid on the frames); where
        both are clear they must agree; and a drift beyond ``RECOUNT_MAX_DRIFT`` of the
        pulses is not believed. Otherwise nothing is corrected, as before any check."""
        steady = self._steady_line()
        if steady is None:
            return 0, False  # not yet: the next pulse tells
        origin_pos = self._anchor[1]
        self._watching, self._anchor = False, None  # judged now, or not at all
        arrivals, self._since_origin = self._since_origin, []
        counted = pos - origin_pos
        recounts = [_recount(stamps, self.RECOUNT_CLEAR) for stamps in
                    ([ns for ns, _ in arrivals], [ns - moved for ns, moved in arrivals])]
        clear = {r for r in recounts if r is not None}
        if len(clear) != 1:
            return 0, False
        d = clear.pop() - counted
        if d == 0 or abs(d) > max(2, self.RECOUNT_MAX_DRIFT * counted):
            return 0, False
        return d, False

    def _steady_line(self) -> tuple[float, float] | None:
        """The fitted line (as _fit_line) if the window is full and every pulse in it lies
        within ``STEADY_NS`` of it; else None. Lock held."""
        pulses = self._pulses
        if len(pulses) < self.WINDOW:
            return None
        points = list(pulses)
        offset, period = _fit_line(points)
        if period <= 0:
            return None
        line_last = points[-1] + offset
        n = len(points)
        if any(abs(p - (line_last - (n - 1 - i) * period)) > self.STEADY_NS for i, p in enumerate(points)):
            return None
        return offset, period


    REPEAT_RATIO = 0.35  # a pulse this little of a period after the line's place for the last one
    REPEAT_MIN_GAP_NS = 200_000  # ...and at least this long after it (a JACK period is >= 0.33 ms)
    STEADY_NS = 600_000  # ...when every pulse of the window was this close to the fitted line
    CONFIRM_NS = 800_000  # the next pulse this close to the line's place for it confirms a repeat

    def _repeat_suspect(self, ns: int) -> bool:
        """True if this pulse may repeat the last one (lock held): then it is held back
        until the next pulse tells (see :meth:`_settle_repeat`).

        The mirror of a lost pulse. When a client misses its deadline, JACK2 may hand
        its events again, and a DAW's MIDI driver may repeat a message after its own
        xrun; one extra pulse would put the whole grid a pulse (21 ms at 120 BPM) early
        until the next Start. A repeat comes at least a JACK period after the original,
        less than ``REPEAT_RATIO`` of a pulse period, while the clock was steady (every
        pulse of a full window within ``STEADY_NS`` of the fitted line). Pulses bunched
        by a stall of the server carry one stamp (the gap is under ``REPEAT_MIN_GAP_NS``),
        and after a stall JACK's own frame times wobble by a millisecond or more, so the
        window is not steady there: neither is taken for a repeat.
        """
        pulses = self._pulses
        if len(pulses) < self.WINDOW or self._suspect[0] or ns - pulses[-1] < self.REPEAT_MIN_GAP_NS:
            return False
        if self._timing_unsure(ns):
            return False
        line = self._steady_line()
        if line is None:
            return False
        offset, period = line
        return (ns - (pulses[-1] + offset)) / period < self.REPEAT_RATIO

    def _settle_repeat(self, ns: int) -> bool:
        """At the pulse after a held one: True if the held one was a repeat (this pulse is
        on the line through the window, one period after the original). Otherwise the
        held pulse was real and is counted now, before this one. Lock held."""
        held, self._held_pulse = self._held_pulse, None
        pulses = self._pulses
        offset, period = _fit_line(list(pulses))
        if period > 0 and abs(ns - (pulses[-1] + offset + period)) < self.CONFIRM_NS:
            return True
        pulses.append(held)
        if self._running and not self._await_first:
            self._next_pulse += 1
        return False

    def _confirmed_missed_pulses(self, ns: int) -> int:
        """Pulses lost on the way (positive), or taken back (negative), at this pulse.

        A lost pulse would otherwise leave the whole grid one pulse (half a tick)
        behind until the next Start. With a full, steady window, a gap of about 2
        or 3 pulse periods means pulses were lost: they are counted at once (the
        regression gets the missing points back, evenly spaced), so the grid never
        lags. Counting them only when the next pulse confirmed the steady tempo
        let the grid stall for that one pulse period, and a beat inside it sounded
        up to a pulse (21 ms at 120 BPM) late: seen once in ~1500 chords through
        JACK. If instead the next interval is not one period again, the tempo
        really changed: the provisional pulses are taken back. Around a stall of the
        JACK server its frame times can jump by a period or more, which looks exactly
        like a lost pulse: stamps the input cannot vouch for (``timing_unsure``) infer
        nothing, and what arrives is counted as it is. Lock held.
        """
        pulses = self._pulses
        suspect, period, counted = self._suspect
        self._suspect = (0, 0.0, False)
        if suspect:
            if abs((ns - pulses[-1]) / period - 1) < 0.1:
                return 0  # confirmed: already counted
            last = pulses.pop()
            for _ in range(suspect):
                pulses.pop()
            pulses.append(last)
            return -suspect if counted else 0
        if len(pulses) < self.WINDOW or self._timing_unsure(ns):
            return 0
        offset, period = _fit_line(list(pulses))
        # The gap is measured from where the line puts the last pulse, not from its
        # arrival: when the server stalls, pulses of the stalled cycles are stamped
        # together (one a period early) and the next gap is two periods long although
        # nothing was lost. From the line that gap is one period and a fraction.
        ratio = (ns - (pulses[-1] + offset)) / period if period > 0 else 0.0
        whole = round(ratio)
        if 2 <= whole <= 3 and abs(ratio - whole) < 0.1:
            lost = whole - 1
            before = pulses[-1]
            for j in range(lost):
                pulses.append(before + (ns - before) * (j + 1) // whole)
            counted = self._running and not self._await_first
            self._suspect = (lost, period, counted)
            return lost
        return 0

    def _estimate(self) -> tuple[float, float] | None:
        """(fitted ns of the newest pulse minus its arrival, ns per pulse), or None.

        Drops the older pulses first when the newest ``JUMP_PULSES`` all miss the
        line through the older ones by more than ``JUMP_NS`` on the same side.
        """
        pts = list(self._pulses)
        k = self.JUMP_PULSES
        if len(pts) >= k + 3:
            older = pts[:-k]
            o_int, o_slope = _fit_line(older)
            base = older[-1] + o_int
            res = [p - (base + o_slope * (j + 1)) for j, p in enumerate(pts[-k:])]
            # pulses closer together than MAX_BPM allows were bunched by a stall, not a new tempo
            bunched = any(b - a < self.BUNCHED_NS for a, b in zip(pts[-k - 1:], pts[-k:]))
            if not bunched and (all(r > self.JUMP_NS for r in res) or all(r < -self.JUMP_NS for r in res)):
                pts = pts[-(k + 1):]
                self._pulses.clear()
                self._pulses.extend(pts)
        if len(pts) < 2:
            return None
        intercept, slope = _fit_line(pts)
        lo = 60 * NS_PER_S / (MAX_BPM * MIDI_PPQN)
        hi = 60 * NS_PER_S / (MIN_BPM * MIDI_PPQN)
        if not (lo <= slope <= hi):
            return None
        return intercept, slope

    def _release_held(self) -> None:
        """A transport message before the pulse that would tell: a held pulse counts as
        real (the safe side: the grid never runs early). Lock held."""
        if self._held_pulse is not None:
            self._pulses.append(self._held_pulse)
            if self._running and not self._await_first:
                self._next_pulse += 1
            self._held_pulse = None

    def _transport(self, event: str, ns: int, position: int | None) -> None:
        with self._lock:
            self._release_held()
            self._anchor, self._watching = None, False  # positions start afresh
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
            self._anchor, self._watching = None, False
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


def _fit_line(points: list[int]) -> tuple[float, float]:
    """Least squares through (i, points[i]); returns (fit at the last i minus points[-1], slope).

    A pulse followed by the next one within ``MidiClockFollower.BUNCHED_NS`` was held up
    on the way (a stall bunched it with the next): its stamp says when it came, not when
    it was sent, so it has no weight. The last point of a bunch, the least delayed, counts.
    """
    n = len(points)
    ref = points[-1]
    bunched = MidiClockFollower.BUNCHED_NS
    xs = [i for i in range(n) if i == n - 1 or points[i + 1] - points[i] >= bunched]
    if len(xs) < 2:
        xs = list(range(n))
    m = len(xs)
    xm = sum(xs) / m
    ym = sum(points[i] - ref for i in xs) / m
    sxx = sxy = 0.0
    for i in xs:
        dx = i - xm
        sxx += dx * dx
        sxy += dx * (points[i] - ref - ym)
    slope = sxy / sxx
    return ym + slope * (n - 1 - xm), slope


def _recount(stamps: list[int], clear: float) -> int | None:
    """Pulse periods from the first stamp to the last, each gap rounded to a whole number
    of its beat's median gap; None if a gap is not within ``clear`` of a whole number
    (see MidiClockFollower._origin_check)."""
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    beat = MidiClockFollower.WINDOW
    total = 0
    for start in range(0, len(gaps), beat):
        chunk = gaps[start:start + beat] if len(gaps) - start >= 2 * beat else gaps[start:]
        period = sorted(chunk)[len(chunk) // 2]
        if period <= 0:
            return None
        for gap in chunk:
            whole = round(gap / period)
            if abs(gap / period - whole) > clear:
                return None
            total += whole
        if len(chunk) > beat:
            break
    return total
