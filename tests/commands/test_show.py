"""``midi-assistant show``: a session file drawn as a piano roll, each track in its colour."""

import mido
import numpy as np
import pytest

from assistant.cli import main
from assistant.commands.show import COLOURS
from assistant.midi.midifile import notes_to_track
from assistant.music import Note

pytest.importorskip("matplotlib")  # the plot extra (the README's test command installs it)


def session_file(path, player, accepted, harmony):
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("track_name", name="conductor"),
                                      mido.MetaMessage("time_signature", numerator=4, denominator=4)]))
    for name, notes, channel in (("player", player, 0), ("accepted", accepted, 0), ("harmony", harmony, 1)):
        mid.tracks.append(notes_to_track(notes, 480, channel, name))
    mid.save(str(path))


def pixels_of(image, colour, tolerance=0.03):
    return int(np.sum(np.all(np.abs(image[..., :3] - np.array(colour)) < tolerance, axis=-1)))


def test_each_track_is_drawn_in_its_colour_in_proportion_to_its_notes(tmp_path, capsys):
    from matplotlib.image import imread

    # velocity 127 draws a note opaque: its pixels are exactly the track's colour
    player = [Note(0, 48, 60, 127), Note(48, 48, 62, 127)]  # two bars of notes
    accepted = [Note(96, 48, 64, 127)]  # one bar
    harmony = [Note(96, 24, 48, 127), Note(96, 24, 52, 127)]  # two notes of half a bar
    path, png = tmp_path / "session.mid", tmp_path / "session.png"
    session_file(path, player, accepted, harmony)
    assert main(["show", str(path), "-o", str(png)]) == 0
    assert "player 2, accepted 1, harmony 2 notes" in capsys.readouterr().err
    image = imread(str(png))
    counts = {name: pixels_of(image, COLOURS[name]) for name in ("player", "accepted", "harmony")}
    assert all(c > 200 for c in counts.values()), counts
    # the legend's patches add a few pixels of each colour; the notes' areas are 2 : 1 : 1
    assert counts["player"] / counts["accepted"] == pytest.approx(2.0, rel=0.2), counts
    assert counts["harmony"] / counts["accepted"] == pytest.approx(1.0, rel=0.2), counts


def test_a_file_without_notes_is_one_line(tmp_path, capsys):
    path = tmp_path / "empty.mid"
    session_file(path, [], [], [])
    assert main(["show", str(path), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no notes to show" in err[0]
