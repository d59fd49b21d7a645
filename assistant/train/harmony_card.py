"""Write the model card ``models/harmony.md`` from the training record and the evaluation.

    python -m assistant.train.harmony_card --eval runs/harmony-eval.json [--bench runs/bench.json]

The card states the data and split (from the chord corpus report), the vocabulary
and features, the architecture, the exact training command, the metrics and the
sha256 of the shipped file; the run time checks the sha256 at load
(`assistant.live.chord_model`). Main thread of a command only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..live.chord_model import DECISION_TICKS, FEATURE_SIZE
from ..music.harmony import CHORD_VOCAB_SIZE, QUALITIES
from ..live.model_file import sha256_of
from .card import card_command

CHECK_PIECES = 10
PREDICTORS = ("model", "model_ahead", "bigram", "rule", "rule_ahead", "true")


def check_figures(model_path: Path) -> dict:
    """Model figures on the first ``CHECK_PIECES`` evaluation chorales (``tests/test_shipped_harmony.py``)."""
    from ..live.chord_model import ChordModel
    from ..evaluation.harmony import model_piece, summarise
    from .chord_corpus import load_chord_corpus

    model = ChordModel.load(model_path, verify=False, warmup=False)
    pieces = load_chord_corpus(progress=False).eval_sets["chorales"][:CHECK_PIECES]
    keep = ("chord_nll_bits", "top1", "top3", "note_in_chord", "note_in_chord_teacher_forced")
    out = {}
    for name, ahead in (("model", False), ("model_ahead", True)):
        figures = summarise([model_piece(model, p, ahead=ahead) for p in pieces])
        out[name] = {k: figures[k] for k in keep if k in figures}
    return out


CHOICES = ((0.0, 0.0), (4.0, 0.0), (8.0, 0.0), (16.0, 0.0), (24.0, 0.0), (16.0, 0.5), (16.0, 1.0))


def choice_rows(model_path: Path) -> list[tuple[str, str, str]]:
    """Causal free-running note_in_chord and seventh-chord share on the validation pieces for
    the chord-choice settings ``CHOICES`` (weight, seventh credit), and the labels' share."""
    from ..live.chord_model import ChordModel
    from ..evaluation.harmony import model_piece, seventh_counts, summarise
    from .chord_corpus import load_chord_corpus

    model = ChordModel.load(model_path, verify=False, warmup=False)
    pieces = load_chord_corpus(progress=False).valid
    rows = []
    for weight, credit in CHOICES:
        m = summarise([model_piece(model, p, decision={"weight": weight, "seventh_credit": credit}) for p in pieces])
        rows.append((f"weight {weight:g}, seventh credit {credit:g}", f"{m['note_in_chord']:.3f}",
                     f"{m.get('seventh_share', 0.0):.3f}"))
    counts = [seventh_counts([c for _, c in p.beats]) for p in pieces]
    rows.append(("the labels", "-", f"{sum(a for a, _ in counts) / max(1, sum(b for _, b in counts)):.3f}"))
    return rows


def _option(command: str, name: str) -> str:
    """The value of ``--name`` in a command line, or ``?``."""
    words = command.split()
    return words[words.index(f"--{name}") + 1] if f"--{name}" in words[:-1] else "?"


def _cell(entry: dict, key: str) -> str:
    v = entry.get(key)
    return "-" if v is None else f"{v:.3f}"


