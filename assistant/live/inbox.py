"""The items of the engine's inbox besides MIDI messages, each with its arrival stamp:
``(item, ns)``. Any thread puts; only the engine thread takes."""

from __future__ import annotations

from dataclasses import dataclass

from ..music import Note


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """Inbox item: perform the action ``name`` (posted by a hotkey, the UI or a script)."""

    name: str


@dataclass(frozen=True, slots=True)
class PlannedMelody:
    """Inbox item: the assistant's own melody as planned (posted from the generator's
    thread), from note ``replace_from`` on if it replaces a plan; the accompaniment hears
    it ahead of time."""

    notes: tuple[Note, ...]
    replace_from: int | None
