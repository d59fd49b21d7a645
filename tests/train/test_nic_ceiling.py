"""The causal note_in_chord ceiling (assistant.train.nic_ceiling) on hand-made melodies."""

import random
from types import SimpleNamespace

import pytest

from assistant.music.harmony import CHORD_VOCAB_SIZE, NO_CHORD, chord_pitch_classes
from assistant.music import TICKS_PER_QUARTER, Note
from assistant.train.nic_ceiling import beat_contexts, ceiling

REAL = [c for c in range(CHORD_VOCAB_SIZE) if c != NO_CHORD]
TRIADS = [c for c in REAL if len(chord_pitch_classes(c)) == 3]


def piece(pitches):
    """One quarter note a beat; the chord labels do not matter to the ceiling."""
    notes = [Note(i * TICKS_PER_QUARTER, TICKS_PER_QUARTER, p) for i, p in enumerate(pitches)]
    return SimpleNamespace(melody=SimpleNamespace(notes=notes),
                           beats=[(i * TICKS_PER_QUARTER, NO_CHORD) for i in range(len(pitches))])


def test_contexts_are_what_was_heard_before_the_beat_relative_to_the_last_note():
    contexts = beat_contexts(piece([60, 62, 64, 65]), depth=2, with_position=False)
    assert contexts == [((), 0), ((0,), 0), ((10, 0), 2), ((10, 0), 4)]


def test_a_predictable_melody_reaches_the_full_ceiling():
    # C D C D ...: after C always D, after D always C (the first beat has no history)
    result = ceiling([piece([60, 62] * 16)], TRIADS, depth=1, with_position=False)
    assert result["note_in_chord_ceiling"] == pytest.approx(1.0)


def test_a_step_either_way_cannot_be_covered_with_the_note_held():
    # the melody comes back to E after every note, and from E goes to D, F or stays, at
    # random: after E no triad holds D, E and F (the best holds D and F), so even the
    # table fitted on the piece itself stays well below 1
    rng = random.Random(0)
    melody = [p for _ in range(200) for p in (64, rng.choice([62, 64, 65]))]
    result = ceiling([piece(melody)], TRIADS, depth=2, with_position=False)
    assert 0.6 < result["note_in_chord_ceiling"] < 0.9
