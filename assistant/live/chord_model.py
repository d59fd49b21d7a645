"""The chord model at run time (ONNX Runtime and numpy only), and its input features.

The model is causal on the beat grid (``harmony.beat_grid``): step ``t`` predicts
the chord of beat ``t`` from the chords of beats ``0..t-1`` and the melody heard
until one tick before beat ``t`` (``DECISION_TICKS``). That is what lets the
accompaniment sound *on* the beat: the engine decides a tick early, with the same
information the model had in training.

Features of one step (``FEATURE_SIZE`` floats), from the melody notes known at the
decision tick ``D = beat - DECISION_TICKS``:

* 0..11   pitch-class weights of the melody in the window ``[previous beat - 1, D)``
          (overlap in ticks over the window length);
* 12..23  the pitch class of the latest note that began before ``D`` (one-hot);
* 24      1 if that note still sounds at ``D``;
* 25..36  the index of beat ``t`` in its bar (one-hot, clamped to 11);
* 37..48  the meter id (``tokens.meter_id``, one-hot);
* 49..60  lookahead, only where the melody of the beat is known in advance (the
          assistant's own planned suggestion, an accepted phrase): the pitch
          class of the melody note sounding at the beat (one-hot);
* 61      1 if that lookahead is given. Training hides it at random (half the
          beats), so the model serves both cases; the player's own notes are
          never known ahead, so live accompaniment of the player is causal.

A note still held at ``D`` is known only up to ``D``, which is exactly how the
training data sees it (overlaps are cut at ``D``).

Threading: ``ChordModel`` belongs to one thread (the engine thread); a step costs
tens of microseconds (``midi-assistant bench`` reports ``chord_step_ms``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..music import tokens as T
from ..errors import UserError
from ..music.harmony import CHORD_VOCAB_SIZE, beat_grid, chord_pitch_classes
from ..resources import MODELS_DIR
from .model_file import REPAIR_HINT, open_session
from ..music import Melody, Meter, Note, meter_at

DEFAULT_HARMONY_MODEL = MODELS_DIR / "harmony.onnx"
DECISION_TICKS = 1
BOS_CHORD = CHORD_VOCAB_SIZE  # "no chord before the first beat" input id
PC, CURRENT, SOUNDING, BEAT, METER = 0, 12, 24, 25, 37
AHEAD = METER + T.METER_IDS
AHEAD_KNOWN = AHEAD + 12
FEATURE_SIZE = AHEAD_KNOWN + 1
MAX_BEAT_INDEX = 11


def step_features(notes: list[Note], beat_tick: int, previous_beat_tick: int, beat_index: int,
                  meter: Meter, ahead: int | None = None) -> np.ndarray:
    """Features [FEATURE_SIZE] for the step that predicts the beat at ``beat_tick``.

    ``notes``: melody notes sorted by onset; only those that begin before the
    decision tick matter. A held note may carry any duration reaching the
    decision tick (it is cut there). ``ahead``: the pitch of the melody note
    sounding at the beat when it is known in advance, else None.
    """
    f = np.zeros(FEATURE_SIZE, dtype=np.float32)
    decision = beat_tick - DECISION_TICKS
    lo = previous_beat_tick - DECISION_TICKS
    span = max(1, decision - lo)
    latest: Note | None = None
    for n in reversed(notes):
        if n.onset >= decision:
            continue
        if latest is None:
            latest = n
        overlap = min(n.end, decision) - max(n.onset, lo)
        if overlap > 0:
            f[PC + n.pitch % 12] += overlap / span
        elif n.end <= lo:
            break  # notes are monophonic and sorted: nothing earlier overlaps
    if latest is not None:
        f[CURRENT + latest.pitch % 12] = 1.0
        f[SOUNDING] = 1.0 if latest.end >= decision else 0.0
    f[BEAT + min(beat_index, MAX_BEAT_INDEX)] = 1.0
    f[METER + T.meter_id(meter)] = 1.0
    if ahead is not None:
        f[AHEAD + ahead % 12] = 1.0
        f[AHEAD_KNOWN] = 1.0
    return f


def sounding_at(notes: list[Note], tick: int) -> Note | None:
    """The melody note sounding at ``tick`` (the latest to begin at or before it), or None."""
    found = None
    for n in notes:
        if n.onset > tick:
            break
        if n.end > tick:
            found = n
    return found


def causal(feats: np.ndarray) -> np.ndarray:
    """``feats`` with the lookahead block cleared (what the live model sees of the player)."""
    out = feats.copy()
    out[..., AHEAD:FEATURE_SIZE] = 0.0
    return out


def piece_inputs(melody: Melody, beats: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(previous chords [T] int64, features [T, F] float32, chords [T] int64)`` of a labelled piece.

    ``beats`` is ``[(beat tick, chord id)]`` on the piece's beat grid, in order.
    The lookahead block is filled for every beat with a sounding note; ``causal``
    clears it.
    """
    if not beats:
        return (np.zeros(0, dtype=np.int64), np.zeros((0, FEATURE_SIZE), dtype=np.float32),
                np.zeros(0, dtype=np.int64))
    first, last = beats[0][0], beats[-1][0]
    grid = {t: (k, length) for t, k, length in beat_grid(melody.meters, first, last + 1)}
    feats = np.zeros((len(beats), FEATURE_SIZE), dtype=np.float32)
    prev = np.full(len(beats), BOS_CHORD, dtype=np.int64)
    chords = np.array([c for _, c in beats], dtype=np.int64)
    prev[1:] = chords[:-1]
    notes = melody.notes
    hi = 0
    for i, (tick, _) in enumerate(beats):
        while hi < len(notes) and notes[hi].onset < tick:
            hi += 1
        index = grid.get(tick, (0, 0))[0]
        previous = beats[i - 1][0] if i else tick - grid.get(tick, (0, 12))[1]
        at = sounding_at(notes[max(0, hi - 64):hi + 1], tick)
        feats[i] = step_features(notes[max(0, hi - 64):hi], tick, previous, index, meter_at(melody.meters, tick),
                                 at.pitch if at is not None else None)
    return prev, feats, chords


