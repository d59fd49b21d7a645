"""The shipped chord model: intact, loadable, refusing a corrupt copy, and scoring as its card says."""

import re
import shutil

import numpy as np
import pytest

from assistant.live.chord_model import DEFAULT_HARMONY_MODEL, FEATURE_SIZE, ChordModel
from assistant.errors import UserError
from assistant.music.harmony import CHORD_VOCAB_SIZE
from assistant.live.model_file import card_checksums, sha256_of
from tiny_model import need

CARD = DEFAULT_HARMONY_MODEL.with_name("harmony.md")


def test_card_states_the_sha256_of_the_shipped_file():
    sums = card_checksums(CARD)
    assert sorted(sums) == ["harmony.onnx"]
    assert sha256_of(DEFAULT_HARMONY_MODEL) == sums["harmony.onnx"]


def test_shipped_model_loads_and_steps():
    model = ChordModel.load()  # checks the sha256 against the card
    logp = model.step(np.zeros(FEATURE_SIZE, dtype=np.float32))
    assert logp.shape == (CHORD_VOCAB_SIZE,)
    assert np.exp(logp).sum() == pytest.approx(1.0, abs=1e-5)


def test_a_corrupt_model_is_a_one_line_error_naming_the_file(tmp_path):
    bad = tmp_path / "harmony.onnx"
    shutil.copy(DEFAULT_HARMONY_MODEL, bad)
    shutil.copy(CARD, tmp_path / "harmony.md")
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(UserError) as err:
        ChordModel.load(bad)
    assert str(bad) in str(err.value) and "corrupt" in str(err.value) and "\n" not in str(err.value)


def test_shipped_model_scores_evaluation_chorales_as_its_card_says():
    need("music21")
    from assistant.train.harmony_card import check_figures

    rows = dict(re.findall(r"\| check (\w+ \w+) \| ([0-9.]+) \|", CARD.read_text()))
    assert rows, "the card has no check figures"
    for name, figures in check_figures(DEFAULT_HARMONY_MODEL).items():
        for key, value in figures.items():
            assert value == pytest.approx(float(rows[f"{name} {key}"]), abs=0.01), (name, key)
