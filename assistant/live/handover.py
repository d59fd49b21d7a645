"""What the scheduler has handed over to its timed outputs ahead of time.

A timed output (our JACK ports) takes each message with its time, before that time; a
withdrawable one also gives back what it holds and has not committed. The scheduler keeps
here, per output, the last time given to each note (the next message of that note is never
placed before it) and, for a withdrawable output, every event handed over that may not have
played yet, with enough to plan it again. The scheduler calls everything here with its lock
held, from whichever thread holds it (see :mod:`assistant.live.scheduler`); nothing blocks.
"""

from __future__ import annotations

import itertools
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

from ..clock import NS_PER_S

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Handed:
    """An event handed over to a withdrawable output: enough to plan it again."""

    tick: float
    order: int
    seq: int
    item: Any  # the scheduler's heap item (lane, output, message, ...)
    at_ns: int
    delta: int  # what handing it over added to its note's sounding count


class HandOver:
    """Per timed output, each note's last placed time; per withdrawable output, what was
    handed over and may not have played (see the module docstring). Lock held by the caller."""

    FORGET_NS = NS_PER_S  # a handed-over event this long past its time has played
    KEEP = 64  # ...and is forgotten once more than this many are held

    def __init__(self, timed: Iterable[str], withdrawable: Mapping[str, Any]):
        self._withdrawable = dict(withdrawable)
        self._handed: dict[str, OrderedDict[int, Handed]] = {name: OrderedDict() for name in self._withdrawable}
        # per timed output, (channel, pitch) -> the time of the last note message of that note
        self._tails: dict[str, dict[tuple[int, int], int]] = {name: {} for name in timed}
        self._ids = itertools.count(1)

    def in_note_order(self, output: str, msg, at_ns: int) -> int:
        """``at_ns``, or later where ``output`` holds a message of the same note for later.

        The heap hands one note's messages over in order, but each gets the time the clock
        gives its tick when it is handed over: a note-on planned late (a chord decided a
        tick before its beat) may get a time a little before the note-off handed over
        earlier for the same tick, and the output would play it first, the note-off cutting
        it at once. It goes at the note-off's time instead (after it: the output keeps the
        order of equal times)."""
        tails = self._tails.get(output)
        if tails is None or msg.type not in ("note_on", "note_off"):
            return at_ns
        key = (msg.channel, msg.note)
        at_ns = max(at_ns, tails.get(key, at_ns))
        tails[key] = at_ns
        return at_ns

    def record(self, output: str, tick: float, order: int, seq: int, item, at_ns: int, delta: int) -> int:
        """The id to hand ``item`` over with: 0 for an output that cannot take it back; else
        a new one, the event kept until it has played or is taken back."""
        handed = self._handed.get(output)
        if handed is None:
            return 0
        event_id = next(self._ids) & 0xFFFFFFFF
        handed[event_id] = Handed(tick, order, seq, item, at_ns, delta)
        while len(handed) > self.KEEP:
            first = next(iter(handed.values()))
            if first.at_ns > at_ns - self.FORGET_NS:
                break
            handed.popitem(last=False)
        return event_id

    def refused(self, output: str, event_id: int) -> None:
        """The output refused that event (its port gone): it holds nothing of it."""
        handed = self._handed.get(output)
        if handed is not None:
            handed.pop(event_id, None)

    def holding(self) -> list[str]:
        """The withdrawable outputs that may hold something."""
        return [output for output, handed in self._handed.items() if handed]

    def earliest_matching(self, wanted: Callable[[Handed], bool]) -> Iterator[tuple[str, int, int]]:
        """(output, earliest, latest time) of the events each output holds that ``wanted`` picks."""
        for output, handed in self._handed.items():
            times = [h.at_ns for h in handed.values() if wanted(h)]
            if times:
                yield output, min(times), max(times)

    def handed(self, output: str) -> Iterable[Handed]:
        """What ``output`` holds that may not have played."""
        handed = self._handed.get(output)
        return handed.values() if handed else ()

    def withdraw(self, output: str, from_ns: int) -> list[Handed]:
        """Ask ``output`` back for its uncommitted events at or after ``from_ns``: those it
        gave back, the latest first (for the caller to plan again); the notes' last times
        are then those of what it still holds. A dead port gives nothing back."""
        handed = self._handed[output]
        try:
            answer = self._withdrawable[output].withdraw(from_ns)
        except Exception:  # a dead port: nothing comes back, nothing more plays
            log.debug("scheduler: withdraw on %s failed", output, exc_info=True)
            answer = None
        if answer is None:
            return []
        ids, _cutoff = answer
        taken = set(ids)
        back = [handed.pop(event_id) for event_id in [i for i in reversed(handed) if i in taken]]
        if taken:  # what was taken back no longer holds its note's place
            tails = self._tails[output]
            tails.clear()
            for h in handed.values():
                m = h.item.msg
                if m.type in ("note_on", "note_off"):
                    key = (m.channel, m.note)
                    tails[key] = max(tails.get(key, 0), h.at_ns)
        return back
