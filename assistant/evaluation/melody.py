"""``midi-assistant eval``: information content of the models on the evaluation sets.

For each evaluation set (``chorales``: soprano lines of BWV 253-438; ``kinder``:
``essenFolksong/kinder0.abc``) and each model (``ppm_ltm``, ``ppm_ltm_stm``,
``neural``, ``neural_stm``) it reports, in bits per note, the mean over melodies
of each melody's mean information content (-log2 p):

- ``pitch_only_bits``: p(pitch | previous pitches) (PPM only; the neural model
  always knows the note's rhythm when it predicts its pitch);
- ``pitch_given_rhythm_bits``: p(pitch | everything before, this note's onset and
  duration), comparable to IDyOM's best figure of 1.953 on the chorales;
- ``joint_bits``: p(rhythm and pitch | everything before), per note.

The neural model's distributions are renormalised over what the grammar allows
at each step (after a DUR token only pitches may follow), exactly as generation
masks them. ``neural_stm`` blends each pitch distribution with a PPM short-term
model of the melody so far (entropy-weighted, as IDyOM combines LTM and STM).

``--generation`` adds a generation report: prompt with the first 4 bars of each
held-out melody, generate the next 4, and compare with the true continuations.

Needs the ``train`` extra (music21 for the corpus); one process, main thread.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from ..music import tokens as T
from ..errors import UserError
from ..music import Melody
from .scoring import (LN2, grammar_log_probs, neural_note_bits, ppm_note_bits,  # noqa: F401 (eval's API)
                      short_term_pitch_model, summarise)

SETS = ("chorales", "kinder")


def add_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object (the default prints it too)")
    p.add_argument("--limit", type=int, help="evaluate only the first N melodies of each set")
    p.add_argument("--model", help="melody model (.onnx); default models/melody.onnx")
    p.add_argument("--sets", default=None,
                   help="comma-separated evaluation sets (default chorales,kinder; with --harmony chorales,tunes)")
    p.add_argument("--harmony", action="store_true",
                   help="evaluate the chord model and its baselines instead (see assistant/evaluation/harmony.py)")
    p.add_argument("--harmony-model", help="chord model (.onnx); default models/harmony.onnx")
    p.add_argument("--melody-weight", type=float, default=None,
                   help="with --harmony and a chord model with a melody head: the weight of the predicted "
                        "melody coverage in the chord choice (default chord_model.MELODY_WEIGHT)")
    p.add_argument("--seventh-credit", type=float, default=None,
                   help="with --harmony: how much a seventh chord's seventh counts in that coverage, 0..1 "
                        "(default chord_model.SEVENTH_CREDIT)")
    p.add_argument("--valid", action="store_true",
                   help="with --harmony: score the chord corpus's validation pieces in place of the chorales "
                        "(to tune the chord choice without looking at the evaluation set)")
    p.add_argument("--no-ppm", action="store_true", help="skip the PPM baselines (faster)")
    p.add_argument("--reproduce", action="store_true",
                   help="also run the 10-fold cross-validated PPM reproduction of Pearce (2005)")
    p.add_argument("--generation", action="store_true", help="add the generation report")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cv", type=int, default=None, metavar="K",
                   help="IDyOM's protocol instead: per set, K folds by melody; the model fine-tuned on the "
                        "other folds scores each (train extra; tens of minutes on the CPU for K=10)")


# ------------------------------------------------------------ generation report

def generation_report(model, melodies: list[Melody], seed: int, ppm_scorer=None) -> dict:
    """Prompt with 4 bars, generate 4; compare distributions with the true continuations."""
    from ..music.keys import find_key

    rng = np.random.default_rng(seed)
    pairs = []
    for m in melodies:
        first_bar = m.notes[0].onset - m.bar_position(m.notes[0].onset)
        bar = m.meter_at(m.notes[0].onset).bar_ticks
        cut, stop = first_bar + 4 * bar, first_bar + 8 * bar
        prompt = [n for n in m.notes if n.onset < cut]
        truth = [n for n in m.notes if cut <= n.onset < stop]
        if len(prompt) >= 4 and len(truth) >= 4:
            pairs.append((m, prompt, truth, stop))
    systems: dict[str, list[list]] = {"neural": [], "truth": []}
    if ppm_scorer is not None:
        systems["ppm"] = []
    keys = []
    for m, prompt, truth, stop in pairs:
        model.reset(m.meters)
        model.feed_many(prompt)
        alt = model.suggest(bars=4, n=1, temperature=1.0, top_p=1.0, seed=int(rng.integers(1 << 31)),
                            start_tick=None)[0]
        systems["neural"].append(alt.notes)
        systems["truth"].append(truth)
        if ppm_scorer is not None:
            systems["ppm"].append(ppm_scorer.generate(prompt, m.meters, bars=4, rng=rng))
        keys.append(find_key(prompt))

    def in_key(groups):
        hits = total = 0
        for notes, key in zip(groups, keys):
            scale = key.pitch_classes()
            hits += sum(n.pitch % 12 in scale for n in notes)
            total += len(notes)
        return hits / max(1, total)

    def hist(groups, feature, bins):
        values = [v for notes in groups for v in feature(notes)]
        h, _ = np.histogram(values, bins=bins)
        return h / max(1, h.sum())

    def pcs(notes):
        return [n.pitch % 12 for n in notes]

    def intervals(notes):
        return [b.pitch - a.pitch for a, b in zip(notes, notes[1:])]

    def iois(notes):
        return [b.onset - a.onset for a, b in zip(notes, notes[1:])]

    features = {"pitch_class": (pcs, np.arange(13) - 0.5), "interval": (intervals, np.arange(-24, 26) - 0.5),
                "ioi": (iois, np.arange(0, 98) - 0.5)}

    def overlaps(a, b):
        return {name: round(float(np.minimum(hist(a, f, bins), hist(b, f, bins)).sum()), 4)
                for name, (f, bins) in features.items()}

    truth = systems["truth"]
    half = len(truth) // 2
    report = {"melodies": len(pairs), "prompt_bars": 4, "generated_bars": 4, "systems": {}}
    for name, groups in systems.items():
        if name == "truth":
            continue
        report["systems"][name] = {"in_key": round(in_key(groups), 4), "overlap_with_truth": overlaps(groups, truth),
                                   "notes_per_melody": round(sum(map(len, groups)) / max(1, len(groups)), 2)}
    report["systems"]["truth_vs_truth"] = {
        "in_key": round(in_key(truth), 4),
        "overlap_with_truth": overlaps(truth[:half], truth[half:]),
        "notes_per_melody": round(sum(map(len, truth)) / max(1, len(truth)), 2),
        "note": "first half of the true continuations against the second half: the floor of what overlap can say",
    }
    return report


# ------------------------------------------------------------ command

def load_sets(names: list[str], limit: int | None) -> dict[str, list[Melody]]:
    try:
        from ..train.corpus import load_eval_sets
    except ImportError as err:
        raise UserError(f"evaluation needs the corpus tools ({err.name} is missing): "
                        "pip install -e '.[train]'") from None
    sets = load_eval_sets()
    unknown = [n for n in names if n not in sets]
    if unknown:
        raise UserError(f"unknown evaluation set {', '.join(unknown)}; choose from {', '.join(sets)}")
    return {n: sets[n][:limit] if limit else sets[n] for n in names}


def _run_cv(args, sets: dict[str, list[Melody]], model_path: Path, started: float) -> int:
    """``eval --cv K``: see :mod:`assistant.train.cross_validation`."""
    from ..live.model_file import sha256_of
    from ..train.finetune import require_training_stack

    if args.cv < 2:
        raise UserError(f"--cv {args.cv}: give at least 2 folds (IDyOM uses 10)")
    require_training_stack("eval --cv")
    from ..train.cross_validation import cross_validate

    result = {"model": str(model_path), "model_sha256": sha256_of(model_path),
              "cv": cross_validate(sets, model_path, args.cv, seed=args.seed)}
    result["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def run(args) -> int:
    from ..live.model import DEFAULT_MELODY_MODEL, MelodyModel
    from ..live.model_file import has_card, sha256_of

    if args.harmony:
        from .harmony import run_harmony

        print(json.dumps(run_harmony(args), indent=None if args.json else 2))
        return 0
    started = time.monotonic()
    names = [s.strip() for s in (args.sets or ",".join(SETS)).split(",") if s.strip()]
    sets = load_sets(names, args.limit)
    model_path = Path(args.model) if args.model else DEFAULT_MELODY_MODEL
    model = MelodyModel.load(model_path, window=1 << 30, warmup=False, verify=has_card(model_path, "eval"))
    if args.cv is not None:
        return _run_cv(args, sets, model_path, started)
    scorer = None
    if not args.no_ppm:
        from ..train.ppm_eval import PPMScorer
        from ..train.corpus import load_corpus

        scorer = PPMScorer(load_corpus(progress=sys.stderr.isatty()).train)
    result: dict = {"model": str(model_path), "model_sha256": sha256_of(model_path)}
    for name, melodies in sets.items():
        entry: dict = {"melodies": len(melodies), "notes": sum(len(m.notes) for m in melodies)}
        if scorer is not None:
            entry["ppm_ltm"] = summarise([ppm_note_bits(scorer, m, stm=False) for m in melodies])
            entry["ppm_ltm_stm"] = summarise([ppm_note_bits(scorer, m, stm=True) for m in melodies])
        entry["neural"] = summarise([neural_note_bits(model, m) for m in melodies])
        entry["neural_stm"] = summarise([neural_note_bits(model, m, short_term_pitch_model) for m in melodies])
        if args.generation:
            gen_model = MelodyModel.load(model_path, verify=False)
            entry["generation"] = generation_report(gen_model, melodies, args.seed, scorer)
        result[name] = entry
    if args.reproduce:
        from ..train.ppm_eval import reproduce

        result["ppm_reproduction"] = reproduce(sets)
    result["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0
