"""Turns timestamped input messages into notes in beat ticks, a melody line and phrases.

Fed on the engine thread with the ``(msg, arrival_ns)`` pairs the input callback
queued (never on the MIDI thread). Positions come from the clock: a note's onset
and end are the *nearest* whole tick of ``clock.tick_at(ns)``; how early or late
the player was against that tick is kept (``onset_offset_ns``, ``end_offset_ns``)
for humanisation later.

* Held notes are tracked per (channel, pitch); a note-on with velocity 0 is a
  note-off; a repeated note-on of a held key ends the first one there.
* Channels: all but channel 10 (index 9, drums) by default.
* Melody line: the highest sounding note. A new higher note cuts the current
  melody note's duration at its onset (a lower note struck on the same tick is
  dropped: a chord gives its top note); a lower note played under a held
  melody note is not melody. When the melody note ends, a lower note still held
  does not become melody: melody notes start only at real onsets.
* Phrase end, whichever comes first: ``silence_beats`` of silence after the last
  note-off; the first bar line reached after at least ``bar_min_silence_beats`` of
  silence, confirmed ``bar_grace_ticks`` later if still silent (a downbeat played
  a little late does not end the phrase); or an explicit :meth:`Capture.end_phrase`.
  Time-based ends need :meth:`Capture.poll` to be called regularly (every few ms,
  or on every clock pulse); :meth:`Capture.feed` also checks before a note-on.

Every method returns a list of events: :class:`NoteStarted`, :class:`NoteEnded`,
:class:`MelodyNote` and :class:`PhraseEnd`, in the order they happened. Not
thread-safe: one engine thread owns a Capture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..clock import TICK_EPS, floor_tick
from ..errors import UserError
from ..music import TICKS_PER_QUARTER, Note, bar_position, next_bar_start

DRUM_CHANNEL = 9


@dataclass(frozen=True, slots=True)
class Played:
    """A completed note as played: the grid note plus how far off the grid it was."""

    note: Note
    channel: int
    onset_offset_ns: int  # arrival minus the time of note.onset: > 0 late, < 0 early
    end_offset_ns: int

    @property
    def onset_offset_ms(self) -> float:
        return self.onset_offset_ns / 1e6


@dataclass(frozen=True, slots=True)
class NoteStarted:
    tick: int
    pitch: int
    velocity: int
    channel: int
    offset_ns: int


@dataclass(frozen=True, slots=True)
class NoteEnded:
    played: Played


@dataclass(frozen=True, slots=True)
class MelodyNote:
    note: Note


@dataclass(frozen=True, slots=True)
class Phrase:
    """A finished phrase: all notes and the melody line, sorted by onset."""

    notes: tuple[Played, ...]
    melody: tuple[Note, ...]
    start: int  # first onset
    end: int  # latest note end
    reason: str  # 'silence', 'bar' or 'explicit'
    detected_at: int  # tick at which the end was decided


@dataclass(frozen=True, slots=True)
class PhraseEnd:
    phrase: Phrase


@dataclass(slots=True)
class _Held:
    onset: int
    velocity: int
    offset_ns: int
    cut: bool = False  # closed by end_phrase: its later note-off is ignored


@dataclass(slots=True)
class _MelodyHead:
    pitch: int
    channel: int
    onset: int
    velocity: int


def _nearest(x: float) -> int:
    return math.floor(x + 0.5)


def _check_channels(channels, what: str) -> set[int]:
    out = set()
    for ch in channels:
        if not isinstance(ch, int) or not 0 <= ch <= 15:
            raise UserError(f"{what} {ch!r} is out of range: use channel indexes 0..15 (MIDI channels 1..16)")
        out.add(ch)
    return out


class Capture:
    """See the module docstring. ``clock`` is any :class:`assistant.clock.Clock`."""

    def __init__(
        self,
        clock,
        *,
        channels=None,
        ignore_channels=(DRUM_CHANNEL,),
        silence_beats: float | None = 2.0,
        bar_line: bool = True,
        bar_min_silence_beats: float = 1.0,
        bar_grace_ticks: int = 2,
    ):
        self.clock = clock
        chosen = _check_channels(range(16) if channels is None else channels, "capture channel")
        self.channels = chosen - _check_channels(ignore_channels, "ignored channel")
        for value, what in ((silence_beats, "phrase silence"), (bar_min_silence_beats, "bar-line silence")):
            if value is not None and not (isinstance(value, (int, float)) and 0 < value <= 64):
                raise UserError(f"{what} {value!r} beats is out of range: use a number of beats in (0, 64]")
        self.silence_ticks = None if silence_beats is None else silence_beats * TICKS_PER_QUARTER
        self.bar_line = bar_line
        self.bar_min_silence_ticks = bar_min_silence_beats * TICKS_PER_QUARTER
        self.bar_grace_ticks = bar_grace_ticks

        self.held: dict[tuple[int, int], _Held] = {}
        self._notes: list[Played] = []
        self._melody: list[Note] = []
        self._head: _MelodyHead | None = None
        self._silent_since: float | None = None  # tick when the last held note ended

    # -- input ----------------------------------------------------------------------
    def feed(self, msg, ns: int) -> list:
        """Process one message; non-note messages and other channels are ignored."""
        kind = msg.type
        if kind not in ("note_on", "note_off") or msg.channel not in self.channels:
            return []
        out: list = []
        if kind == "note_on" and msg.velocity > 0:
            out += self.poll(ns)
            self._note_on(msg.channel, msg.note, msg.velocity, ns, out)
        else:
            self._note_off(msg.channel, msg.note, ns, out)
        return out

    def poll(self, ns: int) -> list:
        """Check the time-based phrase ends at ``ns``."""
        if self.held or self._silent_since is None or not (self._notes or self._melody):
            return []
        now = self.clock.tick_at(ns)
        due = self._due_ends()
        for at, reason in sorted(due):
            if now + TICK_EPS >= at:
                return [self._finish(reason, floor_tick(now))]
        return []

    def end_phrase(self, ns: int | None = None) -> list:
        """End the phrase now: held notes are cut here (their note-offs then ignored)."""
        ns = self.clock.now() if ns is None else ns
        out: list = []
        tick = _nearest(self.clock.tick_at(ns))
        for (channel, pitch), h in list(self.held.items()):
            if not h.cut:
                self._complete(channel, pitch, h, tick, ns, out)
                h.cut = True
        if not (self._notes or self._melody):
            return out
        out.append(self._finish("explicit", floor_tick(self.clock.tick_at(ns))))
        return out

    # -- state ----------------------------------------------------------------------
    def expected_end_tick(self) -> float | None:
        """When the phrase will end if nothing more is played (ticks), or None while notes
        are held or no phrase is open. The engine uses it to prepare the answer early."""
        if self.held or self._silent_since is None or not (self._notes or self._melody):
            return None
        due = self._due_ends()
        return min(at for at, _ in due) if due else None

    @property
    def in_phrase(self) -> bool:
        """Notes are held or a phrase has started and not yet ended (cheap: for polling)."""
        return bool(self.held or self._notes or self._melody)

    @property
    def phrase_notes(self) -> list[Played]:
        """Completed notes of the phrase so far, by onset."""
        return sorted(self._notes, key=lambda p: (p.note.onset, p.note.pitch))

    @property
    def phrase_melody(self) -> list[Note]:
        return sorted(self._melody, key=lambda n: n.onset)

    # -- internals --------------------------------------------------------------------
    def _due_ends(self) -> list[tuple[float, str]]:
        since = self._silent_since
        due = []
        if self.silence_ticks is not None:
            due.append((since + self.silence_ticks, "silence"))
        if self.bar_line:
            first = math.ceil(since + self.bar_min_silence_ticks - TICK_EPS)
            meters = self.clock.meters
            downbeat = first if bar_position(meters, first) == 0 else next_bar_start(meters, first)
            due.append((downbeat + self.bar_grace_ticks, "bar"))
        return due

    def _note_on(self, channel: int, pitch: int, velocity: int, ns: int, out: list) -> None:
        key = (channel, pitch)
        if key in self.held:  # a repeated note-on: the first one ends here
            self._note_off(channel, pitch, ns, out)
        exact = self.clock.tick_at(ns)
        tick = _nearest(exact)
        offset = ns - self.clock.ns_at(tick)
        self.held[key] = _Held(tick, velocity, offset)
        self._silent_since = None
        out.append(NoteStarted(tick, pitch, velocity, channel, offset))
        head = self._head
        if head is None or pitch > head.pitch:
            if head is not None and tick > head.onset:
                self._emit_melody(head, tick, out)
            self._head = _MelodyHead(pitch, channel, tick, velocity)

    def _note_off(self, channel: int, pitch: int, ns: int, out: list) -> None:
        h = self.held.pop((channel, pitch), None)
        if h is None:
            return
        if not h.cut:
            tick = _nearest(self.clock.tick_at(ns))
            self._complete(channel, pitch, h, tick, ns, out)
        if not self.held:
            self._silent_since = self.clock.tick_at(ns)

    def _complete(self, channel: int, pitch: int, h: _Held, tick: int, ns: int, out: list) -> None:
        end = max(tick, h.onset + 1)
        played = Played(Note(h.onset, end - h.onset, pitch, h.velocity), channel, h.offset_ns,
                        ns - self.clock.ns_at(tick))
        self._notes.append(played)
        out.append(NoteEnded(played))
        head = self._head
        if head is not None and head.pitch == pitch and head.channel == channel and head.onset == h.onset:
            self._emit_melody(head, end, out)
            self._head = None

    def _emit_melody(self, head: _MelodyHead, end: int, out: list) -> None:
        note = Note(head.onset, max(1, end - head.onset), head.pitch, head.velocity)
        self._melody.append(note)
        out.append(MelodyNote(note))

    def _finish(self, reason: str, detected_at: int) -> PhraseEnd:
        notes = tuple(self.phrase_notes)
        melody = tuple(self.phrase_melody)
        ticks = [p.note.onset for p in notes] + [n.onset for n in melody]
        ends = [p.note.end for p in notes] + [n.end for n in melody]
        phrase = Phrase(notes, melody, min(ticks), max(ends), reason, detected_at)
        self._notes, self._melody = [], []
        self._silent_since = None
        if self._head is not None and all(h.cut for h in self.held.values()):
            self._head = None
        return PhraseEnd(phrase)
