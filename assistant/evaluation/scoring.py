"""Information content of a melody under the neural model and the PPM baseline, per note.

What ``eval``, ``eval --cv`` and ``adapt`` score with (one definition of the figures; see
:mod:`assistant.evaluation.melody` for what each means). Pure functions on the caller's thread.
"""

from __future__ import annotations

import math

import numpy as np

from ..music import tokens as T
from ..music import Melody

LN2 = math.log(2)


def grammar_log_probs(log_probs: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Renormalise each row over the tokens the grammar allows after ``previous[row]``."""
    out = np.full_like(log_probs, -np.inf)
    after_dur = np.array([T.kind_of(int(t)) == T.KIND_DUR for t in previous])
    for rows, cols in ((after_dur, T.PITCH_TOKENS), (~after_dur, slice(T.REST_BASE, T.PITCH_BASE))):
        if rows.any():
            part = log_probs[rows, cols]
            top = part.max(axis=1, keepdims=True)
            out[rows, cols] = part - (top + np.log(np.exp(part - top).sum(axis=1, keepdims=True)))
    return out


def neural_note_bits(model, melody: Melody, blend_factory=None) -> dict:
    """Per-note information content (bits) of one melody under the neural model.

    With ``blend_factory`` (a callable returning a fresh :class:`StmBlend`), each pitch
    distribution is blended with the short-term model of the notes before, as the live
    generator blends it.
    """
    enc = T.encode(melody)
    lp = grammar_log_probs(model.log_probs(enc), enc.tokens[:-1])
    targets = enc.tokens[1:]
    owner = enc.note_index[1:]
    token_bits = -lp[np.arange(len(targets)), targets] / LN2
    n = len(melody.notes)
    rhythm = np.zeros(n)
    pitch = np.zeros(n)
    is_pitch = targets >= T.PITCH_BASE
    np.add.at(rhythm, owner[~is_pitch], token_bits[~is_pitch])
    pitch[owner[is_pitch]] = token_bits[is_pitch]
    if blend_factory is not None:
        blend = blend_factory()
        for row in np.flatnonzero(is_pitch):
            note = melody.notes[owner[row]]
            neural = np.exp(lp[row, T.PITCH_TOKENS])
            mixed = blend.mix(neural)
            pitch[owner[row]] = -math.log2(mixed[note.pitch])
            blend.observe(note.pitch, float(neural[note.pitch] / neural.sum()))
    return {"pitch_given_rhythm": pitch, "joint": rhythm + pitch}


def ppm_note_bits(scorer, melody: Melody, stm: bool) -> dict:
    """Per-note bits of the PPM baseline, in its strongest form.

    Pitch given rhythm is the linked (rhythm x pitch) model combined with the
    pitch model, as two IDyOM viewpoints: the sparse linked model alone is worse
    than pitch only. Joint = rhythm model + that pitch-given-rhythm (chain rule).
    """
    s = scorer.score(melody, stm=stm)
    given = s["pitch_given_rhythm_combined"]
    return {"pitch_only": s["pitch_only"], "pitch_given_rhythm": given, "joint": s["rhythm"] + given}


def summarise(per_melody: list[dict]) -> dict:
    """Mean over melodies of each melody's mean bits, per measure."""
    out = {}
    for key, name in (("pitch_only", "pitch_only_bits"), ("pitch_given_rhythm", "pitch_given_rhythm_bits"),
                      ("joint", "joint_bits")):
        values = [float(np.mean(m[key])) for m in per_melody if key in m and len(m[key])]
        if values:
            out[name] = round(float(np.mean(values)), 4)
    return out


def short_term_pitch_model():
    """A fresh neural + short-term blend for one melody (the live generator's settings)."""
    from ..music.stm_blend import StmBlend

    return StmBlend()
