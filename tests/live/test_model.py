"""The run-time melody model on a small freshly exported network (no trained weights needed)."""

import numpy as np
import pytest

from assistant.music import tokens as T
from assistant.errors import UserError
from assistant.live.model import Constraints, MelodyModel, sample_probs
from assistant.live.model_file import verify_model_file
from assistant.music import Meter, Melody, Note

PHRASE = [Note(i * 6, 6 if i % 3 else 12, 60 + (i * 5) % 12) for i in range(12)]
PHRASE = T.monophonic(PHRASE)


@pytest.fixture()
def model(tiny_model_path):
    return MelodyModel.load(tiny_model_path)


def test_incremental_feed_equals_full_forward(model):
    melody = Melody("t", "t", PHRASE, [Meter(0)])
    full = model.log_probs(T.encode(melody))
    model.reset()
    step_logits = []
    for note in PHRASE:
        model.feed(note)
        step_logits.append(model._last_logits[0])
    # the logits after each note's PITCH token predict the next note's first token
    enc = T.encode(melody)
    pitch_rows = np.flatnonzero(enc.tokens[:-1] >= T.PITCH_BASE)
    full_probs = np.exp(full[pitch_rows])
    inc = np.stack(step_logits[:len(pitch_rows)]).astype(np.float64)
    inc_probs = np.exp(inc - inc.max(axis=1, keepdims=True))
    inc_probs /= inc_probs.sum(axis=1, keepdims=True)
    assert np.abs(full_probs - inc_probs).max() < 1e-4


def test_seeded_generation_is_reproducible_and_seeds_differ(model):
    for note in PHRASE:
        model.feed(note)
    a = model.suggest(bars=2, n=4, seed=11, temperature=1.5)
    b = model.suggest(bars=2, n=4, seed=11, temperature=1.5)
    c = model.suggest(bars=2, n=4, seed=12, temperature=1.5)
    assert [s.notes for s in a] == [s.notes for s in b]
    assert [s.notes for s in a] != [s.notes for s in c]


def test_suggest_does_not_change_the_fed_state(model):
    for note in PHRASE:
        model.feed(note)
    before = (model.cached_tokens, model.cursor_tick, model._last_logits.copy())
    model.suggest(bars=2, n=3, seed=1)
    assert (model.cached_tokens, model.cursor_tick) == before[:2]
    assert np.array_equal(model._last_logits, before[2])


def test_start_tick_places_every_first_note_exactly_and_bars_bound_the_end(model):
    for note in PHRASE:
        model.feed(note)
    start = 96 + 24  # a beat after the next bar line
    for alt in model.suggest(bars=2, n=4, seed=3, start_tick=start):
        assert alt.notes, "every alternative has notes"
        assert alt.notes[0].onset == start
        assert all(n.end <= 96 + 2 * 48 for n in alt.notes)  # ends at the 2nd bar line from the start's bar
        assert all(a.end <= b.onset for a, b in zip(alt.notes, alt.notes[1:]))


@pytest.mark.parametrize("seed", range(6))
def test_constraint_masks_are_never_violated(model, seed):
    for note in PHRASE:
        model.feed(note)
    pentatonic = frozenset({1, 3, 6, 8, 10})  # none of them in the phrase
    c = Constraints(pitch_classes=pentatonic, low=70, high=84)
    alts = model.suggest(bars=4, n=4, seed=seed, temperature=3.0, top_p=1.0, constraints=c)
    notes = [n for a in alts for n in a.notes]
    assert notes
    assert all(n.pitch % 12 in pentatonic and 70 <= n.pitch <= 84 for n in notes)


def test_constraints_that_allow_nothing_are_an_error():
    with pytest.raises(ValueError, match="allow no pitch"):
        Constraints(pitch_classes=frozenset({0}), low=61, high=71).pitch_mask()


def test_sample_probs_never_draws_zero_probability_tokens():
    rng = np.random.default_rng(0)
    probs = np.array([[0.0, 0.5, 0.0, 0.5], [0.0, 0.0, 1.0, 0.0]])
    draws = np.stack([sample_probs(probs, 1.0, rng) for _ in range(500)])
    assert set(draws[:, 0]) == {1, 3} and set(draws[:, 1]) == {2}
    # top-p 0.1 keeps only the most likely token
    assert {int(sample_probs(np.array([[0.1, 0.6, 0.3]]), 0.1, rng)[0]) for _ in range(50)} == {1}


def test_sliding_window_keeps_the_cache_bounded(tiny_model_path):
    model = MelodyModel.load(tiny_model_path, window=64)
    for i in range(200):
        model.feed(Note(i * 6, 6, 60 + i % 7))
        assert model.cached_tokens <= 64
    assert model.suggest(bars=1, n=2, seed=0)[0].notes


def test_corrupt_or_missing_model_is_one_clear_error(tiny_model_path, tmp_path):
    bad = tmp_path / "melody.onnx"
    bad.write_bytes(tiny_model_path.read_bytes()[:-10] + b"0123456789")
    (tmp_path / "melody.md").write_text((tiny_model_path.parent / "melody.md").read_text())
    with pytest.raises(UserError, match=r"melody.onnx is corrupt .*git checkout"):
        verify_model_file(bad)
    with pytest.raises(UserError, match="is missing"):
        MelodyModel.load(tmp_path / "nothing.onnx")
    (tmp_path / "melody.md").unlink()
    with pytest.raises(UserError, match="model card .* is missing"):
        verify_model_file(bad)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(UserError, match="cannot be loaded"):
        MelodyModel.load(garbage, verify=False)


def test_feed_returns_the_pitch_probability_the_evaluation_scores(model):
    """The live generator teaches the short-term blend with what feed returns; the evaluation
    with the full forward's pitch distribution. The two must agree."""
    from assistant.evaluation.scoring import grammar_log_probs

    melody = Melody("t", "t", PHRASE, [Meter(0)])
    enc = T.encode(melody)
    lp = grammar_log_probs(model.log_probs(enc), enc.tokens[:-1])
    targets = enc.tokens[1:]
    rows = np.flatnonzero(targets >= T.PITCH_BASE)
    offline = np.exp(lp[rows, targets[rows]])
    model.reset()
    live = np.array([model.feed(note) for note in PHRASE])
    assert np.abs(live - offline).max() < 1e-4