def transpose_features(feats: np.ndarray, semitones: int) -> np.ndarray:
    """Features of the same melody ``semitones`` higher (pitch-class blocks rotated)."""
    out = feats.copy()
    out[..., PC:PC + 12] = np.roll(feats[..., PC:PC + 12], semitones, axis=-1)
    out[..., CURRENT:CURRENT + 12] = np.roll(feats[..., CURRENT:CURRENT + 12], semitones, axis=-1)
    out[..., AHEAD:AHEAD + 12] = np.roll(feats[..., AHEAD:AHEAD + 12], semitones, axis=-1)
    return out


# chord tones [V, 12] (0/1) of the vocabulary, and the same without the seventh of a seventh
# chord (the three tones of its triad), for choose_chord
_TONES = np.zeros((CHORD_VOCAB_SIZE, 12))
_TRIAD_TONES = np.zeros((CHORD_VOCAB_SIZE, 12))
for _c in range(CHORD_VOCAB_SIZE):
    _TONES[_c, list(chord_pitch_classes(_c))] = 1.0
    _TRIAD_TONES[_c, list(chord_pitch_classes(_c)[:3])] = 1.0
MELODY_WEIGHT = 16.0
SEVENTH_CREDIT = 0.0


def chord_coverage(melody: np.ndarray, seventh_credit: float = 1.0) -> np.ndarray:
    """[V]: the expected share of the beat's melody frames that each chord contains, for
    melody log-probabilities [12] over pitch classes (the model's melody head); the seventh
    of a seventh chord counts ``seventh_credit`` (0: a seventh chord is credited only with
    its triad, so covering more pitch classes earns it nothing)."""
    q = np.exp(melody)
    return _TRIAD_TONES @ q + seventh_credit * ((_TONES - _TRIAD_TONES) @ q)


