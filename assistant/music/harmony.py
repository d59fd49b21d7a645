"""Harmony of what is played: the chord vocabulary, a chord recogniser, a stable key
tracker, the beat grid the chord model steps on, and voice leading.

One truth for training, evaluation and run time: the corpus labels its chords with
``recognise_chord`` and the engine names what the player holds with the same code.

Chord vocabulary (``CHORD_VOCAB_SIZE`` = 109 ids)::

    0                  N.C. (no chord)
    1 + 9 * root + q   root 0..11 (0 = C), quality q in QUALITIES order

Everything here is pure, except ``KeyTracker`` and ``Voicer``, which keep state and
belong to one thread (the engine thread at run time); none of it blocks.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .keys import NAMES, Key, key_scores, pitch_class
from . import TICKS_PER_QUARTER, Meter, Note, bar_start, meter_at

QUALITIES = ("maj", "min", "dim", "aug", "7", "maj7", "m7", "m7b5", "sus4")
INTERVALS: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8),
    "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "m7": (0, 3, 7, 10), "m7b5": (0, 3, 6, 10),
    "sus4": (0, 5, 7),
}
SUFFIX = {"maj": "", "min": "m", "dim": "dim", "aug": "aug", "7": "7", "maj7": "maj7", "m7": "m7",
          "m7b5": "m7b5", "sus4": "sus4"}
NO_CHORD = 0
CHORD_VOCAB_SIZE = 1 + 12 * len(QUALITIES)
_NAME_RE = re.compile(r"^([A-G])([#b]*)(.*)$")
_SUFFIX_TO_QUALITY = {v: k for k, v in SUFFIX.items()} | {"maj": "maj", "min": "min", "M7": "maj7",
                                                          "ø7": "m7b5", "o": "dim", "+": "aug",
                                                          "sus": "sus4", "dom7": "7"}


# ------------------------------------------------------------------ vocabulary


def chord_index(root: int, quality: str) -> int:
    """The id of ``root`` (pitch class) and ``quality`` (one of ``QUALITIES``)."""
    return 1 + 9 * (root % 12) + QUALITIES.index(quality)


def chord_root(index: int) -> int | None:
    return None if index == NO_CHORD else (index - 1) // 9


def chord_quality(index: int) -> str | None:
    return None if index == NO_CHORD else QUALITIES[(index - 1) % 9]


def chord_pitch_classes(index: int) -> tuple[int, ...]:
    """Chord tones as pitch classes, root first; () for N.C."""
    if index == NO_CHORD:
        return ()
    root = chord_root(index)
    return tuple((root + i) % 12 for i in INTERVALS[chord_quality(index)])


def chord_name(index: int) -> str:
    """``"C"``, ``"F#m7"``, ``"Bbdim"``...; ``"N.C."`` for no chord."""
    if index == NO_CHORD:
        return "N.C."
    return NAMES[chord_root(index)] + SUFFIX[chord_quality(index)]


def parse_chord_name(name: str) -> int:
    """The id of a name as ``chord_name`` writes it (also ``C#``/``Db``, ``Cmin``, ``Cø7``).

    Raises ``ValueError`` for anything else.
    """
    name = name.strip()
    if name in ("N.C.", "NC", "N.C"):
        return NO_CHORD
    m = _NAME_RE.match(name)
    if not m or m.group(3) not in _SUFFIX_TO_QUALITY:
        raise ValueError(f"not a chord name: {name!r}")
    return chord_index(pitch_class(m.group(1), m.group(2)), _SUFFIX_TO_QUALITY[m.group(3)])


def transpose_chord(index: int, semitones: int) -> int:
    if index == NO_CHORD:
        return NO_CHORD
    return chord_index((chord_root(index) + semitones) % 12, chord_quality(index))


# ------------------------------------------------------------------ recognition

_TEMPLATES = np.zeros((CHORD_VOCAB_SIZE - 1, 12))
_FIFTHS = np.zeros((CHORD_VOCAB_SIZE - 1, 12), dtype=bool)
for _i in range(1, CHORD_VOCAB_SIZE):
    _TEMPLATES[_i - 1, list(chord_pitch_classes(_i))] = 1.0
    _FIFTHS[_i - 1, chord_pitch_classes(_i)[2]] = chord_quality(_i) in ("maj", "min", "7", "maj7", "m7")
_ROOTS = np.array([chord_root(i) for i in range(1, CHORD_VOCAB_SIZE)])
_SEVENTHS = np.array([len(chord_pitch_classes(i)) == 4 for i in range(1, CHORD_VOCAB_SIZE)])
_PRIOR = np.array([{"maj": 0.03, "min": 0.025, "7": 0.02, "dim": 0.0, "m7": 0.01, "sus4": -0.02,
                    "maj7": 0.0, "m7b5": 0.0, "aug": -0.03}[chord_quality(i)]
                   for i in range(1, CHORD_VOCAB_SIZE)])
MISSING_TONE = 0.12
"""Penalty for each chord tone not sounding (half for a perfect fifth, often omitted)."""
ROOT_IN_BASS = 0.06
SEVENTH_COST = 0.15
"""A seventh chord must earn its fourth tone: a passing seventh (an eighth note
against a held triad, about 8% of the beat's weight) leaves the triad."""


def recognise_chord(weights, bass: int | None = None, min_pitch_classes: int = 2) -> tuple[int, float]:
    """Best chord id and its score for pitch-class ``weights`` [12] and the ``bass`` pitch class.

    Template matching: the weight the chord covers, minus the weight outside it,
    minus ``MISSING_TONE`` for each absent chord tone (a fifth costs half), minus
    ``SEVENTH_COST`` for a four-tone chord, plus a
    small bonus when the bass is the root (which settles inversions and the
    symmetric chords) and a small prior for the common qualities. Fewer than
    ``min_pitch_classes`` sounding pitch classes is N.C. with score 0.
    """
    w = np.asarray(weights, dtype=np.float64)
    total = w.sum()
    if total <= 0 or np.count_nonzero(w > 1e-9) < min_pitch_classes:
        return NO_CHORD, 0.0
    w = w / total
    present = w > 1e-9
    covered = _TEMPLATES @ w
    missing = ((_TEMPLATES > 0) & ~present).astype(np.float64)
    missing_cost = MISSING_TONE * (missing.sum(axis=1) - 0.5 * (missing * _FIFTHS).sum(axis=1))
    score = 2 * covered - 1 - missing_cost - SEVENTH_COST * _SEVENTHS + _PRIOR
    if bass is not None:
        score = score + ROOT_IN_BASS * (_ROOTS == bass % 12)
    best = int(np.argmax(score))
    return best + 1, float(score[best])


def chord_of_pitches(pitches) -> int:
    """The chord that the sounding MIDI ``pitches`` form (lowest is the bass); N.C. for < 2 classes."""
    pitches = list(pitches)
    if not pitches:
        return NO_CHORD
    w = np.zeros(12)
    for p in pitches:
        w[p % 12] = 1.0
    return recognise_chord(w, min(pitches) % 12)[0]


CHORD_HAND_MIN_SCORE = 0.6
"""How well held notes must match a chord to be the player's chord: every triad and
seventh chord scores 0.85-1.1, a cluster of neighbouring notes 0.2-0.4."""
MELODY_APART = 7
"""With no split point set, the highest held note is a melody note over a chord when it
lies at least this many semitones (a fifth) above the next held note down."""


def chord_hand(pitches, split: int | None = None) -> list[int]:
    """The held ``pitches`` that belong to the hand playing chords: those below ``split``
    (a MIDI note number); with no split, all of them but the highest when it stands at
    least ``MELODY_APART`` above the rest (a left-hand chord under a right-hand melody)."""
    held = sorted(set(pitches))
    if split is not None:
        return [p for p in held if p < split]
    if len(held) >= 4 and held[-1] - held[-2] >= MELODY_APART:
        return held[:-1]
    return held


def players_chord(pitches, split: int | None = None) -> int:
    """The chord the player holds (see ``chord_hand``), or N.C. when the chord hand holds
    fewer than three pitch classes or no chord matches well (``CHORD_HAND_MIN_SCORE``):
    single notes and dyads are melody, a cluster is not a chord."""
    hand = chord_hand(pitches, split)
    if len({p % 12 for p in hand}) < 3:
        return NO_CHORD
    w = np.zeros(12)
    for p in hand:
        w[p % 12] = 1.0
    chord, score = recognise_chord(w, hand[0] % 12)
    return chord if score >= CHORD_HAND_MIN_SCORE else NO_CHORD


# ------------------------------------------------------------------ beat grid


def beat_ticks(meter: Meter) -> int:
    """Length of one beat in ticks: the denominator's note, or a dotted one in compound
    meters (6/8, 9/8, 12/8...); a quarter for unusual denominators."""
    unit = 4 * TICKS_PER_QUARTER // meter.denominator if meter.denominator in (1, 2, 4, 8, 16) else TICKS_PER_QUARTER
    if meter.denominator >= 8 and meter.numerator % 3 == 0 and meter.numerator > 3:
        unit *= 3
    return max(1, min(unit, meter.bar_ticks))


def beat_grid(meters: list[Meter], start: int, end: int) -> list[tuple[int, int, int]]:
    """Beats ``(tick, index in bar, length)`` that begin in ``[start, end)``.

    Beats are laid from each downbeat; the last beat of an odd bar is shorter.
    """
    out = []
    tick = start
    while tick < end:
        m = meter_at(meters, tick)
        bar = bar_start(meters, tick)
        beat = beat_ticks(m)
        k = max(0, math.ceil((tick - bar) / beat))
        t = bar + k * beat
        next_bar = bar + m.bar_ticks
        # a later meter may start inside this bar (rare): it wins from its start
        later = [x.start for x in meters if bar < x.start < next_bar]
        limit = min([next_bar] + later)
        while t < limit and t < end:
            if t >= start:
                out.append((t, k, min(beat, limit - t)))
            k += 1
            t = bar + k * beat
        tick = limit
    return out


def next_beat(meters: list[Meter], tick: int) -> tuple[int, int, int]:
    """The first beat ``(tick, index in bar, length)`` at or after ``tick``."""
    m = meter_at(meters, tick)
    return beat_grid(meters, tick, tick + m.bar_ticks + 1)[0]


# ------------------------------------------------------------------ key tracking


@dataclass(frozen=True)
class KeyEstimate:
    key: Key
    confidence: float  # 0..1: how clearly this key beats the runner-up, times how much was heard

    @property
    def name(self) -> str:
        return self.key.name


class KeyTracker:
    """A key that follows the music without flipping on a passing note.

    Evidence: each note adds its duration (in beats, capped at 2) to its pitch
    class; old evidence decays with a half-life of ``half_life_beats``. The
    Krumhansl-Kessler correlation ranks the 24 keys. The reported key changes only
    when another key leads the current one by ``margin`` at ``persist`` notes in a
    row, so one chromatic note never moves it; a modulation that lasts does.

    State belongs to one thread (the engine thread); ``update`` is O(24 x 12).
    """

    def __init__(self, half_life_beats: float = 32.0, margin: float = 0.05, persist: int = 3,
                 fixed: Key | None = None):
        self.half_life = half_life_beats * TICKS_PER_QUARTER
        self.margin = margin
        self.persist = persist
        self.fixed = fixed
        self.reset()

    def reset(self) -> None:
        self.hist = np.zeros(12)
        self._last_tick: int | None = None
        self._current: int | None = None
        self._challenger: int | None = None
        self._streak = 0
        self._scores = np.zeros(24)
        self.notes_seen = 0

    def update(self, note: Note) -> KeyEstimate | None:
        """Add one note (ticks) and return the current estimate."""
        if self._last_tick is not None and note.onset > self._last_tick:
            self.hist *= 0.5 ** ((note.onset - self._last_tick) / self.half_life)
        self._last_tick = max(note.onset, self._last_tick or note.onset)
        self.hist[note.pitch % 12] += min(note.duration, 2 * TICKS_PER_QUARTER) / TICKS_PER_QUARTER
        self.notes_seen += 1
        self._scores = key_scores(self.hist)
        best = int(np.argmax(self._scores))
        if self._current is None:
            if self.notes_seen >= 3:
                self._current = best
        elif best != self._current and self._scores[best] - self._scores[self._current] >= self.margin:
            self._streak = self._streak + 1 if best == self._challenger else 1
            self._challenger = best
            if self._streak >= self.persist:
                self._current, self._challenger, self._streak = best, None, 0
        else:
            self._challenger, self._streak = None, 0
        return self.estimate

    @property
    def estimate(self) -> KeyEstimate | None:
        if self.fixed is not None:
            return KeyEstimate(self.fixed, 1.0)
        if self._current is None:
            return None
        scores = self._scores
        others = np.delete(scores, self._current)
        lead = float(scores[self._current] - others.max())
        amount = min(1.0, self.hist.sum() / 8.0)
        confidence = float(np.clip(0.5 + 4 * lead, 0.0, 1.0) * amount * max(0.0, scores[self._current]))
        return KeyEstimate(Key(self._current % 12, self._current >= 12, float(scores[self._current])),
                           round(confidence, 3))


def diatonic_triads(key: Key) -> list[int]:
    """The seven diatonic triads of ``key`` (harmonic minor's V and vii° in minor)."""
    if key.minor:
        steps = ((0, "min"), (2, "dim"), (3, "aug"), (5, "min"), (7, "maj"), (8, "maj"), (11, "dim"))
        steps = tuple((s, "maj") if s == 3 else (s, q) for s, q in steps)  # III, not III+
    else:
        steps = ((0, "maj"), (2, "min"), (4, "min"), (5, "maj"), (7, "maj"), (9, "min"), (11, "dim"))
    return [chord_index(key.tonic + s, q) for s, q in steps]


def rule_chord(key: Key | None, pitch: int | None) -> int:
    """The rule baseline: the first diatonic triad of ``key`` (tonic, then dominant,
    subdominant...) that contains ``pitch``'s class; the tonic if none does; N.C.
    without a key."""
    if key is None:
        return NO_CHORD
    triads = diatonic_triads(key)
    if pitch is None:
        return triads[0]
    order = (0, 4, 3, 5, 1, 2, 6)  # I, V, IV, vi, ii, iii, vii°
    for i in order:
        if pitch % 12 in chord_pitch_classes(triads[i]):
            return triads[i]
    return triads[0]


# ------------------------------------------------------------------ voicing


class Voicer:
    """Voicings in a register, each moving the fewest semitones from the last.

    ``low``..``high`` bound the register; ``voices`` is 3 or 4 (a seventh chord
    gets 4 voices either way). The first voicing is the close position nearest the
    register's middle. State belongs to one thread (the engine thread).
    """

    def __init__(self, low: int = 48, high: int = 72, voices: int = 4):
        if high - low < 12:
            raise ValueError(f"harmony register {low}..{high} is narrower than an octave")
        self.low, self.high, self.voices = low, high, voices
        self.last: tuple[int, ...] | None = None

    def reset(self) -> None:
        self.last = None

    def _candidates(self, pcs: tuple[int, ...]) -> list[tuple[int, ...]]:
        need = list(pcs) if len(pcs) >= self.voices else list(pcs) + [pcs[0]] * (self.voices - len(pcs))
        options = [[p for p in range(self.low, self.high + 1) if p % 12 == pc] for pc in need]
        out: set[tuple[int, ...]] = set()

        def build(i: int, chosen: list[int]) -> None:
            if i == len(options):
                v = tuple(sorted(chosen))
                if len(set(v)) == len(v) and v[-1] - v[0] <= 19:
                    out.add(v)
                return
            for p in options[i]:
                build(i + 1, chosen + [p])

        build(0, [])
        return sorted(out)

    def voice(self, chord: int) -> tuple[int, ...]:
        """MIDI pitches for ``chord`` (() for N.C.); updates the last voicing."""
        pcs = chord_pitch_classes(chord)
        if not pcs:
            return ()
        cands = self._candidates(pcs)
        if not cands:
            return ()
        if self.last is None:
            middle = (self.low + self.high) / 2
            best = min(cands, key=lambda v: (abs(sum(v) / len(v) - middle), v[-1] - v[0]))
        else:
            last = self.last
            best = min(cands, key=lambda v: (_movement(last, v), v[-1] - v[0], v))
        self.last = best
        return best


def _movement(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """Semitones moved from voicing ``a`` to ``b``: voices matched in order (both sorted);
    a voicing of another size is compared through its nearest notes."""
    if len(a) == len(b):
        return sum(abs(x - y) for x, y in zip(a, b))
    return sum(min(abs(x - y) for y in a) for x in b) + sum(min(abs(x - y) for y in b) for x in a)
