"""How the neural model's pitch distribution is best blended with the short-term model.

``python -m assistant.train.blend_study --model models/melody.onnx`` scores, on the
validation split (never the evaluation sets) and then on the evaluation sets, every
blend in a small grid, and prints JSON: per blend and set, the mean over melodies of
the mean bits per note (pitch given rhythm). Choose on ``valid``; the evaluation
figures are reported beside it, not used.

A blend is the entropy-weighted geometric combination of :func:`assistant.music.ppm.combine`
with two more settings (:class:`assistant.music.stm_blend.StmBlend`): a prior weight on the
short-term model, and how much each model's recent success in this melody counts
(an exponential average of its log-loss on the notes so far).

Thread: the caller's; CPU-bound (one neural pass per melody, then numpy).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from ..music import tokens as T
from ..music.ppm import short_term_model
from ..music.stm_blend import StmBlend


def note_distributions(model, melody) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(neural [n, 128], short-term [n, 128], pitches [n]) for each note after the first:
    the neural pitch distribution given the note's rhythm, and the STM's given the pitches
    before."""
    from ..evaluation.scoring import grammar_log_probs

    enc = T.encode(melody)
    lp = grammar_log_probs(model.log_probs(enc), enc.tokens[:-1])
    targets = enc.tokens[1:]
    rows = np.flatnonzero(targets >= T.PITCH_BASE)
    stm = short_term_model()
    neural, short, pitches, history = [], [], [], []
    for row in rows:
        pitch = int(targets[row]) - T.PITCH_BASE
        if history:
            neural.append(np.exp(lp[row, T.PITCH_TOKENS]))
            short.append(stm.predict(history))
            pitches.append(pitch)
        stm.observe(pitch)
        history.append(pitch)
    return np.array(neural), np.array(short), np.array(pitches, dtype=np.int64)


def melody_bits(dists, bias: float, prior: float, decay: float, strength: float) -> np.ndarray:
    """Bits of each note after the first under one blend (the first note: the neural's
    own, the same for every blend, left out of the comparison). The same weights and
    advantage as :class:`StmBlend` at run time, on the cached distributions."""
    neural, short, pitches = dists
    out = np.empty(len(pitches))
    blend = StmBlend(bias, prior, decay, strength)
    for i in range(len(pitches)):
        wn, ws = blend.weights(neural[i], short[i])
        logp = wn * np.log(neural[i]) + ws * np.log(short[i])
        logp -= logp.max()
        p = np.exp(logp)
        out[i] = -math.log2(p[pitches[i]] / p.sum())
        blend.learn(float(neural[i][pitches[i]]), float(short[i][pitches[i]]))
    return out


GRID = [(b, k, lam, s) for b in (1.5, 2.0, 3.0) for k in (0.3, 0.5, 0.7, 1.0) for lam, s in
        ((0.0, 0.0), (0.7, 1.0), (0.8, 0.5), (0.8, 1.0), (0.8, 1.5), (0.9, 1.0), (0.9, 2.0))]
"""(bias, prior, decay, strength): the shipped blend before this study was (3, 1, 0, 0)."""


def main(argv=None) -> int:
    from ..live.model import MelodyModel
    from .corpus import load_corpus

    p = argparse.ArgumentParser(prog="python -m assistant.train.blend_study", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="models/melody.onnx")
    p.add_argument("--limit", type=int, help="only the first N melodies of each set")
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args(argv)
    model = MelodyModel.load(Path(args.model), verify=False)
    corpus = load_corpus(progress=False)
    sets = {"valid": corpus.valid, **corpus.eval_sets}
    neural_alone = {}
    cached = {}
    for name, melodies in sets.items():
        melodies = melodies[: args.limit] if args.limit else melodies
        cached[name] = [d for d in (note_distributions(model, m) for m in melodies) if len(d[2])]
        neural_alone[name] = float(np.mean([np.mean(-np.log2(d[0][np.arange(len(d[2])), d[2]]))
                                            for d in cached[name]]))
        print(f"{name}: {len(cached[name])} melodies; neural alone {neural_alone[name]:.4f}", file=sys.stderr)
    results = []
    for b, k, lam, s in GRID:
        row = {"bias": b, "prior": k, "decay": lam, "strength": s}
        for name, dists in cached.items():
            row[name] = float(np.mean([melody_bits(d, b, k, lam, s).mean() for d in dists]))
        results.append(row)
        print(json.dumps(row), file=sys.stderr)
    best = min(results, key=lambda r: r["valid"])
    report = {"model": args.model, "figure": "mean over melodies of the mean bits per note after the first, "
              "pitch given rhythm", "neural_alone": neural_alone, "grid": results, "chosen_on_valid": best}
    text = json.dumps(report, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
