"""Turns generated notes into what is played: humanised, placed in time, never late.

* Velocity follows the player: the median of their recent note velocities, spread
  by a few steps at random (or a fixed velocity from the config).
* Micro-timing follows the player's variation: each note is sent off the grid
  at random by the spread of the player's recent offsets from the grid, within
  +-``timing_ms`` (0: exactly on the grid). Their constant part (the median) is
  the DAW's alignment, not feel: :mod:`assistant.live.alignment` places everything
  we send by it, so copying it here would count it twice.
* Register follows the player: the suggestion's pitch range is the range of their
  recent melody notes widened by a fifth, inside the configured bounds.
* Placement: a suggestion whose first note could not be sent before it is due is
  moved by whole beats until it can, so nothing is played late or bunched.

Threading: ``observe_player`` is called on the engine thread, everything else on
the generator worker; the player statistics are guarded by a lock held for a
few microseconds.
"""

from __future__ import annotations

import random
import threading
from collections import deque

from ..clock import now_ns
from .model import Constraints
from ..music import TICKS_PER_QUARTER, Note

LATE_GUARD_NS = 2_000_000
"""A note must be handed to the scheduler at least this long before it is due."""


class Planner:
    def __init__(self, velocity: int | str = "follow", velocity_spread: int = 8,
                 register: str = "follow", register_low: int = 48, register_high: int = 84,
                 seed: int | None = None, timing_ms: float = 0.0):
        self.fixed_velocity = velocity if isinstance(velocity, int) else None
        self.velocity_spread = velocity_spread
        self.register = register
        self.register_low = register_low
        self.register_high = register_high
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._velocities: deque[int] = deque(maxlen=16)
        self._pitches: deque[int] = deque(maxlen=16)
        self._offsets: deque[int] = deque(maxlen=16)
        self.timing_ns = round(timing_ms * 1e6)

    @classmethod
    def from_config(cls, config, seed: int | None = None) -> "Planner":
        h, s = config.humanise, config.suggest
        return cls(h.velocity, h.velocity_spread, s.register, s.register_low, s.register_high, seed,
                   h.timing_ms)

    # -- engine thread ---------------------------------------------------------
    def observe_player(self, pitch: int, velocity: int) -> None:
        with self._lock:
            self._velocities.append(velocity)
            self._pitches.append(pitch)

    def observe_timing(self, onset_offset_ns: int) -> None:
        """How far off the grid the player struck a note (> 0: late)."""
        with self._lock:
            self._offsets.append(onset_offset_ns)

    # -- generator worker ----------------------------------------------------------
    def constraints(self, pitch_classes: frozenset[int] | None = None,
                    onset_pitch_classes: dict[int, frozenset[int]] | None = None) -> Constraints:
        """Pitch range (and optional scale) for the next suggestion."""
        low, high = self.register_low, self.register_high
        if self.register == "follow":
            with self._lock:
                recent = list(self._pitches)
            if recent:
                low = max(low, min(recent) - 7)
                high = min(high, max(recent) + 7)
                if high - low < 12:  # keep at least an octave to move in
                    centre = (low + high) // 2
                    low, high = max(0, centre - 6), min(127, centre + 6)
        return Constraints(pitch_classes, low, high, tuple(sorted((onset_pitch_classes or {}).items())))

    def velocity(self) -> int:
        if self.fixed_velocity is not None:
            base = self.fixed_velocity
        else:
            with self._lock:
                recent = sorted(self._velocities)
            base = recent[len(recent) // 2] if recent else 80
        spread = self.velocity_spread
        return max(1, min(127, base + (self._rng.randint(-spread, spread) if spread else 0)))

    def timing_offset_ns(self) -> int:
        if not self.timing_ns:
            return 0
        with self._lock:
            recent = sorted(self._offsets)
        if not recent:
            return 0
        spread = (recent[(3 * len(recent)) // 4] - recent[len(recent) // 4]) / 1.35  # IQR -> sigma
        value = self._rng.gauss(0.0, spread) if spread > 0 else 0.0
        return round(max(-self.timing_ns, min(self.timing_ns, value)))

    def humanise(self, note: Note, shift: int = 0) -> tuple[Note, int]:
        """The note moved by ``shift`` ticks with the player's velocity, and its micro-timing (ns)."""
        return Note(note.onset + shift, note.duration, note.pitch, self.velocity()), self.timing_offset_ns()


def shift_until_in_time(clock, onset: int, guard_ns: int = LATE_GUARD_NS, now: int | None = None) -> int:
    """Whole beats (in ticks) to add to ``onset`` so that it is at least ``guard_ns`` ahead of now."""
    now = now_ns() if now is None else now
    shift = 0
    while clock.ns_at(onset + shift) < now + guard_ns:
        shift += TICKS_PER_QUARTER
        if shift > 64 * TICKS_PER_QUARTER:  # clock stopped or absurd: give up shifting
            break
    return shift


def next_start_tick(clock, meters, answer_on: str, guard_ns: int, now: int | None = None) -> int:
    """The first beat (or bar line) at least ``guard_ns`` from now, in ticks."""
    from ..music import bar_start, next_bar_start

    now = now_ns() if now is None else now
    tick = clock.tick_at(now + guard_ns)
    whole = int(tick) if tick == int(tick) else int(tick) + 1
    if answer_on == "bar":
        start = bar_start(meters, whole)
        return start if start >= tick else next_bar_start(meters, whole)
    beat = TICKS_PER_QUARTER
    return -(-whole // beat) * beat
