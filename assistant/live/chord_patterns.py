"""Accompaniment patterns: the notes of one beat of a voiced chord.

``bar`` (the chord of the downbeat sustained through the bar), ``beat`` (struck on
every beat), ``arpeggio`` (the voicing broken into eighth notes, or three eighths per
dotted beat). Pure functions; any thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..music import Meter, Note, next_bar_start

PATTERNS = ("bar", "beat", "arpeggio")


@dataclass(frozen=True, slots=True)
class Beat:
    tick: int
    index: int  # in its bar
    length: int


def render(pattern: str, beat: Beat, voicing: tuple[int, ...], velocity: int, meter: Meter,
           restrike: bool) -> list[Note]:
    """Notes of one beat of ``pattern`` for a voiced chord (``restrike``: the chord is new
    or this is the first beat played, so a ``bar`` pattern sounds it even off the downbeat)."""
    if not voicing:
        return []
    if pattern == "beat":
        length = max(1, beat.length - 1)
        return [Note(beat.tick, length, p, velocity) for p in voicing]
    if pattern == "bar":
        if beat.index != 0 and not restrike:
            return []
        length = next_bar_start([meter], beat.tick) - beat.tick
        return [Note(beat.tick, length, p, velocity) for p in voicing]
    # arpeggio: eighths (6 ticks) through the beat, bass first, then upward and back
    step = 6
    count = max(1, beat.length // step)
    order = list(voicing) + list(voicing[-2:0:-1])
    start = (beat.index * count) % len(order)
    return [Note(beat.tick + i * step, step if i < count - 1 else beat.length - i * step,
                 order[(start + i) % len(order)], velocity if i == 0 else max(1, velocity - 8))
            for i in range(count)]
