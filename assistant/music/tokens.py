"""The melody event vocabulary: one truth for training, evaluation and run time.

A melody becomes, per note, an optional run of REST tokens (silence since the end
of the previous note, or since the downbeat of the first bar for the first note),
one DUR token and one PITCH token, in that order. The model therefore predicts the
rhythm first and then the pitch *given* the note's onset and duration, which is
what makes our pitch figure comparable to IDyOM's pitch-given-rhythm viewpoint.

Every token also carries two input features that the model sees but never
predicts: the bar position of the time cursor after the token (ticks since the
last downbeat) and the meter. After a PITCH token the cursor is where the next
event may begin, so each prediction knows where in the bar it stands.

Grid: 12 ticks to a quarter note (``music.TICKS_PER_QUARTER``).
Exact round trip: any rest (long rests are chained REST tokens) and any duration
of 1..``MAX_DUR`` ticks; a longer note is clamped to ``MAX_DUR`` (4 whole notes).

Token ids::

    0                PAD
    1                BOS    (start of a melody; the cursor sits on a downbeat)
    2 .. 97          REST_1 .. REST_96
    98 .. 289        DUR_1 .. DUR_192
    290 .. 417       PITCH_0 .. PITCH_127

Everything here is pure and thread-safe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import Melody, Meter, Note, bar_position, bar_start, meter_at

PAD = 0
BOS = 1
MAX_REST = 96
MAX_DUR = 192
REST_BASE = 2
DUR_BASE = REST_BASE + MAX_REST
PITCH_BASE = DUR_BASE + MAX_DUR
VOCAB_SIZE = PITCH_BASE + 128

POSITIONS = 96
"""Bar-position feature values 0..95; positions in longer bars are clamped."""

METERS: tuple[tuple[int, int], ...] = (
    (4, 4), (3, 4), (2, 4), (6, 8), (2, 2), (3, 8),
    (9, 8), (12, 8), (3, 2), (6, 4), (5, 4),
)
"""Meter feature ids 0..10; any other meter gets id ``len(METERS)``."""
METER_IDS = len(METERS) + 1

KIND_SPECIAL, KIND_REST, KIND_DUR, KIND_PITCH = 0, 1, 2, 3


def rest_token(ticks: int) -> int:
    assert 1 <= ticks <= MAX_REST
    return REST_BASE + ticks - 1


def dur_token(ticks: int) -> int:
    assert 1 <= ticks <= MAX_DUR
    return DUR_BASE + ticks - 1


def pitch_token(pitch: int) -> int:
    assert 0 <= pitch <= 127
    return PITCH_BASE + pitch


def kind_of(token: int) -> int:
    if token < REST_BASE:
        return KIND_SPECIAL
    if token < DUR_BASE:
        return KIND_REST
    if token < PITCH_BASE:
        return KIND_DUR
    return KIND_PITCH


def value_of(token: int) -> int:
    """Ticks of a REST/DUR token, MIDI pitch of a PITCH token."""
    kind = kind_of(token)
    if kind == KIND_REST:
        return token - REST_BASE + 1
    if kind == KIND_DUR:
        return token - DUR_BASE + 1
    if kind == KIND_PITCH:
        return token - PITCH_BASE
    raise ValueError(f"token {token} has no value")


def meter_id(meter: Meter) -> int:
    try:
        return METERS.index((meter.numerator, meter.denominator))
    except ValueError:
        return len(METERS)


# Masks over the vocabulary, by what may come next in the grammar.
_REST_OR_DUR = np.zeros(VOCAB_SIZE, dtype=bool)
_REST_OR_DUR[REST_BASE:PITCH_BASE] = True
_PITCH_ONLY = np.zeros(VOCAB_SIZE, dtype=bool)
_PITCH_ONLY[PITCH_BASE:] = True
REST_TOKENS = slice(REST_BASE, DUR_BASE)
DUR_TOKENS = slice(DUR_BASE, PITCH_BASE)
PITCH_TOKENS = slice(PITCH_BASE, VOCAB_SIZE)


def grammar_mask(previous: int) -> np.ndarray:
    """Tokens allowed after ``previous`` (read-only array; do not modify)."""
    return _PITCH_ONLY if kind_of(previous) == KIND_DUR else _REST_OR_DUR


@dataclass(slots=True)
class Cursor:
    """The time cursor of an encoder or decoder, in ticks.

    ``tick`` is where the next event may begin. ``pending_onset``/``pending_dur``
    hold a note whose DUR token has been seen but whose PITCH has not.
    One cursor belongs to one thread.
    """

    tick: int
    meters: list[Meter]
    pending_dur: int = 0
    last: int = BOS

    def features(self) -> tuple[int, int]:
        """(bar position, meter id) of the cursor now: the features of the token just applied."""
        return (min(bar_position(self.meters, self.tick), POSITIONS - 1),
                meter_id(meter_at(self.meters, self.tick)))

    def apply(self, token: int) -> Note | None:
        """Advance over one token; returns the note a PITCH token completes."""
        kind = kind_of(token)
        self.last = token
        if kind == KIND_REST:
            self.tick += value_of(token)
        elif kind == KIND_DUR:
            self.pending_dur = value_of(token)
        elif kind == KIND_PITCH:
            if not self.pending_dur:
                raise ValueError("PITCH token without a preceding DUR token")
            note = Note(self.tick, self.pending_dur, value_of(token))
            self.tick += self.pending_dur
            self.pending_dur = 0
            return note
        return None


def start_cursor(meters: list[Meter], first_onset: int) -> Cursor:
    """A cursor on the downbeat of the bar holding ``first_onset`` (what BOS means)."""
    return Cursor(bar_start(meters, first_onset), meters)


def note_tokens(cursor: Cursor, note: Note) -> list[tuple[int, int, int]]:
    """Tokens of one note as ``(token, bar position, meter id)``, advancing ``cursor``.

    A note that starts before the cursor (an overlap, legato playing) is taken to
    start at the cursor: the melody line is monophonic. The caller is expected to
    trim durations so that notes do not overlap; this is the last safety net.
    """
    out: list[tuple[int, int, int]] = []
    gap = note.onset - cursor.tick
    while gap > 0:
        step = min(gap, MAX_REST)
        tok = rest_token(step)
        cursor.apply(tok)
        out.append((tok, *cursor.features()))
        gap -= step
    duration = max(1, min(note.duration, MAX_DUR))
    tok = dur_token(duration)
    cursor.apply(tok)
    out.append((tok, *cursor.features()))
    tok = pitch_token(max(0, min(127, note.pitch)))
    cursor.apply(tok)
    out.append((tok, *cursor.features()))
    return out


def monophonic(notes: list[Note]) -> list[Note]:
    """Sort by onset, keep the highest of simultaneous onsets, cut overlaps."""
    by_onset: dict[int, Note] = {}
    for n in notes:
        kept = by_onset.get(n.onset)
        if kept is None or n.pitch > kept.pitch:
            by_onset[n.onset] = n
    ordered = [by_onset[t] for t in sorted(by_onset)]
    out: list[Note] = []
    for i, n in enumerate(ordered):
        if i + 1 < len(ordered) and n.end > ordered[i + 1].onset:
            n = Note(n.onset, ordered[i + 1].onset - n.onset, n.pitch, n.velocity)
        out.append(n)
    return out


@dataclass(slots=True)
class Encoded:
    """A melody as model input: parallel int64 arrays of equal length.

    ``note_index[i]`` is the index of the note that token ``i`` belongs to (rests
    belong to the note they precede; BOS to none: -1).
    """

    tokens: np.ndarray
    positions: np.ndarray
    meters: np.ndarray
    note_index: np.ndarray

    def __len__(self) -> int:
        return len(self.tokens)


def encode(melody: Melody, bos: bool = True) -> Encoded:
    """Tokens of a whole melody, starting with BOS on the downbeat of its first bar."""
    notes = melody.notes
    first = notes[0].onset if notes else 0
    cursor = start_cursor(melody.meters, first)
    toks: list[int] = []
    pos: list[int] = []
    met: list[int] = []
    idx: list[int] = []
    if bos:
        p, m = cursor.features()
        toks.append(BOS), pos.append(p), met.append(m), idx.append(-1)
    for i, note in enumerate(notes):
        for tok, p, m in note_tokens(cursor, note):
            toks.append(tok), pos.append(p), met.append(m), idx.append(i)
    as_array = lambda xs: np.asarray(xs, dtype=np.int64)  # noqa: E731
    return Encoded(as_array(toks), as_array(pos), as_array(met), as_array(idx))


def decode(tokens, meters: list[Meter], start: int) -> list[Note]:
    """Notes from tokens, the cursor starting at tick ``start``; BOS/PAD are skipped."""
    cursor = Cursor(start, meters)
    notes: list[Note] = []
    for tok in tokens:
        tok = int(tok)
        if kind_of(tok) == KIND_SPECIAL:
            continue
        note = cursor.apply(tok)
        if note is not None:
            notes.append(note)
    return notes


def transpose_tokens(tokens: np.ndarray, semitones: int) -> np.ndarray:
    """Pitch tokens moved by ``semitones``; returns a new array (pitches must stay 0..127)."""
    out = tokens.copy()
    is_pitch = out >= PITCH_BASE
    out[is_pitch] += semitones
    if is_pitch.any() and (out[is_pitch].min() < PITCH_BASE or out[is_pitch].max() >= VOCAB_SIZE):
        raise ValueError(f"transposition by {semitones} leaves the MIDI pitch range")
    return out
