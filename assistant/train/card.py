"""Write the model card ``models/melody.md`` from the training record and the evaluation.

    python -m assistant.train.card --model models/melody.onnx --eval runs/eval.json [--bench runs/bench.json]

The card states the data and split (from the corpus report), the vocabulary, the
architecture, the exact training command, the metrics and the sha256 of every
shipped file; the run time checks the sha256 at load (`assistant.live.model`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from ..music import tokens as T
from ..live.model_file import sha256_of
from ..music.stm_blend import STM_BIAS, STM_DECAY, STM_PRIOR, STM_STRENGTH


def _metrics_table(evaluation: dict) -> str:
    rows = ["| set | model | pitch only | pitch given rhythm | joint (rhythm and pitch) |",
            "| --- | --- | --- | --- | --- |"]
    for name in ("chorales", "kinder"):
        entry = evaluation.get(name)
        if not entry:
            continue
        for model in ("ppm_ltm", "ppm_ltm_stm", "neural", "neural_stm"):
            m = entry.get(model)
            if not m:
                continue
            cell = lambda k: f"{m[k]:.3f}" if k in m else "-"  # noqa: E731
            rows.append(f"| {name} ({entry['melodies']} melodies, {entry['notes']} notes) | {model} | "
                        f"{cell('pitch_only_bits')} | {cell('pitch_given_rhythm_bits')} | {cell('joint_bits')} |")
    return "\n".join(rows)


CHECK_MELODIES = 10


def check_figures(model_path: Path) -> dict:
    """Neural bits on the first ``CHECK_MELODIES`` melodies of each set (``tests/test_shipped_model.py``)."""
    from ..evaluation.melody import load_sets, neural_note_bits, short_term_pitch_model, summarise
    from ..live.model import MelodyModel

    model = MelodyModel.load(model_path, verify=False, window=1 << 30, warmup=False)
    out = {}
    for name, melodies in load_sets(["chorales", "kinder"], CHECK_MELODIES).items():
        out[name] = {"neural": summarise([neural_note_bits(model, m) for m in melodies]),
                     "neural_stm": summarise([neural_note_bits(model, m, short_term_pitch_model) for m in melodies])}
    return out


def write_card(model: Path, evaluation: dict, bench: dict | None, out: Path) -> str:
    info = json.loads(model.with_suffix(".train.json").read_text())
    files = [model] + [p for p in [model.with_name(model.stem + ".int8.onnx")] if p.exists()]
    cfg = info["config"]
    corpus = info.get("corpus_report", {})
    corpus_rows = "\n".join(
        f"| {name} | {r.get('melodies', '-')} | {r.get('notes', '-')} | {r.get('failed', 0)} | "
        f"{r.get('duplicates_removed', 0)} |" for name, r in corpus.items() if isinstance(r, dict) and "melodies" in r)
    best = info.get("best_valid") or {}
    lines = [
        "# melody.onnx: the melody model",
        "",
        "A causal transformer over the note vocabulary of `assistant/music/tokens.py`, trained by our own",
        "pipeline on melodies from the corpus that ships inside music21. It predicts, for each note, the",
        "rest before it, its duration and then its pitch, so its pitch probability is conditioned on the",
        "note's onset and duration (comparable to IDyOM's pitch-given-rhythm figure).",
        "",
        "## Files",
        "",
        "| file | sha256 | bytes |",
        "| --- | --- | --- |",
        *[f"| `{p.name}` | `{sha256_of(p)}` | {p.stat().st_size} |" for p in files],
        "",
        "The run time refuses a file whose sha256 differs from this table (exit code 2, one line naming",
        "the file and how to restore it).",
        "",
        "## Data and split",
        "",
        "Training collections: `essenFolksong` (every file except `kinder0.abc`), `oneills1850`,",
        "`ryansMammoth`, and the Bach chorales outside BWV 253-438 (soprano part). Evaluation sets, never",
        "trained on: the soprano lines of the chorales BWV 253-438 (`chorales`) and",
        "`essenFolksong/kinder0.abc` (`kinder`). Training melodies whose pitch sequence, or whose first 16",
        "pitches, equal an evaluation melody's up to transposition were removed. Validation: 5% of the",
        "training melodies, chosen by a hash of the melody id.",
        "",
        "| collection | melodies | notes | failed to parse | duplicates of evaluation melodies removed |",
        "| --- | --- | --- | --- | --- |",
        corpus_rows or "| (see `midi-assistant corpus --json`) | | | | |",
        "",
        f"Training set: {info['train_melodies']} melodies ({info['train_tokens']} tokens); validation:"
        f" {info['valid_melodies']} melodies ({info['valid_tokens']} tokens). Every time a melody is drawn",
        "it is transposed by a random interval of -6..+5 semitones (12 keys).",
        "",
        "## Vocabulary",
        "",
        f"{T.VOCAB_SIZE} tokens: PAD, BOS, REST_1..REST_{T.MAX_REST}, DUR_1..DUR_{T.MAX_DUR}, PITCH_0..PITCH_127,",
        "in ticks of 12 to a quarter note. Per note: optional REST tokens (silence since the previous note;",
        "for the first note, since the downbeat of its bar), one DUR, one PITCH. Each token also carries",
        f"the bar position of the time cursor after it (0..{T.POSITIONS - 1}) and the meter (one of",
        f"{len(T.METERS)} common meters or 'other') as input features. The round trip notes -> tokens -> notes",
        f"is exact for any rest and durations up to {T.MAX_DUR} ticks. About 2.05 tokens per note.",
        "",
        "## Architecture",
        "",
        f"Pre-norm transformer decoder: d_model {cfg['d_model']}, {cfg['n_layers']} layers, {cfg['n_heads']} heads,",
        f"feed-forward x{cfg['ff_mult']}, dropout {cfg['dropout']}, ALiBi attention (no position embeddings, so",
        "the run time can slide its key/value cache window), tied input/output embeddings,",
        f"{info['parameters']:,} parameters. ONNX graph with an incremental step: inputs `tokens`,",
        f"`positions`, `meters` [batch, new] and `past_keys`/`past_values` [layers, batch, heads, past, "
        f"{cfg['d_model'] // cfg['n_heads']}];",
        "outputs `logits` and the grown caches. Exported with torch.onnx (dynamo), opset from torch",
        f"{info.get('torch', '?')}.",
        "",
        "## Training",
        "",
        f"Reproduce (on {info['device']}, about {_total_seconds(info) / 60 + 2:.0f} minutes with the export; the corpus "
        "extraction before it takes 3-6). Stopped, the command saves its state every 5 minutes and the same "
        "command resumes it:",
        "",
        "```sh",
        "pip install -e '.[train]'",
        "midi-assistant corpus",
        *_training_commands(info),
        *_ship_commands(info, model),
        "```",
        "",
        "On GPUs or several machines the same entry point runs under torchrun (DistributedDataParallel):",
        "`torchrun --nproc-per-node 4 -m assistant.train.train_melody --preset medium`.",
        "",
        f"AdamW (lr {info.get('lr', '2e-3')} with warm-up and cosine decay, weight decay 0.05), 8192 tokens a",
        f"step, crops of {info.get('context', 256)} tokens, seed {info['seed']}, early stopping on validation",
        f"loss. {info['steps']} steps in {info['seconds'] / 60:.1f} minutes on {info['device']}"
        + (f", started from the weights of the first command's model (sha256 `{info['init_from']['sha256'][:16]}...`, "
           f"{info['init_from'].get('training', {}).get('steps', '?')} steps, "
           f"{(info['init_from'].get('training', {}).get('seconds') or 0) / 60:.1f} minutes)"
           if info.get("init_from") else "") + ". Best validation:",
        f"loss {best.get('loss', float('nan')):.4f} nats/token, pitch {best.get('pitch_bits_per_note', float('nan')):.3f}"
        f" bits/note, joint {best.get('joint_bits_per_note', float('nan')):.3f} bits/note.",
        "",
        "## Metrics",
        "",
        "Mean over melodies of each melody's mean information content (bits per note), from",
        "`midi-assistant eval --json` on the full evaluation sets. `ppm_*` are our PPM* baselines (LTM",
        "trained on the same training set); `neural_stm` blends each pitch distribution with a PPM",
        "short-term model of the melody so far (escape C, update exclusion), as the live engine does: a weighted",
        f"geometric mean, entropy-weighted with bias {STM_BIAS:g}, the short-term model's weight times {STM_PRIOR:g} and times",
        f"2^({STM_STRENGTH:g} x its recent advantage in bits, averaged with decay {STM_DECAY:g} a note) (`assistant/music/stm_blend.py`;",
        "chosen on the validation split by `python -m assistant.train.blend_study`).",
        "",
        _metrics_table(evaluation),
        "",
        f"Evaluated with model sha256 `{evaluation.get('model_sha256', '?')}`.",
        "",
        f"Check figures (the first {CHECK_MELODIES} melodies of each set; `tests/test_shipped_model.py` recomputes",
        "them from the shipped file and requires agreement within 0.05 bits):",
        "",
        "| check | value |",
        "| --- | --- |",
        *[f"| check {name} {model_name} {key} | {value:.4f} |"
          for name, models in check_figures(model).items() for model_name, figures in models.items()
          for key, value in figures.items()],
    ]
    if evaluation.get("ppm_reproduction"):
        lines += ["", "PPM reproduction of Pearce (2005), pitch only, 10-fold cross-validation within each set:", "",
                  "```json", json.dumps(evaluation["ppm_reproduction"], indent=1), "```"]
    if bench:
        lines += ["", "## Speed (this machine: 2 shared cores, one onnxruntime thread)", "",
                  "From `midi-assistant bench --json`; medians and 99th percentiles in ms, noisy by +-30%:", "",
                  "```json", json.dumps(bench.get("model", bench), indent=1), "```"]
    text = "\n".join(lines) + "\n"
    out.write_text(text)
    return text


def _ship_commands(info: dict, model: Path) -> list[str]:
    """From a trained file to the shipped one: evaluate it where it was written (it has no
    card yet, so its sha256 is not checked), copy it, write its card, time it, write the
    card again with the timings."""
    trained = Path(info["files"][0]) if info.get("files") else model
    out = [f"midi-assistant eval --json --generation --reproduce --model {trained} > runs/eval.json"]
    if trained.parent != model.parent:
        out.append(f"cp {' '.join(info['files'])} {trained.with_suffix('.train.json')} {model.parent}/")
    card = f"python -m assistant.train.card --model {model} --eval runs/eval.json"
    return out + [card, f"midi-assistant bench --json --model {model} > runs/bench.json", card + " --bench runs/bench.json"]


def _total_seconds(info: dict) -> float:
    """Training time of the model and of every model it was started from."""
    base = (info.get("init_from") or {}).get("training") or {}
    return (info.get("seconds") or 0.0) + (_total_seconds(base) if base else 0.0)


def _training_commands(info: dict) -> list[str]:
    """The commands that train the model from nothing: for a run started from another
    model's weights (``--init-from``), that model's own commands first, its output then
    the starting point."""
    command = info["command"]
    base = info.get("init_from")
    if not base or not base.get("training", {}).get("command"):
        return [command]
    earlier = _training_commands(base["training"])
    base_out = re.search(r"--out\s+(\S+)", earlier[-1])
    if base_out:
        command = re.sub(r"--init-from\s+\S+", f"--init-from {base_out.group(1)}", command)
    return earlier + [command]


def card_command(description: str, default_model: str, eval_command: str, write) -> int:
    """The command line of a card writer: ``write(model, evaluation, bench, out)``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--model", default=default_model)
    p.add_argument("--eval", required=True, help=f"JSON printed by `{eval_command}`")
    p.add_argument("--bench", help="JSON printed by `midi-assistant bench --json`")
    p.add_argument("--out", help="card path (default: beside the model, <name>.md)")
    args = p.parse_args()
    model = Path(args.model)
    evaluation = json.loads(Path(args.eval).read_text())
    bench = json.loads(Path(args.bench).read_text()) if args.bench else None
    out = Path(args.out) if args.out else model.with_name(model.name.split(".")[0] + ".md")
    write(model, evaluation, bench, out)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def main() -> int:
    return card_command(__doc__.splitlines()[0], "models/melody.onnx", "midi-assistant eval --json", write_card)


if __name__ == "__main__":
    sys.exit(main())
