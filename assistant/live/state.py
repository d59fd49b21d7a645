"""What the player changes at run time on top of the config (:class:`EngineSettings`,
changed only on the engine thread), and the copy of the engine's state the UI reads
(:class:`Snapshot`, built on any thread, never changed after)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..music import Note

MELODY_MODES = ("call", "ghost", "none")


@dataclass
class EngineSettings:
    """What the player changes at run time (controls) on top of the config."""

    mode: str = "call"  # melody suggestions: "call", "ghost" or "none"
    harmony: bool = False  # live accompaniment on the harmony channel
    alternatives: int = 4
    bars: int = 2
    temperature: float = 0.9
    top_p: float = 0.95
    audition: bool = True
    scale_lock: str = "off"
    answer_on: str = "bar"
    stm_weight: float = 1.5

    @property
    def mode_name(self) -> str:
        """As the config writes it: "call", "ghost+harmony", "harmony"..."""
        if self.mode == "none":
            return "harmony" if self.harmony else "none"
        return f"{self.mode}+harmony" if self.harmony else self.mode


def parse_mode(text: str) -> tuple[str, bool]:
    """``(melody mode, harmony on)`` of a config mode: call, ghost, harmony, call+harmony, ghost+harmony."""
    parts = [p.strip() for p in text.split("+")]
    harmony = "harmony" in parts
    melody = [p for p in parts if p != "harmony"]
    if len(melody) > 1 or (melody and melody[0] not in ("call", "ghost")) or not (melody or harmony):
        raise ValueError(f"unknown mode {text!r}: use call, ghost, harmony, call+harmony or ghost+harmony")
    return (melody[0] if melody else "none"), harmony


@dataclass
class Snapshot:
    """A copy of the engine state for the UI (read-only, any thread)."""

    settings: EngineSettings
    running: bool
    tempo_bpm: float
    tick: float
    key: str | None
    selected: int
    alternatives: list[list[Note]]
    suggestion_start: int | None
    accepted_count: int
    last_latency_ms: float | None
    p99_latency_ms: float | None
    messages: list[str] = field(default_factory=list)
    phrase_notes: int = 0
    key_confidence: float | None = None
    held_chord: str | None = None  # what the player holds now, e.g. "G7"
    chord: str | None = None  # the accompaniment's chord on the current beat
    chord_state: str | None = None  # how it was chosen: "decided", "waiting" (for the player's note), "following"
    # (beat tick, chord name, how it will be chosen) for the next two bars
    upcoming: list[tuple[int, str, str]] = field(default_factory=list)
    health: dict[str, int] = field(default_factory=dict)  # input and clock counters, errors (see Engine.health)
