"""bench --e2e's accompaniment scenario: its judge on exact logs, and one short run through JACK."""

import mido

from assistant.bench.accompaniment import BAR, accompaniment_figures, sounded_note_in_chord
from assistant.bench.rig import C_MAJOR_PHRASE, MS


def _chord(pitches, at_ms, on=True):
    kind = "note_on" if on else "note_off"
    return [(mido.Message(kind, channel=1, note=p, velocity=80 if on else 0), at_ms * MS) for p in pitches]


def test_note_in_chord_is_judged_at_every_moment_a_player_note_sounds():
    """A C held 100 ms: no chord for 10 ms, C major for 50 (C in it), F major for 20 (in
    it), D minor for 20 (not in it): in the chord 70 of the 90 ms with a chord."""
    chords = (_chord([48, 52, 55], 10) + _chord([48, 52, 55], 60, on=False) + _chord([53, 57, 60], 60)
              + _chord([53, 57, 60], 80, on=False) + _chord([50, 53, 57], 80))
    share, coverage = sounded_note_in_chord([(0, 100 * MS, 72)], chords)
    assert share == round(70 / 90, 4) and coverage == 0.9
    assert sounded_note_in_chord([], chords) == (None, None)


def test_a_short_accompaniment_run_through_jack(jack_server):
    """Two 2-bar phrases with human timing: every beat with a note gets a chord near it, the
    chords fit the melody most of the time, and nothing is left sounding."""
    phrase = [n for n in C_MAJOR_PHRASE if n.onset < 2 * BAR]
    figures = accompaniment_figures(jack_server.name, None, melodies=[phrase, phrase], bars=2)
    assert figures["exit_code"] == 0 and figures["hanging_notes"] == 0 and figures["unclosed_after_stop"] == 0, str(figures)
    reacted = figures["onset_after_player_ms"]
    # the first beat of each phrase has no chord yet (nothing heard before it)
    assert reacted is not None and reacted["n"] >= figures["beats_with_player_note"] - 3, figures
    assert figures["chord_coverage"] > 0.7 and figures["note_in_chord_sounded"] > 0.7, figures
