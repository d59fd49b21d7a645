"""The one-shot key finder and key names (assistant.music.keys)."""

import numpy as np
import pytest

from assistant.music import Note
from assistant.music.keys import (MAJOR_PROFILE, MINOR_PROFILE, Key, find_key, key_scores, parse_key_name,
                                  pitch_class, pitch_class_histogram)


def _scale(tonic, steps, octave=60):
    return [Note(12 * i, 12 if i else 48, octave + tonic + s, 90) for i, s in enumerate(steps)]


@pytest.mark.parametrize("text, key", [("D minor", Key(2, True)), ("Bb major", Key(10, False)), ("F#m", Key(6, True)),
                                        ("c", Key(0, False)), (" eb min ", Key(3, True)), ("H", None), ("", None),
                                        (None, None), ("C major minor", None)])
def test_key_names_parse_to_tonic_and_mode(text, key):
    assert parse_key_name(text) == key


def test_pitch_classes_of_names_and_keys():
    assert pitch_class("F", "#") == 6 and pitch_class("b", "b") == 10 and pitch_class("C", "b") == 11
    assert Key(9, True).pitch_classes(raised_leading_tone=False) == frozenset({9, 11, 0, 2, 4, 5, 7})
    assert Key(9, True).pitch_classes() == frozenset({9, 11, 0, 2, 4, 5, 7, 6, 8})
    assert Key(7, False).name == "G major" and Key(3, True).name == "Eb minor"


@pytest.mark.parametrize("tonic", range(12))
def test_every_major_and_harmonic_minor_scale_is_found_with_its_tonic_held(tonic):
    major = find_key(_scale(tonic, (0, 2, 4, 5, 7, 9, 11, 12, 7, 4, 0)))
    minor = find_key(_scale(tonic, (0, 2, 3, 5, 7, 8, 11, 12, 7, 3, 0)))
    assert (major.tonic, major.minor) == (tonic, False) and major.score > 0.8
    assert (minor.tonic, minor.minor) == (tonic, True) and minor.score > 0.7


def test_scores_are_the_pearson_correlations_with_each_rotated_profile():
    hist = pitch_class_histogram(_scale(2, (0, 4, 7, 11, 2)), weighted=False)
    scores = key_scores(hist)
    for k in (0, 5, 14, 23):
        profile = np.roll(MAJOR_PROFILE if k < 12 else MINOR_PROFILE, k % 12)
        assert scores[k] == pytest.approx(np.corrcoef(hist, profile)[0, 1])
    assert not key_scores(np.ones(12)).any()  # a flat histogram correlates with nothing
    assert find_key([]) is None


def test_the_histogram_weighs_by_duration_unless_told_not_to():
    notes = [Note(0, 24, 60, 90), Note(24, 6, 72, 90), Note(30, 6, 67, 90)]
    assert pitch_class_histogram(notes)[[0, 7]].tolist() == [30, 6]
    assert pitch_class_histogram(notes, weighted=False)[[0, 7]].tolist() == [2, 1]
