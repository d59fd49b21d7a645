"""The ``midi-assistant`` command and its subcommands.

Each subcommand lives in its own module, imported only when it is chosen, so that
``run`` never pays for (or needs) the training stack. A module provides
``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import UserError

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    # name: (module, one-line help)
    "run": ("assistant.app.runner", "open the MIDI ports and play along, live (the main job)"),
    "demo": ("assistant.commands.demo", "run the real engine on a built-in phrase, no MIDI system needed"),
    "corpus": ("assistant.commands.corpus", "extract and cache the training and evaluation melodies (train extra)"),
    "train": ("assistant.train.train_melody", "train the melody model and export it to ONNX (train extra)"),
    "train-harmony": ("assistant.train.train_harmony", "train the chord model and export it to ONNX (train extra)"),
    "eval": ("assistant.evaluation.melody", "score the models on the evaluation sets and print JSON"),
    "adapt": ("assistant.commands.adapt", "fine-tune the melody model on your own MIDI files (train extra)"),
    "bench": ("assistant.commands.bench", "measure model and engine latency and print JSON"),
    "continue": ("assistant.commands.continue_melody", "continue the melody of a MIDI file, writing variations to a new file"),
    "learn": ("assistant.commands.learn", "bind an action to the next CC or note from a controller (MIDI learn)"),
    "ports": ("assistant.commands.ports", "list the MIDI input and output ports of a backend (--backend)"),
    "show": ("assistant.commands.show", "draw a session file as a piano roll picture (plot extra)"),
    "doctor": ("assistant.commands.doctor", "check this machine: MIDI backends, our ports, MIDI clock, models, audio"),
}


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="midi-assistant", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(_module=module_name)
        if name == chosen:  # only the chosen subcommand imports its module
            importlib.import_module(module_name).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except UserError as err:
        print(f"midi-assistant {args.command}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
