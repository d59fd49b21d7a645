"""Where the DAW records what we send: the constant offset between its notes and its clock.

A DAW sends the notes of its tracks ahead of its MIDI clock by its output latency
(Ardour: about 11 ms with its master bus connected), and records what comes in that
much earlier than it arrived. Copied as the player's feel, that offset put every
answer twice as early in the DAW's recording (measured: 21.1 ms). So the *constant*
part of the player's offsets from the grid (a running median) is not feel: it is
the DAW's alignment, and what we send is placed that much later, so the DAW records
it on the grid. Only the variation around it is feel (see :mod:`assistant.live.planner`).
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
        n = len(ordered)
        median = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) // 2
        self._learned = max(-LIMIT_NS, min(LIMIT_NS, median))

    def learned_ns(self) -> int:
        """The constant offset learnt so far (0 until ``MIN_NOTES`` onsets, or when off)."""
        return self._learned if self.learn else 0

    def placement_ns(self) -> int:
        """How much later than the grid to send, so the DAW records it on the grid: the
        notes' lead on the clock (a negative offset) given back."""
        return -self.learned_ns()
