"""Chord vocabulary, recogniser, key tracker, beat grid and voice leading (pure, fast)."""

from __future__ import annotations

import pytest

from assistant.music.harmony import (
    CHORD_VOCAB_SIZE, NO_CHORD, QUALITIES, KeyTracker, Voicer, beat_grid, beat_ticks, chord_index,
    chord_name, chord_of_pitches, chord_pitch_classes, players_chord, diatonic_triads, parse_chord_name, rule_chord,
    transpose_chord,
)
from assistant.music.keys import Key
from assistant.music import Meter, Note


def test_vocabulary_round_trips_every_chord():
    assert CHORD_VOCAB_SIZE == 1 + 12 * len(QUALITIES) == 109
    names = [chord_name(i) for i in range(CHORD_VOCAB_SIZE)]
    assert len(set(names)) == CHORD_VOCAB_SIZE
    for i, name in enumerate(names):
        assert parse_chord_name(name) == i
    assert parse_chord_name("C#m7") == parse_chord_name("Dbm7") == chord_index(1, "m7")
    assert parse_chord_name("Bø7") == chord_index(11, "m7b5")
    assert chord_pitch_classes(parse_chord_name("G7")) == (7, 11, 2, 5)
    assert chord_pitch_classes(NO_CHORD) == ()
    with pytest.raises(ValueError):
        parse_chord_name("H7")


def test_transposition_moves_the_root_and_keeps_the_quality():
    for i in range(1, CHORD_VOCAB_SIZE):
        for s in range(12):
            t = transpose_chord(i, s)
            assert chord_pitch_classes(t) == tuple((p + s) % 12 for p in chord_pitch_classes(i))
    assert transpose_chord(NO_CHORD, 5) == NO_CHORD


@pytest.mark.parametrize("pitches, expected", [
    ([48, 52, 55], "C"),                # root position
    ([52, 55, 60], "C"),                # first inversion
    ([43, 48, 52], "C"),                # second inversion
    ([45, 48, 52], "Am"),
    ([48, 52, 57], "Am"),               # Am/C
    ([47, 50, 53, 55], "G7"),           # G7/B, third inversion root on top
    ([41, 55, 59, 62], "G7"),           # G7/F
    ([48, 50, 53, 57], "Dm7"),          # Dm7/C
    ([47, 50, 53, 57], "Bm7b5"),
    ([48, 52, 55, 59], "Cmaj7"),
    ([52, 55, 59, 60], "Cmaj7"),        # Cmaj7/E
    ([48, 53, 55], "Csus4"),
    ([48, 52, 56], "Caug"),
    ([47, 50, 53], "Bdim"),
    ([40, 50, 56], "E7"),               # E7 without its fifth
    ([50, 54, 57, 60], "D7"),
    ([55, 58, 62], "Gm"),
])
def test_recogniser_names_hand_written_voicings(pitches, expected):
    assert chord_name(chord_of_pitches(pitches)) == expected


def test_recogniser_needs_two_pitch_classes():
    assert chord_of_pitches([]) == NO_CHORD
    assert chord_of_pitches([60]) == NO_CHORD
    assert chord_of_pitches([48, 60, 72]) == NO_CHORD


@pytest.mark.parametrize("pitches, split, expected", [
    ([60, 64, 67], None, "C"),  # a block triad
    ([60, 64, 67, 70], None, "C7"),  # a seventh chord in one hand: its top note is no melody
    ([48, 52, 55, 74], None, "C"),  # a left-hand triad under a right-hand D5
    ([48, 55, 64], None, "C"),  # an open voicing
    ([48, 52, 55, 74], 60, "C"),
    ([48, 52, 67, 71], 60, "N.C."),  # below middle C only two notes: melody, not a chord
    ([60, 64], None, "N.C."),  # a dyad is melody
    ([60, 62, 64], None, "N.C."),  # a cluster is no chord
    ([62, 65, 69, 72], None, "Dm7"),
])
def test_the_players_chord_is_what_the_chord_hand_holds(pitches, split, expected):
    assert chord_name(players_chord(pitches, split)) == expected


