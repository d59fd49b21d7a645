"""``eval --cv K``: IDyOM's protocol for the neural model, beside PPM on the same folds.

Each evaluation set is cut into ``K`` folds by melody, the very folds of the PPM
reproduction (``ppm_eval.folds_of``, seed 0). For each fold the shipped model is
fine-tuned (``finetune``) on the other folds of that set only, early-stopped on an inner
share of them, and scores the held-out fold; PPM's long-term model learns the same other
folds (IDyOM's LTM, no outside corpus), its alphabet the whole set's. Figures are the
means over melodies, as ``eval``'s.

Training side (torch); the caller's thread, for tens of minutes on the full sets.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from ..music import Melody
from .finetune import FineTuneSettings, fine_tuned_model
from .ppm_eval import folds_of

FOLD_SEED = 0  # the PPM reproduction's


def cv_folds(melodies: Sequence[Melody], k: int) -> list[list[int]]:
    """Indices of ``melodies`` per fold: disjoint, covering, the PPM reproduction's."""
    return folds_of(len(melodies), k, FOLD_SEED)


def cross_validate_set(melodies: Sequence[Melody], base_model: Path, k: int,
                       settings: FineTuneSettings, log=None) -> dict:
    """One set's entry: ``neural``, ``neural_stm`` and ``ppm_ltm_stm`` like ``eval``'s,
    and per fold what the fine-tuning did."""
    from ..evaluation.scoring import neural_note_bits, ppm_note_bits, short_term_pitch_model, summarise
    from ..live.model import MelodyModel
    from .ppm_eval import PPMScorer

    log = log or (lambda *a: None)
    per: dict[str, list[dict]] = {"neural": [], "neural_stm": [], "ppm_ltm_stm": []}
    folds = []
    with tempfile.TemporaryDirectory(prefix="midi-assistant-cv-") as tmp:
        for f, part in enumerate(cv_folds(melodies, k)):
            held = set(part)
            train = [m for i, m in enumerate(melodies) if i not in held]
            test = [melodies[i] for i in part]
            out = Path(tmp) / f"fold{f}.onnx"
            report = fine_tuned_model(base_model, train, out, settings)
            model = MelodyModel.load(out, verify=False, window=1 << 30, warmup=False)
            per["neural"] += [neural_note_bits(model, m) for m in test]
            per["neural_stm"] += [neural_note_bits(model, m, short_term_pitch_model) for m in test]
            scorer = PPMScorer(train, vocab=melodies)
            per["ppm_ltm_stm"] += [ppm_note_bits(scorer, m, stm=True) for m in test]
            folds.append({"fold": f, "test_melodies": len(test), "steps": report["steps"],
                          "seconds": report["seconds"], "stopped": report["stopped"],
                          "inner_valid_start": report["start"], "inner_valid_best": report["best"]})
            log(f"fold {f + 1}/{k}: {report['steps']} steps, {report['seconds']:.0f} s, inner validation "
                f"pitch {report['start'].get('pitch_bits_per_note', float('nan')):.3f} -> "
                f"{report['best'].get('pitch_bits_per_note', float('nan')):.3f} bits/note")
    entry: dict = {"melodies": len(melodies), "notes": sum(len(m.notes) for m in melodies), "folds": k}
    for name, rows in per.items():
        entry[name] = summarise(rows)
    entry["fine_tuning"] = {"lr": settings.lr, "max_epochs": settings.max_epochs, "patience": settings.patience,
                            "batch_tokens": settings.batch_tokens, "valid_share": settings.valid_share,
                            "per_fold": folds}
    return entry


def cross_validate(sets: dict[str, Sequence[Melody]], base_model: Path, k: int = 10, seed: int = 0) -> dict:
    """``{set name: entry}`` for every set (see ``cross_validate_set``)."""
    def log(*a):
        print(*a, file=sys.stderr, flush=True)

    settings = FineTuneSettings(seed=seed)
    out = {}
    for name, melodies in sets.items():
        started = time.monotonic()
        log(f"cv {name}: {len(melodies)} melodies, {k} folds")
        out[name] = cross_validate_set(melodies, base_model, k, settings, log)
        out[name]["seconds"] = round(time.monotonic() - started, 1)
    return out
