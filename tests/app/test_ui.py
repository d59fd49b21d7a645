"""The terminal UI's text pieces (assistant.app.ui): note names, the piano roll, the chords."""

from assistant.app.ui import current_chord, piano_roll, pitch_name, upcoming_chords
from assistant.music import TICKS_PER_QUARTER, Meter, Note

Q = TICKS_PER_QUARTER


def test_pitch_names_count_octaves_from_middle_c_as_c4():
    assert [pitch_name(p) for p in (60, 61, 69, 21, 127)] == ["C4", "C#4", "A4", "A0", "G9"]


def test_the_piano_roll_has_a_row_per_pitch_high_to_low_and_a_column_per_sixteenth():
    notes = [Note(0, Q, 64, 90), Note(Q, Q // 2, 60, 90), Note(4 * Q, Q, 62, 90)]
    rows = piano_roll(notes, width=20).split("\n")
    assert [r[:4].strip() for r in rows] == ["E4", "Eb4", "D4", "C#4", "C4"]  # every pitch between, too
    e4, _, d4, _, c4 = (r[5:] for r in rows)
    assert e4.startswith("█▬▬▬ ") and c4[4:7] == "█▬ "
    assert d4[16] == "█" and e4[16] == "|"  # the next bar line, where nothing sounds
    assert piano_roll([]) == "(no suggestion)"


def test_upcoming_chords_show_bars_repeats_and_how_each_was_chosen():
    meter = Meter(0)
    upcoming = [(0, "C", "decided"), (Q, "C", "decided"), (2 * Q, "G7", "waiting"), (3 * Q, "G7", "waiting"),
                (4 * Q, "Am", "following"), (5 * Q, "Am", "decided")]
    assert upcoming_chords(upcoming, meter) == "| C . G7? . | Am= Am |"
    assert upcoming_chords([], meter) == ""


def test_the_current_chord_says_when_it_waits_or_is_the_players():
    assert current_chord(None, None) == "-"
    assert current_chord("F", "decided") == "F"
    assert current_chord("F", "waiting") == "F (waits for your note)"
    assert current_chord("F", "following") == "F (your chord)"
