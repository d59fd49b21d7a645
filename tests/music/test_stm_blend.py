"""The neural + short-term blend: what it returns, and how its weight follows the melody."""

import numpy as np
import pytest

from assistant.music.stm_blend import StmBlend


def peaked(pitch, mass=0.6):
    d = np.full(128, (1 - mass) / 127)
    d[pitch] = mass
    return d


def test_before_any_note_the_blend_is_the_neural_distribution():
    neural = peaked(60)
    assert np.allclose(StmBlend().mix(neural), neural)


def test_a_melody_that_repeats_itself_hands_the_short_term_model_weight():
    """A four-note figure played over and over while the neural model keeps expecting
    something else: with the advantage (decay > 0) the repeated pitch gets more of the
    blended probability than with the fixed weights alone, from the first repeat on."""
    figure = [60, 64, 67, 72]
    neural = peaked(62, 0.5)  # the neural model's guess, never played
    learning, fixed = StmBlend(decay=0.8, strength=1.0), StmBlend(decay=0.0)
    gains = []
    for rep in range(6):
        for pitch in figure:
            if learning.history:
                gains.append(learning.mix(neural)[pitch] - fixed.mix(neural)[pitch])
            learning.observe(pitch, float(neural[pitch]))
            fixed.observe(pitch, float(neural[pitch]))
    assert learning.advantage > 1.0 and fixed.advantage == 0.0
    assert min(gains[len(figure):]) > 0.05


def test_an_unknown_neural_probability_leaves_the_advantage_and_a_support_restricts_the_result():
    b = StmBlend()
    for p in (60, 62, 64, 60, 62):
        b.observe(p)
    assert b.advantage == 0.0 and b.history == [60, 62, 64, 60, 62]
    support = np.array([60, 62, 64, 65])
    mixed = b.mix(peaked(64)[support], support=support)
    assert mixed.shape == (4,) and mixed.sum() == pytest.approx(1.0)
    b.forget_context()
    assert b.history == [] and np.allclose(b.mix(peaked(64)), peaked(64))
