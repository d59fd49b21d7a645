"""eval --harmony's reactive predictor and its figures of how chords move, on hand-made pieces."""

from types import SimpleNamespace

import numpy as np

from assistant.evaluation.harmony import _bar_changes, movement, movement_summary, reactive
from assistant.live.chord_model import AHEAD, piece_inputs
from assistant.music import Melody, Meter, Note
from assistant.music.harmony import NO_CHORD, parse_chord_name

C, F, G = (parse_chord_name(n) for n in ("C", "F", "G"))


def piece(notes, chords, beat=12):
    melody = Melody("p", "test", notes, [Meter(0)])
    return SimpleNamespace(melody=melody, beats=[(i * beat, c) for i, c in enumerate(chords)])


def test_reactive_tells_the_model_only_a_note_that_starts_on_the_beat():
    """Beat 0: a note starts on it (told). Beat 12: that note is held across it (not told).
    Beat 24: a note starts on it (told). Beat 36: the note sounding began at 30, after the
    beat before and long before this beat's decision tick (not told)."""
    p = piece([Note(0, 24, 60), Note(24, 6, 64), Note(30, 18, 67)], [C, C, F, G])
    _, full, _ = piece_inputs(p.melody, p.beats)
    got = reactive(full, p)
    told = [bool(got[i, AHEAD:].any()) for i in range(4)]
    assert told == [True, False, True, False]
    assert np.array_equal(got[[0, 2], AHEAD:], full[[0, 2], AHEAD:])
    assert full[1, AHEAD:].any() and full[3, AHEAD:].any()  # model_ahead is told all four
    assert np.array_equal(got[:, :AHEAD], full[:, :AHEAD])  # what was heard before is the same


def test_how_chords_move_per_beat_per_bar_by_quality_and_entropy():
    chords = [C, C, C, C, F, F, G, G, C, C, C, C]  # three bars of 4/4 (12 ticks a beat)
    p = piece([Note(0, 144, 60)], chords)
    assert movement(chords)["changes"] == [3] and movement(chords)["steps"] == [11]
    assert _bar_changes(p, chords) == (2, 2)  # bar 2 changes inside, bar 3 from G to C
    bar_changed, bars = _bar_changes(p, chords)
    summary = movement_summary([{**movement(chords), "bar_changes": [bar_changed], "bars": [bars]}])
    assert summary["chord_change_rate"] == round(3 / 11, 4) and summary["bar_change_rate"] == 1.0
    assert summary["quality_shares"]["maj"] == 1.0 and summary["quality_shares"]["sus4"] == 0.0
    p_c, p_f, p_g = 8 / 12, 2 / 12, 2 / 12
    entropy = -(p_c * np.log2(p_c) + p_f * np.log2(p_f) + p_g * np.log2(p_g))
    assert summary["chord_entropy"] == round(float(entropy), 4)
    assert "quality_shares" not in movement_summary([movement([NO_CHORD, NO_CHORD])])