def test_beat_grid_follows_the_meter():
    assert beat_ticks(Meter(0, 4, 4)) == 12
    assert beat_ticks(Meter(0, 6, 8)) == 18
    assert beat_ticks(Meter(0, 2, 2)) == 24
    assert beat_ticks(Meter(0, 3, 8)) == 6
    assert beat_grid([Meter(-12, 4, 4)], -12, 48) == [(-12, 0, 12), (0, 1, 12), (12, 2, 12), (24, 3, 12),
                                                      (36, 0, 12)]
    assert beat_grid([Meter(0, 6, 8)], 5, 72) == [(18, 1, 18), (36, 0, 18), (54, 1, 18)]
    # a meter change at a bar line
    assert beat_grid([Meter(0, 2, 4), Meter(24, 3, 4)], 0, 60) == [(0, 0, 12), (12, 1, 12), (24, 0, 12),
                                                                   (36, 1, 12), (48, 2, 12)]


def _melody(pitches, dur=12):
    return [Note(i * dur, dur, p) for i, p in enumerate(pitches)]


def test_key_tracker_finds_the_key_and_ignores_a_passing_chromatic_note():
    tracker = KeyTracker()
    c_major = [60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 71, 67, 65, 64, 62, 60]
    for n in _melody(c_major):
        tracker.update(n)
    assert tracker.estimate.name == "C major"
    before = tracker.estimate.confidence
    assert before > 0.3
    seen = set()
    for n in _melody([66, 67, 65, 64, 62, 60], 6):  # F# passing to G
        tracker.update(Note(n.onset + 400, n.duration, n.pitch))
        seen.add(tracker.estimate.name)
    assert seen == {"C major"}


def test_key_tracker_follows_a_lasting_modulation():
    tracker = KeyTracker(half_life_beats=8)
    for n in _melody([60, 62, 64, 65, 67, 69, 71, 72] * 2):
        tracker.update(n)
    assert tracker.estimate.name == "C major"
    e_major = [64, 66, 68, 69, 71, 73, 75, 76, 75, 73, 71, 69, 68, 66, 64, 71]
    names = []
    for n in _melody(e_major * 3):
        tracker.update(Note(n.onset + 200, n.duration, n.pitch))
        names.append(tracker.estimate.name)
    assert names[-1] == "E major"
    assert names[0] == "C major"  # not on the first new note
    changes = sum(a != b for a, b in zip(names, names[1:]))
    assert changes <= 2


def test_fixed_key_wins():
    tracker = KeyTracker(fixed=Key(2, True))
    tracker.update(Note(0, 12, 60))
    assert tracker.estimate.name == "D minor" and tracker.estimate.confidence == 1.0


def test_rule_baseline_picks_a_diatonic_triad_with_the_note():
    c = Key(0, False)
    assert [chord_name(x) for x in diatonic_triads(c)] == ["C", "Dm", "Em", "F", "G", "Am", "Bdim"]
    assert chord_name(rule_chord(c, 64)) == "C"
    assert chord_name(rule_chord(c, 62)) == "G"
    assert chord_name(rule_chord(c, 65)) == "F"
    assert chord_name(rule_chord(c, 69)) == "F"
    assert chord_name(rule_chord(c, 61)) == "C"  # chromatic: the tonic
    assert chord_name(rule_chord(Key(9, True), 68)) == "E"  # the raised leading tone in A minor
    assert rule_chord(None, 60) == NO_CHORD


def test_voicer_moves_the_fewest_semitones_and_stays_in_register():
    v = Voicer(48, 72, 4)
    prev = None
    for name in ["C", "Am", "F", "G7", "C", "Dm7", "G7", "Cmaj7"]:
        voicing = v.voice(parse_chord_name(name))
        assert all(48 <= p <= 72 for p in voicing)
        assert {p % 12 for p in voicing} == set(chord_pitch_classes(parse_chord_name(name)))
        if prev is not None:
            # no candidate voicing of this chord moves less
            best = min(sum(abs(a - b) for a, b in zip(prev, c)) for c in v._candidates(chord_pitch_classes(
                parse_chord_name(name))) if len(c) == len(prev))
            assert sum(abs(a - b) for a, b in zip(prev, voicing)) == best
        prev = voicing
    assert v.voice(NO_CHORD) == ()
    with pytest.raises(ValueError):
        Voicer(60, 66)
