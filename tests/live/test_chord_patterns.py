"""The accompaniment's patterns (assistant.live.chord_patterns): one beat of a voiced chord."""

from assistant.live.chord_patterns import Beat, render
from assistant.music import TICKS_PER_QUARTER, Meter, Note

Q = TICKS_PER_QUARTER
C = (48, 55, 64, 67)


def test_beat_strikes_every_beat_just_short_of_the_next():
    assert render("beat", Beat(Q, 1, Q), C, 80, Meter(0), restrike=False) == [Note(Q, Q - 1, p, 80) for p in C]


def test_bar_sounds_on_the_downbeat_or_a_new_chord_and_holds_to_the_bar_line():
    meter = Meter(0, 3, 4)
    assert render("bar", Beat(3 * Q, 0, Q), C, 80, meter, restrike=False) == [Note(3 * Q, 3 * Q, p, 80) for p in C]
    assert render("bar", Beat(4 * Q, 1, Q), C, 80, meter, restrike=False) == []
    assert render("bar", Beat(4 * Q, 1, Q), C, 80, meter, restrike=True) == [Note(4 * Q, 2 * Q, p, 80) for p in C]


def test_the_arpeggio_goes_up_and_back_in_eighths_and_goes_on_across_beats():
    first = render("arpeggio", Beat(0, 0, Q), C, 80, Meter(0), restrike=True)
    second = render("arpeggio", Beat(Q, 1, Q), C, 80, Meter(0), restrike=False)
    assert [(n.onset, n.duration, n.pitch, n.velocity) for n in first] == [(0, 6, 48, 80), (6, 6, 55, 72)]
    assert [n.pitch for n in second] == [64, 67]
    third = render("arpeggio", Beat(2 * Q, 2, Q), C, 80, Meter(0), restrike=False)
    assert [n.pitch for n in third] == [64, 55]  # and back down
    dotted = render("arpeggio", Beat(0, 0, 18), (50, 57, 62), 80, Meter(0, 6, 8), restrike=True)
    assert [(n.onset, n.pitch) for n in dotted] == [(0, 50), (6, 57), (12, 62)]
    assert render("beat", Beat(0, 0, Q), (), 80, Meter(0), restrike=True) == []
