"""How high can a *causal* chord choice score on ``note_in_chord``? An optimistic ceiling.

``python -m assistant.train.nic_ceiling [--depth 4] [--set chorales]``

For each beat of the evaluation pieces it takes a context known before the beat (the
last ``depth`` melody pitch classes heard before the decision tick, relative to the
last one, so ``depth - 1`` intervals and no key: depth 1 knows only whether anything
was heard; optionally the beat's place in a 4-beat bar) and plays, for every beat
with that context, the one chord that covers the most of those beats' melody frames.
The table is fitted on the evaluation pieces themselves, outcomes included, so it is
an upper bound for any chooser that sees only that context, and a generous one: with
few beats per context it is close to memorising the test set. Chords: the triads of
the vocabulary, or every real chord (sevenths and sus4 too).

Why it matters: the true labels of the chorales are read from all four voices, the
melody included, so they contain the note that sounds on the beat by construction
(``true`` note_in_chord 0.957); a choice made a tick before the beat cannot know it,
and a chorale melody mostly moves by step, which no triad can cover both ways.

Needs the ``train`` extra (music21, for the corpus); main thread; prints one line per
(chord set, depth, position) and a JSON summary with ``--json``.
"""

from __future__ import annotations

import argparse
import collections
import json

import numpy as np

from ..live.chord_model import DECISION_TICKS
from ..evaluation.harmony import frame_pitch_classes
from ..music.harmony import CHORD_VOCAB_SIZE, NO_CHORD, chord_pitch_classes

BAR_BEATS = 4


def beat_contexts(piece, depth: int, with_position: bool) -> list[tuple[tuple, int]]:
    """(context, reference pitch class) per beat: the last ``depth`` pitch classes heard
    before the decision tick, relative to the last of them (the reference)."""
    notes = piece.melody.notes
    out = []
    heard = 0
    for i, (tick, _) in enumerate(piece.beats):
        while heard < len(notes) and notes[heard].onset < tick - DECISION_TICKS:
            heard += 1
        recent = [n.pitch % 12 for n in notes[max(0, heard - depth):heard]]
        ref = recent[-1] if recent else 0
        key = tuple((pc - ref) % 12 for pc in recent)
        if with_position:
            key += ("pos", i % BAR_BEATS)
        out.append((key, ref))
    return out


def ceiling(pieces, chords: list[int], depth: int, with_position: bool) -> dict:
    """Fit the best chord per context on ``pieces`` and score it there (per piece, then averaged)."""
    tones = {c: list(chord_pitch_classes(c)) for c in chords}
    table: dict[tuple, np.ndarray] = collections.defaultdict(lambda: np.zeros(12))
    data = []
    for piece in pieces:
        counts = frame_pitch_classes(piece.melody, piece.beats)
        contexts = beat_contexts(piece, depth, with_position)
        data.append((counts, contexts))
        for (key, ref), row in zip(contexts, counts):
            table[key] += np.roll(row, -ref)
    best = {key: max(chords, key=lambda c: row[tones[c]].sum()) for key, row in table.items()}
    scores = []
    for counts, contexts in data:
        frames = counts.sum()
        if frames:
            hits = sum(counts[j, [(pc + ref) % 12 for pc in tones[best[key]]]].sum()
                       for j, (key, ref) in enumerate(contexts))
            scores.append(hits / frames)
    beats = sum(len(c) for _, c in data)
    return {"depth": depth, "position": with_position, "contexts": len(table),
            "beats_per_context": round(beats / max(1, len(table)), 1),
            "note_in_chord_ceiling": round(float(np.mean(scores)), 4)}


def main(argv: list[str] | None = None) -> dict:
    from .chord_corpus import load_chord_corpus

    parser = argparse.ArgumentParser(prog="python -m assistant.train.nic_ceiling", description=__doc__.split("\n")[0])
    parser.add_argument("--depth", type=int, default=4, help="longest melody context, in notes (default 4)")
    parser.add_argument("--set", default="chorales", help="evaluation set (default chorales)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    pieces = load_chord_corpus().eval_sets[args.set]
    real = [c for c in range(CHORD_VOCAB_SIZE) if c != NO_CHORD]
    vocabularies = {"triads": [c for c in real if len(chord_pitch_classes(c)) == 3], "all_chords": real}
    rows = []
    for name, chords in vocabularies.items():
        for depth in range(1, args.depth + 1):
            for with_position in (False, True):
                row = {"chords": name, **ceiling(pieces, chords, depth, with_position)}
                rows.append(row)
                if not args.json:
                    print(f"{name:10s} depth {depth} position {str(with_position):5s} contexts {row['contexts']:5d} "
                          f"({row['beats_per_context']:7.1f} beats each)  ceiling {row['note_in_chord_ceiling']:.3f}")
    result = {"set": args.set, "pieces": len(pieces), "rows": rows}
    if args.json:
        print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
