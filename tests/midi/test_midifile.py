"""MIDI files (assistant.midi.midifile): notes read back as written, the track a melody is
taken from, and one clear line for a file that cannot be used."""

import mido
import pytest

from assistant.errors import UserError
from assistant.midi.midifile import DRUM_CHANNEL, choose_track, conductor_track, notes_to_track, read_midi
from assistant.music import TICKS_PER_QUARTER, Meter, Note

Q = TICKS_PER_QUARTER


def _write(path, tracks, tpb=480):
    midi = mido.MidiFile(type=1, ticks_per_beat=tpb)
    midi.tracks.extend(tracks)
    midi.save(str(path))
    return path


def test_notes_tempo_and_meters_read_back_as_written_at_another_resolution(tmp_path):
    melody = [Note(0, Q, 60, 90), Note(Q, Q // 2, 62, 70), Note(Q, 2 * Q, 67, 80), Note(3 * Q, Q, 60, 100)]
    meters = [Meter(0, 3, 4), Meter(6 * Q, 4, 4)]
    path = _write(tmp_path / "a.mid", [conductor_track(400_000, meters, 960), notes_to_track(melody, 960, 2, "lead")],
                  tpb=960)
    content = read_midi(path)
    assert content.tempo == 400_000 and content.meters == meters
    track = content.tracks[1]
    assert track.name == "lead" and track.channels == {2} and track.notes == melody


def test_a_note_left_on_ends_with_its_track_and_a_repeated_note_pairs_in_order(tmp_path):
    track = mido.MidiTrack([mido.Message("note_on", note=60, velocity=90, time=0),
                            mido.Message("note_on", note=60, velocity=80, time=480),
                            mido.Message("note_off", note=60, time=480),
                            mido.Message("note_on", note=64, velocity=70, time=0),
                            mido.MetaMessage("end_of_track", time=960)])
    notes = read_midi(_write(tmp_path / "b.mid", [track])).tracks[0].notes
    assert notes == [Note(0, 2 * Q, 60, 90), Note(Q, 3 * Q, 60, 80), Note(2 * Q, 2 * Q, 64, 70)]
    assert read_midi(tmp_path / "b.mid").meters == [Meter(0)]


def test_the_melody_is_the_first_track_with_notes_that_is_not_drums(tmp_path):
    drums = notes_to_track([Note(0, Q, 36, 100)], 480, DRUM_CHANNEL, "drums")
    lead = notes_to_track([Note(0, Q, 72, 90)], 480, 0, "lead")
    content = read_midi(_write(tmp_path / "c.mid", [mido.MidiTrack(), drums, lead]))
    assert choose_track(content, None).name == "lead"
    assert choose_track(content, 2).name == "lead"
    for index, says in ((1, "only drum notes"), (0, "has no notes"), (7, "--track 7 does not exist")):
        with pytest.raises(UserError, match=says):
            choose_track(content, index)
    only_drums = read_midi(_write(tmp_path / "d.mid", [drums]))
    with pytest.raises(UserError, match="only drum notes"):
        choose_track(only_drums, None)


@pytest.mark.parametrize("make, says", [(lambda p: None, "does not exist"), (lambda p: p.mkdir(), "is a folder"),
                                        (lambda p: p.write_bytes(b"MThd junk"), "is not a readable MIDI file")])
def test_a_file_that_cannot_be_read_is_one_line_naming_it(tmp_path, make, says):
    path = tmp_path / "x.mid"
    make(path)
    with pytest.raises(UserError, match=says) as err:
        read_midi(path)
    assert "\n" not in str(err.value)