def _metrics_table(evaluation: dict) -> list[str]:
    rows = ["| set | predictor | chord_nll_bits | top1 | top3 | note_in_chord (free running) | "
            "note_in_chord (true history) | seventh chords (free running) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name in ("chorales", "tunes"):
        entry = evaluation.get(name)
        if not entry:
            continue
        if not entry.get("pieces"):
            rows.append(f"| {name} (0 pieces) | - | - | - | - | - | - | - |")
            continue
        for predictor in PREDICTORS:
            m = entry.get(predictor, {})
            rows.append(f"| {name} ({entry['pieces']} pieces, {entry['beats']} beats) | {predictor} | "
                        f"{_cell(m, 'chord_nll_bits')} | {_cell(m, 'top1')} | {_cell(m, 'top3')} | "
                        f"{_cell(m, 'note_in_chord')} | {_cell(m, 'note_in_chord_teacher_forced')} | "
                        f"{_cell(m, 'seventh_share')} |")
    return rows


def write_card(model: Path, evaluation: dict, bench: dict | None, out: Path) -> str:
    info = json.loads(model.with_name(model.name.split(".")[0] + ".train.json").read_text())
    cfg = info["config"]
    data = info["data"]
    report = info.get("corpus_report", {})
    best = info.get("best_valid", {})
    targets = evaluation.get("chorales", {}).get("targets", {})
    decision = evaluation.get("decision", {})
    melody = cfg.get("melody") and cfg.get("melody_tower")
    lines = [
        "# harmony.onnx: the chord model",
        "",
        "A small causal GRU that gives, one beat at a time, the chord of the *next* beat from the chords",
        "so far and the melody heard until one tick before that beat. The engine decides each chord a",
        f"tick ({DECISION_TICKS}/12 of a quarter) before its beat, so the accompaniment sounds on the beat.",
        "",
        "## Files",
        "",
        "| file | sha256 | bytes |",
        "| --- | --- | --- |",
        f"| `{model.name}` | `{sha256_of(model)}` | {model.stat().st_size} |",
        "",
        "The run time refuses a file whose sha256 differs from this table (one line naming the file",
        "and how to restore it); without a usable chord model the assistant runs without harmony.",
        "",
        "## Data and split",
        "",
        "From the corpus inside music21 (`assistant/train/chord_corpus.py`, `midi-assistant corpus --harmony`):",
        "",
        "- Bach chorales outside BWV 253-438, all four voices, one chord label per beat: root and",
        "  quality of the pitch classes sounding in the beat (weighted by duration, notes sounding at the",
        "  beat's onset counted double, the bass breaking ties), by `assistant.music.harmony.recognise_chord`,",
        "  the same code that names what the player holds at run time. Training chorales whose soprano",
        "  duplicates an evaluation chorale's (up to transposition) are removed.",
        "- Tunes with chord symbols: `ryansMammoth` and `oneills1850` carry none (their quoted texts are",
        "  fingerings, dynamics and remarks), so the only chord-symbol tunes music21 ships are the 2",
        "  tunes of `nottingham-dataset/reelsa-c.abc`, used for training. The held-out `tunes` set is",
        "  therefore empty.",
        "- Evaluation: the chorales BWV 253-438 (the melody model's held-out set). Validation: 5% of the",
        "  training pieces by a hash of their id.",
        "",
        f"Training: {data['train_pieces']} pieces, {data['train_beats']} beats; validation: "
        f"{data['valid_pieces']} pieces, {data['valid_beats']} beats. Each training sequence is drawn in a",
        "random one of the 12 keys every time.",
        *([f"Corpus extraction: {json.dumps(report)}"] if report else []),
        "",
        "## Vocabulary and inputs",
        "",
        f"{CHORD_VOCAB_SIZE} chords: N.C. and 12 roots x {{{', '.join(QUALITIES)}}} (`assistant/music/harmony.py`).",
        f"Inputs per beat ({FEATURE_SIZE} features, `assistant/live/chord_model.py`): the previous beat's chord, the",
        "pitch-class weights of the melody in the last beat, the latest note's pitch class and whether it",
        "still sounds, the beat's index in its bar, the meter; and, where the melody of the beat is known",
        "in advance (the assistant's own planned suggestion, an accepted phrase), that note's pitch class.",
        f"Training shows that lookahead on {info['ahead']:.0%} of the beats and hides it on the",
        "rest; the player's own notes are never known ahead. Previous-chord inputs are replaced on",
        f"{info['noise']:.0%} of the beats (by a random chord or the chord before), because live the model",
        "hears its own earlier choices, not the true ones.",
        "",
        "## Architecture",
        "",
        f"Embedding of the previous chord ({cfg['embed']}) and the features -> linear {cfg['hidden']} -> GRU "
        f"{cfg['layers']} x {cfg['hidden']} -> linear {cfg['vocab']}; dropout {cfg['dropout']}.",
        *([f"Beside it a melody tower that never sees the chords: the features -> linear {cfg['hidden']} -> GRU "
           f"1 x {cfg['hidden']} -> linear 12, the pitch classes of the melody of the beat being decided",
           "(trained on their shares of the beat's sixteenth frames, with weight "
           f"{_option(info['command'], 'melody-weight')} beside the chord loss)"
           + ("; the chord logits add a linear read of that tower's state." if cfg.get("tower_to_chords") else "."),
           "Running free, the chord GRU hears the model's own earlier choices; the tower does not, so its",
           "prediction of the coming melody stays as good as with the true chords."] if melody else []),
        "ONNX graph of one step: inputs `previous` [batch] int64, `features` [batch, F], `state`",
        "[layers, batch, hidden]" + (" (one more layer for the melody tower)" if melody else "") + "; outputs "
        "`logits` [batch, vocab], `new_state`" + (" and `melody` [batch, 12] (log-probabilities)." if melody else "."),
        "",
        "## Chord choice",
        "",
        *(["N.C. while the model gives it more than half its mass; else the real chord maximising",
           f"`log p(chord) + {decision.get('weight', '?')} * log(coverage)`: coverage is the predicted share",
           "of the beat's melody frames that are tones of the chord's *triad*. A seventh chord's seventh",
           "earns nothing, so covering more pitch classes is not rewarded: compare the seventh-chord",
           "column below with the labels' share. `chord_model.choose_chord` says what else was measured.",
           "The weight was chosen on the validation pieces (causal, free running; `eval --harmony --valid",
           "--melody-weight W --seventh-credit C` gives these figures):",
           "",
           "| chord choice (validation pieces, this model) | note_in_chord | seventh chords |",
           "| --- | --- | --- |",
           *[f"| {row[0]} | {row[1]} | {row[2]} |" for row in choice_rows(model)],
           ] if melody else
          ["The chord played is the most likely real chord (`chord_model.choose_chord`, which says what",
           "other choices were measured and why not)."]),
        "",
        "## Training",
        "",
        f"Reproduce (CPU, {info.get('threads') or 2} thread(s), about {max(1, round(info['seconds'] / 60))} minutes, "
        "bit-identical on this machine):",
        "",
        "```sh",
        "pip install -e '.[train]'",
        "midi-assistant corpus --harmony",
        f"{info['command']} --threads {info.get('threads') or 2}",
        "midi-assistant eval --harmony --json > runs/harmony-eval.json",
        "midi-assistant bench --json > runs/bench.json",
        "python -m assistant.train.harmony_card --eval runs/harmony-eval.json --bench runs/bench.json",
        "```",
        "",
        f"AdamW with a one-cycle schedule, {info['epochs_run']} epochs in {info['seconds']:.0f} s, best validation loss "
        f"{best.get('loss', float('nan')):.3f} nats ({best.get('bits', float('nan')):.3f} bits, top1 "
        f"{best.get('top1', float('nan')):.3f}; causal, no lookahead).",
        "",
        "## Metrics",
        "",
        "`midi-assistant eval --harmony --json`: `chord_nll_bits` and `top1`/`top3` with the true chord",
        "history; `note_in_chord`, the share of sixteenth frames with a sounding melody note whose pitch",
        "class is a chord tone (per piece, then averaged), with each predictor running on its own choices.",
        "`model` is strictly causal (how it accompanies the player); `model_ahead` knows each beat's melody",
        "note in advance (how it harmonises the assistant's own suggestions and accepted phrases). The",
        "bigram, running free from the first beat, predicts N.C. (the pickup beats) with more than half its",
        "mass and never leaves it, hence 0. `seventh chords`: the share of seventh chords among the real",
        "chords played (for `true`, among the labels).",
        "",
        "Measured before this model (held-out chorales, causal, free running; nll bits / top1 /",
        "note_in_chord / seventh chords): the model without a melody head, most likely chord 3.651 / 0.346 /",
        "0.338 / 0.000; trained without the previous chord (`--no-history`) 4.42 / 0.203 / 0.454; a melody",
        "head on the chord GRU (`--melody-weight 0.5`, no tower) 3.644 / 0.345 / 0.505 at weight 100,",
        "because running free its melody prediction degrades with the model's own chords (2.46 -> 3.25",
        "bits on the validation pieces); the same at weight 16 with the seventh credited, 0.512 but with",
        "0.485 seventh chords; with that head, training on the model's own free-running chords",
        "(`--own-history 0.5`) 4.066 / 0.274 / 0.451 (0.549 at weight 16), and with the tower",
        "(`--own-history 0.25`) 3.867 / 0.318 / 0.633 at weight 16: learning from its own history costs",
        "more nll than it gains in fit; the tower without the chord logits reading it (`--melody-tower`)",
        "3.648 / 0.346 / 0.628 at weight 16. This model's tower feeds the chord logits too, which lowers",
        "the chord nll.",
        "",
        *_metrics_table(evaluation),
        "",
        f"Targets on the chorales: nll below the bigram: {targets.get('nll_below_bigram')}; top1 above both",
        f"baselines: {targets.get('top1_above_both_baselines')}; causal note_in_chord within 0.05 of the true",
        f"chords': {targets.get('note_in_chord_within_0.05_of_true')}. The true chords were labelled from all four",
        "voices *including* the melody, so they contain the melody note almost by construction (0.96); a",
        "causal model must choose the chord before it hears that note, and chorale melodies move on most",
        "beats: the melody tower predicts the pitch classes of the coming beat at about 2.5 bits, which",
        "bounds the fit. Knowing the note in advance (`model_ahead`) reaches the true chords' figure.",
        "",
        f"Evaluated with model sha256 `{evaluation.get('model_sha256', '?')}`.",
        "",
        f"Check figures (the first {CHECK_PIECES} evaluation chorales; `tests/test_shipped_harmony.py` recomputes",
        "them from the shipped file and requires agreement within 0.01):",
        "",
        "| check | value |",
        "| --- | --- |",
        *[f"| check {name} {key} | {value:.4f} |" for name, figures in check_figures(model).items()
          for key, value in figures.items() if value is not None],
    ]
    if bench and bench.get("harmony"):
        lines += ["", "## Speed (this machine: 2 shared cores, one onnxruntime thread)", "",
                  "From `midi-assistant bench --json`; medians and 99th percentiles in ms:", "",
                  "```json", json.dumps(bench["harmony"], indent=1), "```"]
    text = "\n".join(lines) + "\n"
    out.write_text(text)
    return text


def main() -> int:
    return card_command(__doc__.splitlines()[0], "models/harmony.onnx", "midi-assistant eval --harmony --json",
                        write_card)


if __name__ == "__main__":
    sys.exit(main())
