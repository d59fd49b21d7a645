"""The key tracker on real corpus melodies: it must find the annotated or analysed key
for a clear majority of the kinder and chorale melodies (the rates are printed)."""

import re

from assistant.music.keys import parse_key_name
from assistant.music.harmony import KeyTracker
from tiny_model import need


def final_key(notes):
    tracker = KeyTracker()
    for n in notes:
        tracker.update(n)
    est = tracker.estimate
    return None if est is None else (est.key.tonic, est.key.minor)


def test_key_tracker_finds_the_key_of_the_kinder_tunes_as_annotated():
    need("music21")
    from assistant.train.corpus import KINDER_FILE, corpus_dir, load_eval_sets, read_text, split_abc

    annotated = {}
    for number, text in split_abc(read_text(corpus_dir() / KINDER_FILE)):
        found = re.search(r"^K:\s*(\S+)", text, re.MULTILINE)
        key = parse_key_name(found.group(1)) if found else None
        if key is not None:
            annotated[f"{KINDER_FILE}#{number}"] = (key.tonic, key.minor)
    melodies = [m for m in load_eval_sets(progress=False)["kinder"] if m.id in annotated]
    assert len(melodies) >= 200
    hits = sum(final_key(m.notes) == annotated[m.id] for m in melodies)
    rate = hits / len(melodies)
    print(f"kinder: key tracker agrees with the K: field on {hits}/{len(melodies)} = {rate:.3f}")
    assert rate >= 0.85


def test_key_tracker_finds_the_analysed_key_of_the_chorales_from_the_soprano_alone():
    need("music21")
    from assistant.train.chord_corpus import load_chord_corpus

    pieces = [p for p in load_chord_corpus(progress=False).eval_sets["chorales"] if p.key is not None]
    assert len(pieces) >= 180
    hits = sum(final_key(p.melody.notes) == tuple(p.key) for p in pieces)
    rate = hits / len(pieces)
    print(f"chorales: key tracker on the soprano agrees with music21's analysis of all four voices "
          f"on {hits}/{len(pieces)} = {rate:.3f}")
    assert rate >= 0.7