def choose_chord(logp: np.ndarray, melody: np.ndarray | None = None, weight: float | None = None,
                 seventh_credit: float | None = None) -> int:
    """The chord to play for a predicted distribution: N.C. while the model says N.C. is
    more likely than not (it has not heard enough yet), else the most likely real chord;
    with ``melody`` (log-probabilities [12] of the pitch classes of the beat's melody, from a
    model with a melody head), the real chord maximising ``log p(chord) + weight * log(coverage)``,
    coverage being the predicted share of the beat's melody that is a chord tone
    (``chord_coverage``; by default a seventh's seventh earns nothing).

    Measured alternatives on the held-out chorales (free running, causal): always a
    real chord makes the first, uninformed choice a random one that the model
    then keeps hearing as its history; a consensus over chord tones fits more
    melody frames only by choosing seventh chords nine times in ten (they cover
    more pitch classes); sampling (temperature 0.7) moves as often as Bach does
    but fits fewer frames; restricting to chords that contain the held note fits
    fewer still. The most likely chord alone, once it hears its own choices, holds
    one chord on nine beats in ten (Bach: two in ten). With the melody head
    (``train-harmony --melody-tower --tower-to-chords``), weights 8 to 24 fit
    about 0.62 of the frames of the validation chorales (0.38 with weight 0),
    and the chord changes on three beats in four; crediting a seventh chord with its seventh
    (``seventh_credit`` 1) adds a little by choosing seventh chords three times in
    four (the labels: one in seven), so by default it is not credited and seventh
    chords are chosen about as rarely as without the melody term.
    """
    if logp[0] >= np.log(0.5):
        return 0
    if melody is None:
        return 1 + int(np.argmax(logp[1:]))
    weight = MELODY_WEIGHT if weight is None else weight
    credit = SEVENTH_CREDIT if seventh_credit is None else seventh_credit
    score = logp[1:] + weight * np.log(chord_coverage(melody, credit)[1:] + 1e-6)
    return 1 + int(np.argmax(score))


def choose_chords(logp: np.ndarray, melody: np.ndarray | None = None, weight: float | None = None,
                  seventh_credit: float | None = None) -> np.ndarray:
    """``choose_chord`` for each row of ``logp`` [B, V] (and ``melody`` [B, 12]) at once."""
    weight = MELODY_WEIGHT if weight is None else weight
    credit = SEVENTH_CREDIT if seventh_credit is None else seventh_credit
    if melody is None:
        best = 1 + np.argmax(logp[:, 1:], axis=1)
    else:
        q = np.exp(melody)
        coverage = q @ _TRIAD_TONES.T + credit * (q @ (_TONES - _TRIAD_TONES).T)
        best = 1 + np.argmax(logp[:, 1:] + weight * np.log(coverage[:, 1:] + 1e-6), axis=1)
    best[logp[:, 0] >= np.log(0.5)] = 0
    return best


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


