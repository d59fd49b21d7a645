"""Where the DAW records what we send: the constant offset between its notes and its clock.

A DAW sends the notes of its tracks ahead of its MIDI clock by its output latency
(Ardour: about 11 ms with its master bus connected), and records what comes in that
much earlier than it arrived. Copied as the player's feel, that offset put every
answer twice as early in the DAW's recording (measured: 21.1 ms). So the *constant*
part of the player's offsets from the grid (a running median) is not feel: it is
the DAW's alignment, and what we send is placed that much later, so the DAW records
it on the grid. Only the variation around it is feel (see :mod:`assistant.live.planner`).
A DAW's offset is the same for every note of a track; a person's timing is not: the
median is learnt only while the onsets agree (three in four within ``AGREE_NS`` of it),
so a live player's own timing does not move what we send; the last constant learnt
stays meanwhile.
A per-port offset from the config adds what cannot be learnt (a hardware synth's
own latency, a DAW's "MIDI clock sync delay").

Threading: :meth:`observe` on the engine thread; :meth:`placement_ns` and
:meth:`learned_ns` from any thread (a read of a plain int).
"""

from __future__ import annotations

import threading
from collections import deque

WINDOW = 32  # the most recent onsets the median runs over
MIN_NOTES = 4  # fewer: nothing learnt yet (a phrase gives more)
LIMIT_NS = 40_000_000  # a constant beyond +-40 ms is not a DAW's alignment: held at the bound
# the onsets agree: three in four within this of their median. A DAW's track, placed at
# frames or through a MIDI driver: under a millisecond. A person's onsets spread more: of
# 7 onsets drawn with a spread (SD) of 3 ms, 0.6 % agree; of 16, none in 20,000 draws
AGREE_NS = 1_500_000


class DawAlignment:
    """The learnt constant offset of the player's onsets from the clock's grid (> 0:
    notes come late), and where that puts what we send."""

    def __init__(self, learn: bool = True):
        self.learn = learn
        self._offsets: deque[int] = deque(maxlen=WINDOW)
        self._lock = threading.Lock()
        self._learned = 0

    def observe(self, onset_offset_ns: int) -> None:
        """One played note's offset from its grid tick (engine thread)."""
        if not self.learn:
            return
        with self._lock:
            self._offsets.append(onset_offset_ns)
            if len(self._offsets) < MIN_NOTES:
                return
            ordered = sorted(self._offsets)
        median = _median(ordered)
        deviations = sorted(abs(x - median) for x in ordered)
        if deviations[min(len(deviations) - 1, len(deviations) * 3 // 4)] > AGREE_NS:
            return  # a person's timing, not a DAW's constant
        self._learned = max(-LIMIT_NS, min(LIMIT_NS, median))

    def learned_ns(self) -> int:
        """The constant offset learnt so far (0 until ``MIN_NOTES`` onsets, or when off)."""
        return self._learned if self.learn else 0

    def placement_ns(self) -> int:
        """How much later than the grid to send, so the DAW records it on the grid: the
        notes' lead on the clock (a negative offset) given back."""
        return -self.learned_ns()


def _median(ordered: list[int]) -> int:
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) // 2
