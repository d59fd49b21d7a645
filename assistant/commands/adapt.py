"""``midi-assistant adapt FILES_OR_FOLDERS -o my-model.onnx``: the melody model fine-tuned on
a musician's own MIDI files, with its card.

Main thread, for minutes. Every track with notes (drums excluded) of every readable file
becomes a melody as ``continue`` takes one (``tokens.monophonic``). Files that are not MIDI,
unreadable or without melodic notes are counted and named, never fatal; with none usable the
command says so in one line and exits 2. A tenth of the files (by file, seeded) is held out
and scored before and after; the fine-tuning (``train.finetune``, the mechanism of
``eval --cv``) early-stops on a tenth of the rest. Needs the train extra.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from ..errors import UserError
from ..music import Melody

MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
HELD_OUT_SHARE = 0.1


def add_arguments(p) -> None:
    p.add_argument("inputs", nargs="+", metavar="FILES_OR_FOLDERS",
                   help="MIDI files, or folders searched for .mid/.midi files (recursively)")
    p.add_argument("-o", "--output", required=True, help="the model to write (.onnx); its card goes beside it (.md)")
    p.add_argument("--minutes", type=float, default=5.0, help="fine-tuning time budget (default 5)")
    p.add_argument("--seed", type=int, default=0, help="random seed: the held-out files and the training order")
    p.add_argument("--model", default=None, help="model to start from (default: the shipped melody model)")


def midi_paths(inputs: list[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """(files to read, [(input, why it gives nothing)]): folders are searched for MIDI files."""
    files, bad = [], []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MIDI_SUFFIXES)
            if not found:
                bad.append((raw, "a folder without .mid or .midi files"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            bad.append((raw, "does not exist"))
    return files, bad


def melodies_of(path: Path) -> list[Melody]:
    """One melody per track with notes that is not drums only; ``UserError`` naming why none."""
    from ..music import tokens as T
    from ..midi.midifile import read_midi

    content = read_midi(path)
    tracks = [t for t in content.tracks if t.notes and not t.drum_only]
    if not tracks:
        if any(t.notes for t in content.tracks):
            raise UserError("only drum notes (channel 10)")
        raise UserError("no notes")
    out = []
    for track in tracks:
        notes = T.monophonic(track.notes)
        if len(notes) >= 2:
            out.append(Melody(f"{path}#track{track.index}", "user", notes, content.meters))
    if not out:
        raise UserError("no track with two or more notes")
    return out


def _file_of(melody: Melody) -> str:
    return melody.id.rsplit("#", 1)[0]


def held_out_bits(model_path: Path, melodies: list[Melody]) -> dict:
    """Mean bits per note of the melodies under a model (pitch given rhythm, joint)."""
    from ..evaluation.scoring import neural_note_bits, summarise
    from ..live.model import MelodyModel

    model = MelodyModel.load(model_path, verify=False, window=1 << 30, warmup=False)
    return summarise([neural_note_bits(model, m) for m in melodies])


def run(args) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ..live.model import DEFAULT_MELODY_MODEL
    from ..live.model_file import verify_model_file
    from ..train.finetune import FineTuneSettings, fine_tuned_model, inner_split, require_training_stack

    require_training_stack("adapt")

    out = Path(args.output)
    if out.suffix != ".onnx":
        raise UserError(f"-o {args.output}: give a file name ending in .onnx, e.g. my-model.onnx")
    if args.minutes <= 0:
        raise UserError(f"--minutes {args.minutes:g}: give a positive number of minutes, e.g. 5")
    base = Path(args.model) if args.model else DEFAULT_MELODY_MODEL
    if args.model is None:
        verify_model_file(base)
    files, bad = midi_paths(args.inputs)
    melodies: list[Melody] = []
    used: list[Path] = []
    for path in files:
        try:
            found = melodies_of(path)
        except UserError as err:
            bad.append((str(path), str(err)))
            continue
        melodies.extend(found)
        used.append(path)
    for name, why in bad:
        print(f"skipped {name}: {why}", file=sys.stderr)
    if not melodies:
        raise UserError(f"no usable MIDI file in {' '.join(args.inputs)} ({len(bad)} skipped, named above); "
                        "give .mid files with melodic (not drum) tracks")
    learn, held = inner_split(melodies, HELD_OUT_SHARE, args.seed, group=_file_of)
    learn_files = sorted({_file_of(m) for m in learn})
    held_files = sorted({_file_of(m) for m in held})
    train, valid = inner_split(learn, HELD_OUT_SHARE, args.seed + 1, group=_file_of)
    print(f"adapt: {len(used)} files ({len(bad)} skipped), {len(melodies)} melodies; "
          f"{len(held_files)} files held out", file=sys.stderr)
    before = held_out_bits(base, held) if held else {}
    settings = FineTuneSettings(max_minutes=args.minutes, seed=args.seed, max_epochs=1000, patience=4)
    out.parent.mkdir(parents=True, exist_ok=True)
    with Progress(TextColumn("fine-tuning"), BarColumn(), TextColumn("{task.fields[figure]}"),
                  TimeRemainingColumn(), transient=True, console=_stderr_console()) as bar:
        task = bar.add_task("fine-tune", total=1.0, figure="")

        def progress(fraction: float, metrics: dict) -> None:
            figure = f"{metrics['pitch_bits_per_note']:.3f} bits/note" if metrics else ""
            bar.update(task, completed=fraction, figure=figure)

        report = fine_tuned_model(base, train, out, settings, valid=valid or None, progress=progress)
    after = held_out_bits(out, held) if held else {}
    card = write_card(out, args, base, used, bad, learn_files, held_files, before, after, report)
    if held:
        print(f"held-out {len(held_files)} files, bits per note (pitch given rhythm): "
              f"{before['pitch_given_rhythm_bits']:.3f} -> {after['pitch_given_rhythm_bits']:.3f}; "
              f"joint {before['joint_bits']:.3f} -> {after['joint_bits']:.3f}", file=sys.stderr)
    else:
        print("one file only: nothing held out to compare on", file=sys.stderr)
    print(f"wrote {out} and its card {card}; play it with: midi-assistant run --model {out}", file=sys.stderr)
    return 0


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def write_card(out: Path, args, base: Path, used, bad, learn_files, held_files, before, after, report) -> Path:
    """The adapted model's card beside it (``my-model.md``): its sha256 (checked at load by
    ``run --model``), the files, the held-out figures and the exact command."""
    from ..live.model_file import sha256_of

    digest = sha256_of(out)
    card = out.with_name(out.name.split(".")[0] + ".md")
    command = "midi-assistant adapt " + " ".join(shlex.quote(a) for a in sys.argv[2:]) \
        if sys.argv[1:2] == ["adapt"] else "midi-assistant adapt " + " ".join(shlex.quote(a) for a in args.inputs) \
        + f" -o {shlex.quote(str(args.output))} --minutes {args.minutes:g} --seed {args.seed}"

    def figure(d: dict, key: str) -> str:
        return f"{d[key]:.3f}" if key in d else "-"

    lines = [
        f"# {out.name}: the melody model adapted to a musician's own files", "",
        f"Fine-tuned from `{base.name}` (sha256 `{sha256_of(base)}`).", "",
        "## Files", "",
        "| file | sha256 | bytes |", "| --- | --- | --- |",
        f"| `{out.name}` | `{digest}` | {out.stat().st_size} |", "",
        "## Data", "",
        f"{len(used)} MIDI files used ({len(learn_files)} to learn from, {len(held_files)} held out by file); "
        f"{len(bad)} skipped.", "",
        "Learnt from: " + ", ".join(f"`{Path(f).name}`" for f in learn_files), "",
        "Held out: " + (", ".join(f"`{Path(f).name}`" for f in held_files) or "none"), "",
    ]
    if bad:
        lines += ["Skipped: " + "; ".join(f"`{Path(n).name}` ({why})" for n, why in bad), ""]
    lines += [
        "## Held-out figures (bits per note, mean over melodies)", "",
        "| model | pitch given rhythm | joint |", "| --- | --- | --- |",
        f"| before ({base.name}) | {figure(before, 'pitch_given_rhythm_bits')} | {figure(before, 'joint_bits')} |",
        f"| after ({out.name}) | {figure(after, 'pitch_given_rhythm_bits')} | {figure(after, 'joint_bits')} |", "",
        "## Training", "",
        f"{report['steps']} steps in {report['seconds']:.0f} s (stopped: {report['stopped']}), lr {report['lr']:g}, "
        f"{report['batch_tokens']} tokens a step; {report['train_melodies']} melodies learnt, "
        f"{report['valid_melodies']} for early stopping.", "",
        "Reproduce:", "", "```sh", command, "```", "",
    ]
    card.write_text("\n".join(lines))
    return card
