"""``midi-assistant corpus [--harmony]``: extract (or load) a training corpus and summarise it.

Main thread; needs the train extra (music21). Extraction runs in ``--workers``
processes and is cached (``--cache-dir``), so a second call only reads the cache.
"""

from __future__ import annotations

import argparse
import json

from ..train import chord_corpus, corpus


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=None,
                        help="extraction processes (default: all CPU cores)")
    parser.add_argument("--force", action="store_true", help="extract again even if a cache exists")
    parser.add_argument("--cache-dir", default=None,
                        help="cache folder (default: $MIDI_ASSISTANT_CACHE or ~/.cache/midi-assistant)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--harmony", action="store_true",
                        help="extract the chord-labelled corpus (chorale harmony, tune chord symbols) instead")


def run(args: argparse.Namespace) -> int:
    kind, load = ((chord_corpus, chord_corpus.load_chord_corpus) if args.harmony
                  else (corpus, corpus.load_corpus))
    found = load(cache_dir=args.cache_dir, workers=args.workers, progress=not args.json, force=args.force)
    if args.json:
        print(json.dumps(found.report, indent=2, sort_keys=True))
    else:
        print("\n".join(kind.summary_lines(found.report)))
    return 0
