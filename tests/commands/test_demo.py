"""``midi-assistant demo``: the real engine, threads and all, on in-process ports."""

import mido

from assistant.cli import main
from assistant.midi.midifile import read_midi


def test_demo_answers_and_plays_chords_on_the_beat(tmp_path, capsys):
    out = tmp_path / "demo.mid"
    assert main(["demo", "--harmony", "--bpm", "240", "-o", str(out)]) == 0
    printed = capsys.readouterr()
    assert "chords (bar:beat):" in printed.out and "none" not in printed.out.split("chords (bar:beat):")[1]
    mid = mido.MidiFile(str(out))
    names = [t.name for t in mid.tracks]
    assert names[-3:] == ["phrase", "answer", "chords"]
    content = read_midi(out)
    answer, chords = content.tracks[-2], content.tracks[-1]
    assert answer.notes and chords.notes and chords.channels == {1}
    assert all(n.onset % 12 == 0 for n in chords.notes)  # struck on beats (pattern bar: downbeats)
    for raw in mid.tracks[-2:]:
        ons = sum(1 for m in raw if m.type == "note_on" and m.velocity > 0)
        offs = sum(1 for m in raw if m.type == "note_off" or (m.type == "note_on" and m.velocity == 0))
        assert ons == offs
