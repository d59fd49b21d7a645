"""``midi-assistant continue`` on real MIDI files written by the test, and on bad input."""

import mido
import pytest

from assistant.cli import main
from assistant.midi.midifile import read_midi

MELODY = [60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72]


def write_song(path, file_type=1, drums_first=False, tpb=480, with_melody=True):
    """A real MIDI file: conductor (120 BPM, 3/4), optional drum track, melody track with a chord."""
    mid = mido.MidiFile(type=file_type, ticks_per_beat=tpb)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0),
                                mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0)])
    drums = mido.MidiTrack()
    for i in range(8):
        drums.append(mido.Message("note_on", channel=9, note=36, velocity=100, time=0 if i == 0 else tpb // 2))
        drums.append(mido.Message("note_off", channel=9, note=36, velocity=0, time=tpb // 2))
    melody = mido.MidiTrack([mido.MetaMessage("track_name", name="lead", time=0)])
    if with_melody:
        for i, p in enumerate(MELODY):
            melody.append(mido.Message("note_on", channel=2, note=p, velocity=90, time=0))
            if i == 0:  # a chord under the first note: the melody takes the highest note
                melody.append(mido.Message("note_on", channel=2, note=48, velocity=70, time=0))
            melody.append(mido.Message("note_on", channel=2, note=p, velocity=0, time=tpb // 2))  # vel-0 off
            if i == 0:
                melody.append(mido.Message("note_off", channel=2, note=48, velocity=0, time=0))
    if file_type == 0:
        merged = mido.merge_tracks([conductor, melody])
        mid.tracks.append(merged)
    else:
        mid.tracks.extend([conductor, drums, melody] if drums_first else [conductor, melody, drums])
    mid.save(str(path))
    return path


def test_read_midi_pairs_notes_and_keeps_meter(tmp_path):
    content = read_midi(write_song(tmp_path / "a.mid"))
    lead = content.tracks[1]
    assert lead.name == "lead" and lead.channels == {2}
    assert [(n.onset, n.duration, n.pitch) for n in lead.notes[:3]] == [(0, 6, 48), (0, 6, 60), (6, 6, 62)]
    assert (content.meters[0].numerator, content.meters[0].denominator) == (3, 4)
    assert content.tempo == 500000
    assert content.tracks[2].drum_only


@pytest.mark.parametrize("file_type,drums_first", [(1, False), (1, True), (0, False)])
def test_continue_writes_input_and_variations(tmp_path, tiny_model_path, file_type, drums_first, capsys):
    src = write_song(tmp_path / "in.mid", file_type=file_type, drums_first=drums_first)
    out = tmp_path / "out.mid"
    code = main(["continue", str(src), "-o", str(out), "--bars", "2", "--variations", "3", "--seed", "5",
                 "--model", str(tiny_model_path)])
    assert code == 0
    result = mido.MidiFile(str(out))
    n_in = len(mido.MidiFile(str(src)).tracks)
    assert len(result.tracks) == n_in + 3
    assert result.ticks_per_beat == 480
    metas = [m for t in result.tracks for m in t if m.type in ("set_tempo", "time_signature")]
    assert any(m.type == "time_signature" and m.numerator == 3 for m in metas)
    content = read_midi(out)
    melody_end = 12 * 6  # 12 eighth notes
    for track in content.tracks[n_in:]:
        assert track.notes, "each variation has notes"
        assert track.channels == {2}
        assert track.notes[0].onset >= melody_end
        assert all(n.velocity == 90 for n in track.notes)  # taken from the player
        # every note-on has its note-off: durations are positive and the raw track is balanced
    for raw in result.tracks[n_in:]:
        ons = sum(1 for m in raw if m.type == "note_on" and m.velocity > 0)
        offs = sum(1 for m in raw if m.type == "note_off" or (m.type == "note_on" and m.velocity == 0))
        assert ons == offs
    # reproducible with the same seed
    out2 = tmp_path / "out2.mid"
    main(["continue", str(src), "-o", str(out2), "--bars", "2", "--variations", "3", "--seed", "5",
          "--model", str(tiny_model_path)])
    assert [t.notes for t in read_midi(out2).tracks] == [t.notes for t in content.tracks]


def bad(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1, err
    return err[0]


def test_bad_inputs_are_one_line_and_exit_2(tmp_path, tiny_model_path, capsys):
    model = ["--model", str(tiny_model_path)]
    out = str(tmp_path / "o.mid")
    text = tmp_path / "notes.txt"
    text.write_text("this is not a MIDI file\n")
    assert "not a readable MIDI file" in bad(capsys, ["continue", str(text), "-o", out, *model])
    assert "does not exist" in bad(capsys, ["continue", str(tmp_path / "missing.mid"), "-o", out, *model])
    assert "is a folder" in bad(capsys, ["continue", str(tmp_path), "-o", out, *model])
    empty = write_song(tmp_path / "empty.mid", with_melody=False)
    empty_mid = mido.MidiFile(str(empty))
    empty_mid.tracks = [t for t in empty_mid.tracks if not any(m.type == "note_on" and m.channel == 9 for m in t)]
    empty_mid.save(str(empty))
    assert "has no notes" in bad(capsys, ["continue", str(empty), "-o", out, *model])
    drums = write_song(tmp_path / "drums.mid", with_melody=False)
    assert "only drum notes" in bad(capsys, ["continue", str(drums), "-o", out, *model])
    song = write_song(tmp_path / "song.mid")
    assert "only drum notes" in bad(capsys, ["continue", str(song), "-o", out, "--track", "2", *model])
    assert "does not exist" in bad(capsys, ["continue", str(song), "-o", out, "--track", "9", *model])
    assert "folder" in bad(capsys, ["continue", str(song), "-o", str(tmp_path / "no" / "o.mid"), *model])
    assert "--bars" in bad(capsys, ["continue", str(song), "-o", out, "--bars", "0", *model])
    assert "is missing" in bad(capsys, ["continue", str(song), "-o", out, "--model", str(tmp_path / "x.onnx")])


def test_continue_with_chords_harmonises_each_variation_on_its_own_track(tmp_path, tiny_model_path, capsys):
    src = write_song(tmp_path / "in.mid")
    out = tmp_path / "out.mid"
    code = main(["continue", str(src), "-o", str(out), "--bars", "2", "--variations", "2", "--seed", "5",
                 "--model", str(tiny_model_path), "--chords", "--pattern", "beat"])
    assert code == 0
    content = read_midi(out)
    n_in = len(mido.MidiFile(str(src)).tracks)
    assert [t.name for t in content.tracks[n_in:]] == ["variation 1", "variation 2", "chords 1", "chords 2"]
    for chords, variation in zip(content.tracks[n_in + 2:], content.tracks[n_in:n_in + 2]):
        assert chords.channels == {3}
        end = max(n.end for n in variation.notes)
        onsets = sorted({n.onset for n in chords.notes})
        assert onsets and all(t % 12 == 0 for t in onsets) and onsets[-1] < end  # on the 3/4 beats
        by_onset = {}
        for n in chords.notes:
            by_onset.setdefault(n.onset, set()).add(n.pitch % 12)
        assert all(len(pcs) >= 3 for pcs in by_onset.values())
    assert "chords 1:" in capsys.readouterr().err
