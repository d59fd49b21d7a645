"""The shipped model: intact, loadable, and scoring as its card says."""

import re

import pytest

from assistant.live.model import DEFAULT_MELODY_MODEL, MelodyModel
from assistant.live.model_file import card_checksums, sha256_of
from tiny_model import need

CARD = DEFAULT_MELODY_MODEL.with_name("melody.md")


def test_card_states_the_sha256_of_every_shipped_onnx_file():
    sums = card_checksums(CARD)
    shipped = sorted(p.name for p in DEFAULT_MELODY_MODEL.parent.glob("melody*.onnx"))
    assert shipped and sorted(sums) == shipped
    for name, digest in sums.items():
        assert sha256_of(DEFAULT_MELODY_MODEL.parent / name) == digest


def test_shipped_model_loads_and_suggests():
    model = MelodyModel.load()  # checks the sha256 against the card
    from assistant.music import Note

    for i, p in enumerate([67, 69, 71, 72, 74, 72, 71, 69]):
        model.feed(Note(i * 12, 12, p))
    alts = model.suggest(bars=2, n=4, seed=0, start_tick=120)
    assert all(a.notes and a.notes[0].onset == 120 for a in alts)


def test_shipped_model_scores_evaluation_melodies_as_its_card_says():
    need("music21")
    from assistant.evaluation.melody import load_sets, neural_note_bits, short_term_pitch_model, summarise

    rows = dict(re.findall(r"\| check (\w+ \w+ \w+) \| ([0-9.]+) \|", CARD.read_text()))
    assert rows, "the card has no check figures"
    model = MelodyModel.load(window=1 << 30, warmup=False)
    limit = int(re.search(r"the first (\d+) melodies", CARD.read_text()).group(1))
    for name, melodies in load_sets(["chorales", "kinder"], limit).items():
        got = {"neural": summarise([neural_note_bits(model, m) for m in melodies]),
               "neural_stm": summarise([neural_note_bits(model, m, short_term_pitch_model) for m in melodies])}
        for model_name, figures in got.items():
            for key, value in figures.items():
                stated = float(rows[f"{name} {model_name} {key}"])
                assert value == pytest.approx(stated, abs=0.05), (name, model_name, key)
