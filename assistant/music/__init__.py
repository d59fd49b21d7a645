"""Plain musical data types shared by training, evaluation and run time (this
module), and the package's pure music: ``keys`` (a key finder), ``harmony`` (the
chord vocabulary, a chord recogniser), ``tokens`` (the melody vocabulary), ``ppm``
(variable-order Markov models).

Time is integer ticks, ``TICKS_PER_QUARTER`` to a quarter note, never floats.
Nothing here touches a clock, a port or a model; every function is pure and may be
called from any thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TICKS_PER_QUARTER = 12
"""Ticks per quarter note: covers sixteenths (3) and eighth-note triplets (4)."""


@dataclass(frozen=True, slots=True)
class Note:
    """One note of a melody in ticks.

    ``onset`` counts from the start of the piece (or session); ``duration`` > 0.
    ``velocity`` is 1..127; corpus melodies have none and carry the default.
    """

    onset: int
    duration: int
    pitch: int
    velocity: int = 80

    @property
    def end(self) -> int:
        return self.onset + self.duration


@dataclass(frozen=True, slots=True)
class Meter:
    """A time signature that holds from the bar starting at ``start`` (ticks).

    ``start`` is the tick of a downbeat; it may be negative for a piece that opens
    with a pickup (anacrusis): a quarter-note pickup in 4/4 has its first meter at
    -36 so that the first full bar starts at tick 12.
    """

    start: int
    numerator: int = 4
    denominator: int = 4

    @property
    def bar_ticks(self) -> int:
        return self.numerator * TICKS_PER_QUARTER * 4 // self.denominator


@dataclass(slots=True)
class Melody:
    """A monophonic line: notes sorted by onset, not overlapping, plus its meters.

    ``meters`` is sorted by ``start`` and never empty; ``id`` names the source,
    e.g. ``"essenFolksong/altdeu10.abc#3"``.
    """

    id: str
    collection: str
    notes: list[Note]
    meters: list[Meter] = field(default_factory=lambda: [Meter(0)])

    def meter_at(self, tick: int) -> Meter:
        return meter_at(self.meters, tick)

    def bar_position(self, tick: int) -> int:
        return bar_position(self.meters, tick)

    @property
    def pitches(self) -> list[int]:
        return [n.pitch for n in self.notes]


def meter_at(meters: list[Meter], tick: int) -> Meter:
    """The meter in force at ``tick`` (the first one for ticks before it)."""
    current = meters[0]
    for m in meters[1:]:
        if m.start <= tick:
            current = m
        else:
            break
    return current


def bar_position(meters: list[Meter], tick: int) -> int:
    """Ticks since the last downbeat at or before ``tick``."""
    m = meter_at(meters, tick)
    return (tick - m.start) % m.bar_ticks


def bar_start(meters: list[Meter], tick: int) -> int:
    """Tick of the downbeat of the bar containing ``tick``."""
    return tick - bar_position(meters, tick)


def next_bar_start(meters: list[Meter], tick: int) -> int:
    """Tick of the first downbeat strictly after ``tick``."""
    m = meter_at(meters, tick)
    return bar_start(meters, tick) + m.bar_ticks
