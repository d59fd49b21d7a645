"""End to end through a real JACK server: the real ``midi-assistant run`` process, a peer
client playing the DAW's part (MIDI clock at 120 BPM, Start, a phrase from a real MIDI
file), and checks on what comes back, when, and that nothing is left hanging."""

import os
import signal
import time

import mido
import pytest

from assistant.bench_e2e import MS, Rig, hanging_notes, note_ons, timing_errors_ms
from assistant.midifile import read_midi
from assistant.model import DEFAULT_MELODY_MODEL

pytestmark = [pytest.mark.jack, pytest.mark.slow]
pytest.importorskip("rtmidi")


def phrase_from_midi_file(tmp_path):
    """Write a real MIDI file (two bars of 4/4, a quarter-note pickup into bar 2) and read its melody back."""
    mid = mido.MidiFile(type=1, ticks_per_beat=96)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000),
                            mido.MetaMessage("time_signature", numerator=4, denominator=4)])
    for pitch, beats in [(67, 1), (69, 1), (71, 1), (72, 1), (74, 2), (72, 1), (71, 1)]:
        track.append(mido.Message("note_on", note=pitch, velocity=96, time=0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=96 * beats))
    mid.tracks.append(track)
    path = tmp_path / "phrase.mid"
    mid.save(str(path))
    notes = read_midi(path).tracks[0].notes
    assert len(notes) == 7 and notes[-1].end == 96  # two bars of 4/4 in ticks
    return notes


@pytest.fixture
def model_path():
    if not DEFAULT_MELODY_MODEL.exists():
        pytest.fail(f"{DEFAULT_MELODY_MODEL} is missing: the e2e tests run the shipped model")
    return None  # the default: the shipped, checksummed model


def tolerance_ms(jack_server):
    return jack_server.period_ns / MS + 1.0  # one period plus 1 ms


def test_answer_on_the_bar_accept_to_accepted_port_and_capture_file(jack_server, tmp_path, model_path):
    phrase = phrase_from_midi_file(tmp_path)
    rig = Rig(jack_server.name, model=model_path, workdir=tmp_path)
    try:
        rig.start_clock(beats=32)
        rig.play(phrase, at_tick=48)  # bar 2; ends at tick 144; 1 beat of silence ends it at 156
        rig.wait_until_tick(192 + 8)  # the answer starts on the next bar line: 192
        rig.send_at_tick(204, [0xB0, 20, 127])  # CC 20 = accept, while the answer plays
        rig.wait_until_tick(288 + 60)  # accepted material plays from the next bar: 240
        log = rig.peer.collect()
    finally:
        code = rig.close()
    assert code == 0, rig.assistant.log_text()[-2000:]
    answer = note_ons(log, "out")
    assert answer, "no answer arrived: " + rig.assistant.log_text()[-2000:]
    first_tick = round(rig.tick_of(answer[0][2]))
    assert first_tick == 192
    errors = timing_errors_ms(rig, answer)
    assert max(abs(e) for e in errors) <= tolerance_ms(jack_server), errors
    accepted = note_ons(log, "accepted")
    assert accepted, "accept did not play on the accepted port"
    assert round(rig.tick_of(accepted[0][2])) == 240
    assert max(abs(e) for e in timing_errors_ms(rig, accepted)) <= tolerance_ms(jack_server)
    assert hanging_notes(log) == {}
    # the capture file holds the accepted notes, at the ticks they were played
    files = list(rig.assistant.session_dir.glob("*.mid"))
    assert len(files) == 1
    mid = mido.MidiFile(str(files[0]))
    acc_track = next(t for t in mid.tracks if any(getattr(m, "name", "") == "accepted" for m in t))
    now, onsets = 0, []
    for msg in acc_track:
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            onsets.append((round(now * 12 / mid.ticks_per_beat), msg.note))
    heard = [(round(rig.tick_of(ns)), m.note) for _, m, ns in accepted]
    assert onsets[:len(heard)] == heard


def test_stop_silences_output(jack_server, tmp_path, model_path):
    rig = Rig(jack_server.name, model=model_path, workdir=tmp_path, settings={"suggest.bars": 2})
    try:
        rig.start_clock(beats=20)
        rig.play(phrase_from_midi_file(tmp_path), at_tick=48)
        rig.wait_until_tick(192 + 6)  # the answer has started
        stop_at = rig.time_of(198)
        rig.peer.sender.cancel_after(stop_at)
        rig.peer.sender.add([(stop_at, [0xFC])])
        time.sleep(0.6)
        log = rig.peer.collect()
    finally:
        code = rig.close()
    assert code == 0
    assert note_ons(log, "out"), "the answer never started"
    late = [(m, ns) for lab, m, ns in log if m.type == "note_on" and m.velocity > 0 and ns > stop_at + 5 * MS]
    assert late == [], "notes were played after Stop"
    before_close = [(lab, m, ns) for lab, m, ns in log if ns <= stop_at + 100 * MS]
    assert hanging_notes(before_close) == {}, "Stop left notes sounding"


def test_sigterm_leaves_no_note_hanging(jack_server, tmp_path, model_path):
    rig = Rig(jack_server.name, model=model_path, workdir=tmp_path, settings={"suggest.bars": 4})
    try:
        rig.start_clock(beats=40)
        rig.play(phrase_from_midi_file(tmp_path), at_tick=48)
        rig.wait_until_tick(192 + 20)
        log = rig.peer.collect()
        assert note_ons(log, "out"), "the answer never started"
    finally:
        code = rig.close(signal.SIGTERM)
    assert code == 0, rig.assistant.log_text()[-2000:]
    assert hanging_notes(rig.peer.log) == {}
    stats = rig.assistant.stats()
    assert stats["suggestions"] >= 1 and os.path.exists(rig.assistant.stats_path)
