"""Which arriving MIDI clock pulses are real, and whether the count of them is right.

:class:`PulseChecks` keeps the window of recent pulse arrivals that the follower fits its
tempo to, and judges it: a pulse that repeats the one before (held until the next tells),
pulses lost on the way, and the count after stamps the input could not vouch for (against
the last steady line, or from the first pulse after Start). It only judges; the position
and the mapping are :class:`~assistant.clock.midi_follower.MidiClockFollower`'s, which
calls every method here with its lock held, from the engine thread.
"""

from __future__ import annotations

from collections import deque
from typing import Callable

from . import MAX_BPM, MIDI_PPQN, NS_PER_S

WINDOW = MIDI_PPQN  # pulses in the window: one beat
BUNCHED_NS = 60 * NS_PER_S // (int(MAX_BPM) * MIDI_PPQN) // 2  # faster than 2 x MAX_BPM: bunched


class PulseChecks:
    """The window of recent pulses and the judgements on it (see the module's docstring).

    ``timing_unsure(ns)``: True for a stamp the input cannot vouch for (a JACK server
    stall's aftermath): no pulse is then inferred lost or taken for a repeat from timing
    alone. ``base_shift(ns)``: how far the input's time base had moved, in all, for a
    stamp (our JACK ports: see JackClient.base_shift_ns); a DAW whose grid lies on the
    frames moves with it. Not thread-safe: the follower's lock is held around every call.
    """

    def __init__(self, timing_unsure: Callable[[int], bool] | None = None,
                 base_shift: Callable[[int], int] | None = None):
        self._timing_unsure = timing_unsure or (lambda _ns: False)
        self._base_shift = base_shift or (lambda _ns: 0)
        self.pulses: deque[int] = deque(maxlen=WINDOW)  # arrival ns of recent pulses
        self.held: int | None = None  # a pulse that may be a repeat, until the next one tells
        # (pulses taken as lost at the last gap, the period then, whether they were counted)
        self._suspect: tuple[int, float, bool] = (0, 0.0, False)
        # the last steady line: (its time for a pulse, that pulse's song position, ns per pulse);
        # from the first pulse after Start or Continue until the first steady line, that pulse
        # with no period yet (an origin: see _origin_check)
        self._anchor: tuple[float, int, float | None] | None = None
        self._anchor_moved = 0  # the input's time base's move for the anchor's pulse
        # (stamp, our time base's move for it) of every pulse since the origin, while it lasts
        self._since_origin: list[tuple[int, int]] = []
        self._watching = False  # since a pulse the input could not vouch for: see phase_check
        self._since: deque[int] = deque(maxlen=self.PHASE_PULSES)  # regular pulses since the unsure ones
        self.last_judgement = ""  # what the last correction of phase_check came from, in words

    # -- the anchor: the follower's reference for the count -----------------------------
    def forget(self) -> None:
        """Positions start afresh (Start, Continue, a relocation): no anchor, no watch."""
        self._anchor, self._watching, self._since_origin = None, False, []

    def set_origin(self, ns: int, pos: int) -> None:
        """The first pulse after Start or Continue came at ``ns``, at song position ``pos``."""
        self._anchor, self._anchor_moved = (ns, pos, None), self._base_shift(ns)
        self._since_origin = [(ns, self._anchor_moved)]

    def note_running_pulse(self, ns: int) -> None:
        """Every pulse that arrives while the transport runs, before any other call for it."""
        if self._anchor is not None and self._anchor[2] is None:
            self.note_arrival(ns)

    def coast_line(self, ns: int) -> tuple[float, int, float] | None:
        """While the count is in doubt (watching, with a steady line to coast on): the line
        as (its time for a pulse, that pulse's song position, ns per pulse), moved with the
        input's time base since then; else None."""
        if not self._watching or self._anchor is None or self._anchor[2] is None:
            return None
        t_anchor, anchor_pos, period = self._anchor
        return t_anchor + self._base_shift(ns) - self._anchor_moved, anchor_pos, period

    def release_held(self) -> bool:
        """A transport message before the pulse that would tell: a held pulse counts as real
        (the safe side: the grid never runs early); True if there was one, now in the window
        (the caller counts it)."""
        if self.held is None:
            return False
        self.pulses.append(self.held)
        self.held = None
        return True

    PHASE_PULSES = 8  # regular pulses in a row after the unsure ones: the count is judged
    PHASE_TOLERANCE = 0.2  # ...each within this fraction of a pulse of a whole number off the line
    PHASE_REGULAR = 0.15  # regular: this close to one period after the one before
    PHASE_SAME_TEMPO = 0.006  # ...and their own line's period this close to the steady line's
    # the steady line is trusted this many pulses ahead: its slope, fitted over a beat, is good to
    # a few µs a pulse, and a busy server can keep the stamps unsure for seconds (seen: 4 s)
    PHASE_MAX_AGE_PULSES = 32 * MIDI_PPQN

    def phase_check(self, ns: int, gap: int, pos: int) -> tuple[int, bool]:
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
        unsure = self._timing_unsure(ns)
        if unsure and self._anchor is not None:
            self._watching = True
            self._since.clear()
        if not self._watching:
            steady = self.steady_line()
            if steady is not None:
                self._anchor = (self.pulses[-1] + steady[0], pos, steady[1])
                self._anchor_moved = self._base_shift(self.pulses[-1])
            return 0, False
        t_anchor, anchor_pos, period = self._anchor
        if period is None:
            return self._origin_check(pos, unsure)
        if unsure:
            return 0, False
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
        if abs(fit_line(points)[1] / period - 1) > self.PHASE_SAME_TEMPO:
            self._watching, self._anchor = False, None  # a new tempo: the window follows it
            return 0, False
        n = len(points)
        # the grid moved with our time base (a DAW whose transport runs on the frames, which a
        # stall holds back), or where it was in our stamps (a DAW or device that keeps the
        # wall's time): whichever the pulses are a whole number off. Where the move is near a
        # whole number of pulses both fit, and the pulses cannot tell: the frames win, as our
        # ports keep what they hold on its frames (taking the wall there once put the grid a
        # pulse early through JACK, every pulse counted)
        moved = self._base_shift(ns) - self._anchor_moved
        for shift in (moved, 0) if moved else (0,):
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
        self.pulses.clear()
        self.pulses.extend(int(t_anchor + shift + (right - anchor_pos - k) * period)
                            for k in range(WINDOW - 1, 0, -1))
        self.pulses.append(ns)
        self.last_judgement = "checked against the steady line" + (" moved with our time base" if shift else "")
        return d, bool(shift)

    def note_arrival(self, ns: int) -> None:
        """Keep a pulse's stamp for the recount from the origin (lock held); past
        ``PHASE_MAX_AGE_PULSES`` the origin is given up."""
        if len(self._since_origin) > self.PHASE_MAX_AGE_PULSES:
            self._anchor, self._watching, self._since_origin = None, False, []
        else:
            self._since_origin.append((ns, self._base_shift(ns)))

    RECOUNT_CLEAR = 0.35  # a gap is this close to a whole number of the pulses' period, or the recount is not clear
    RECOUNT_MAX_DRIFT = 0.05  # a count found off by more than this share of its pulses is not believed

    def _origin_check(self, pos: int, unsure: bool) -> tuple[int, bool]:
        """The count judged from the first pulse after Start or Continue (the origin), when
        the input could not vouch for its stamps before any steady line (lock held,
        watching, the current pulse ``pos`` the last in the window).

        A busy server can make the stamps unsure from the first pulse on (a storm of xruns),
        and what is counted as it comes there drifts by whole pulses; a steady line formed
        afterwards would keep that error until the next Start. So at the first steady window
        (unsure stamps or not: every pulse of it within ``STEADY_NS`` of its line), every
        gap between the pulses that came since the origin is taken as a whole number of
        periods (a repeat 0, a lost pulse 2, each of a bunch 0 but the gap before it as many
        as it holds), the period being the median gap of its beat, so a tempo change on the
        way is followed. The sum is the count the DAW sent (see _recounted_drift). That
        window's line is then the anchor, at the count as judged: while the stamps stay
        unsure the position coasts on it, moved with our time base, as after any steady
        line (see phase_check)."""
        steady = self.steady_line()
        if steady is None:
            return 0, False  # not yet: the next pulse tells
        d = self._recounted_drift(pos)
        self._anchor = (self.pulses[-1] + steady[0], pos + d, steady[1])
        self._anchor_moved = self._base_shift(self.pulses[-1])
        self._watching = unsure
        self._since.clear()
        if d:
            self.last_judgement = "recounted from the first pulse"
        return d, False

    def _recounted_drift(self, pos: int) -> int:
        """Whole pulses the count is off by since the origin, by the gaps between the pulses
        that came since (see _origin_check); 0 where that is not clear: every gap clearly
        whole (``RECOUNT_CLEAR``), in our stamps or with our time base's moves taken off (a
        DAW's grid on the frames), the two agreeing where both are clear, and a drift within
        ``RECOUNT_MAX_DRIFT`` of the pulses."""
        origin_pos = self._anchor[1]
        arrivals, self._since_origin = self._since_origin, []
        counted = pos - origin_pos
        recounts = [recount(stamps, self.RECOUNT_CLEAR) for stamps in
                    ([ns for ns, _ in arrivals], [ns - moved for ns, moved in arrivals])]
        clear = {r for r in recounts if r is not None}
        if len(clear) != 1:
            return 0
        d = clear.pop() - counted
        return d if abs(d) <= max(2, self.RECOUNT_MAX_DRIFT * counted) else 0

    def steady_line(self) -> tuple[float, float] | None:
        """The fitted line (as fit_line) if the window is full and every pulse in it lies
        within ``STEADY_NS`` of it; else None. Lock held."""
        pulses = self.pulses
        if len(pulses) < WINDOW:
            return None
        points = list(pulses)
        offset, period = fit_line(points)
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

    def repeat_suspect(self, ns: int) -> bool:
        """True if this pulse may repeat the last one (lock held): then it is held back
        until the next pulse tells (see :meth:`settle_repeat`).

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
        pulses = self.pulses
        if len(pulses) < WINDOW or self._suspect[0] or ns - pulses[-1] < self.REPEAT_MIN_GAP_NS:
            return False
        if self._timing_unsure(ns):
            return False
        line = self.steady_line()
        if line is None:
            return False
        offset, period = line
        return (ns - (pulses[-1] + offset)) / period < self.REPEAT_RATIO

    def settle_repeat(self, ns: int) -> bool:
        """At the pulse after a held one: True if the held one was a repeat (this pulse is
        on the line through the window, one period after the original). Otherwise the
        held pulse was real: it joins the window, and the caller counts it, before this
        one. Lock held."""
        held, self.held = self.held, None
        pulses = self.pulses
        offset, period = fit_line(list(pulses))
        if period > 0 and abs(ns - (pulses[-1] + offset + period)) < self.CONFIRM_NS:
            return True
        pulses.append(held)
        return False

    def confirmed_missed_pulses(self, ns: int, counting: bool) -> int:
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
        pulses = self.pulses
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
        if len(pulses) < WINDOW or self._timing_unsure(ns):
            return 0
        offset, period = fit_line(list(pulses))
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
            counted = counting
            self._suspect = (lost, period, counted)
            return lost
        return 0


def fit_line(points: list[int]) -> tuple[float, float]:
    """Least squares through (i, points[i]); returns (fit at the last i minus points[-1], slope).

    A pulse followed by the next one within ``BUNCHED_NS`` was held up
    on the way (a stall bunched it with the next): its stamp says when it came, not when
    it was sent, so it has no weight. The last point of a bunch, the least delayed, counts.
    """
    n = len(points)
    ref = points[-1]
    bunched = BUNCHED_NS
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


def recount(stamps: list[int], clear: float) -> int | None:
    """Pulse periods from the first stamp to the last, each gap rounded to a whole number
    of its beat's median gap; None if a gap is not within ``clear`` of a whole number
    (see PulseChecks._origin_check)."""
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    beat = WINDOW
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