class ChordModel:
    """Incremental chord model: one recurrent state, advanced one beat at a time.

    ``step`` advances the state; ``peek`` and ``rollout`` look ahead without
    changing it (for the forecast of upcoming chords). Not thread-safe: one owner.
    """

    def __init__(self, session, config: dict, path: Path):
        self.session = session
        self.config = config
        self.path = path
        self.layers = int(config["layers"])
        self.hidden = int(config["hidden"])
        self.uses_history = bool(config.get("history", True))
        self.has_melody = bool(config.get("melody", False))
        # the state's layers: the chord GRU's, and one more for a melody tower (chord_net)
        self.state_layers = self.layers + int(self.has_melody and bool(config.get("melody_tower", False)))
        self.melody: np.ndarray | None = None  # melody log-probabilities [12] of the last step()
        self.reset()

    @classmethod
    def load(cls, path: str | Path | None = None, *, verify: bool = True, threads: int = 1,
             warmup: bool = True) -> "ChordModel":
        """Open a model file; with ``verify`` its sha256 must match its card (``UserError`` if not)."""
        path = Path(path) if path else DEFAULT_HARMONY_MODEL
        session, config = open_session(path, verify=verify, threads=threads)
        if (config.get("features"), config.get("vocab")) != (FEATURE_SIZE, CHORD_VOCAB_SIZE):
            raise UserError(f"harmony model {path} does not fit this program (features or chord vocabulary "
                            f"differ); {REPAIR_HINT}")
        model = cls(session, config, path)
        if warmup:
            for _ in range(3):
                model.peek(BOS_CHORD, np.zeros(FEATURE_SIZE, dtype=np.float32))
        return model

    def reset(self) -> None:
        """Forget the chords and melody so far (the next step is a first beat)."""
        self.state = np.zeros((self.state_layers, 1, self.hidden), dtype=np.float32)
        self.previous = BOS_CHORD
        self.melody = None

    def _run(self, prev: np.ndarray, feats: np.ndarray, state: np.ndarray):
        """``(logits [B, V], new state, melody log-probabilities [B, 12] or None)``."""
        if not self.uses_history:  # a model trained without the previous chord (train-harmony --no-history)
            prev = np.full_like(prev, BOS_CHORD)
        out = self.session.run(None, {"previous": prev, "features": feats, "state": state})
        return out[0], out[1], (out[2] if self.has_melody else None)

    def peek_full(self, previous: int, feats: np.ndarray, state: np.ndarray | None = None):
        """``(chord log-probabilities [V], state after, melody log-probabilities [12] or None)``
        of one step, without advancing this model."""
        logits, new_state, melody = self._run(np.array([previous], dtype=np.int64),
                                              feats[None, :].astype(np.float32),
                                              self.state if state is None else state)
        return log_softmax(logits[0]), new_state, (None if melody is None else melody[0].astype(np.float64))

    def peek_batch(self, previous: int, feats: np.ndarray, state: np.ndarray):
        """``peek_full`` for several feature rows at once (one run): chord log-probabilities
        [B, V], states after [layers, B, hidden], melody log-probabilities [B, 12] or None,
        each row stepped from ``state`` (one beat's) with ``previous``."""
        b = feats.shape[0]
        logits, new_state, melody = self._run(np.full(b, previous, dtype=np.int64), feats.astype(np.float32),
                                              np.repeat(state, b, axis=1))
        return (log_softmax(logits), new_state,
                None if melody is None else melody.astype(np.float64))

    def peek(self, previous: int, feats: np.ndarray, state: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(log-probabilities [V], state after)`` of one step, without advancing this model."""
        logp, new_state, _ = self.peek_full(previous, feats, state)
        return logp, new_state

    def step(self, feats: np.ndarray, previous: int | None = None) -> np.ndarray:
        """Advance one beat: log-probabilities [V] of this beat's chord (and ``self.melody``).

        ``previous`` is the chord of the beat before (what was really played);
        None uses the last one passed to ``commit``.
        """
        logp, self.state, self.melody = self.peek_full(self.previous if previous is None else previous, feats)
        return logp

    def choose(self, logp: np.ndarray, melody: np.ndarray | None = None) -> int:
        """``choose_chord`` with this model's melody prediction (``melody``; default: the last step's)."""
        return choose_chord(logp, self.melody if melody is None else melody)

    def commit(self, chord: int) -> None:
        """The chord that this beat really got: the next step's previous chord."""
        self.previous = int(chord)

    def forward_all(self, prev: np.ndarray, feats: np.ndarray) -> np.ndarray:
        """Log-probabilities [T, V] of a whole piece (teacher forcing)."""
        return self.forward_batch(prev[None], feats[None])[0]

    def forward_all_full(self, prev: np.ndarray, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Chord log-probabilities [T, V] and melody log-probabilities [T, 12] (None without
        the melody head) of a whole piece (teacher forcing)."""
        logp, melody = self.forward_batch_full(prev[None], feats[None])
        return logp[0], (None if melody is None else melody[0])

    def forward_batch(self, prev: np.ndarray, feats: np.ndarray) -> np.ndarray:
        """Log-probabilities [B, T, V] of ``B`` equal-length sequences, stepped together (evaluation)."""
        return self.forward_batch_full(prev, feats)[0]

    def forward_batch_full(self, prev: np.ndarray, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``forward_batch`` and the melody log-probabilities [B, T, 12] (None without the head)."""
        b, t = prev.shape
        state = np.zeros((self.state_layers, b, self.hidden), dtype=np.float32)
        out = np.zeros((b, t, CHORD_VOCAB_SIZE))
        melody = np.zeros((b, t, 12)) if self.has_melody else None
        for i in range(t):
            logits, state, mel = self._run(prev[:, i].astype(np.int64), feats[:, i].astype(np.float32), state)
            out[:, i] = log_softmax(logits)
            if melody is not None:
                melody[:, i] = mel
        return out, melody
