"""Offline rendering: what sounds in the WAV is what the MIDI says, note by note."""

import mido
import numpy as np
import pytest

from assistant.audio.render import file_events, read_wav, render_events, write_wav
from assistant.audio.voices import BuiltinVoices, SoundFontVoices, open_voices
from assistant.cli import main
from assistant.midi.midifile import read_midi
from sounding_pitch import sounding_pitch

# a scale with a leap and a repeated note, 16th notes to half notes (seconds)
NOTES = [(0.0, 0.25, 60), (0.25, 0.125, 62), (0.375, 0.125, 64), (0.5, 0.5, 67), (1.0, 0.25, 72),
         (1.25, 0.25, 72), (1.5, 1.0, 55)]


def events(notes, channel=0):
    out = []
    for start, length, pitch in notes:
        out.append((start, mido.Message("note_on", channel=channel, note=pitch, velocity=90)))
        out.append((start + length, mido.Message("note_off", channel=channel, note=pitch)))
    return out


def pitches_heard(samples, rate, notes):
    """The pitch sounding inside each note (from 20 ms after its start to 10 ms before its end)."""
    return [sounding_pitch(samples[round((s + 0.02) * rate):round((s + d - 0.01) * rate)], rate) for s, d, _ in notes]


@pytest.mark.parametrize("voices", ["soundfont", "builtin"])
def test_each_note_sounds_its_pitch_from_its_frame(voices, request):
    v = SoundFontVoices(request.getfixturevalue("soundfont")) if voices == "soundfont" else BuiltinVoices()
    samples = render_events(events(NOTES), v)
    rate = v.rate
    assert pitches_heard(samples, rate, NOTES) == [p for _, _, p in NOTES]
    # silent before the first note, sounding right after it (to the frame: the first
    # message is played at frame 0.1 s * rate)
    shifted = render_events([(t + 0.1, m) for t, m in events(NOTES)], type(v)() if voices == "builtin" else
                            SoundFontVoices(request.getfixturevalue("soundfont")))
    onset = int(np.argmax(np.abs(shifted[:, 0]) > 1e-4))
    assert 0.1 * rate <= onset <= 0.1 * rate + 0.003 * rate
    # and the last note rings out, then fades (its release is rendered)
    assert len(samples) >= (2.5 + 1.0) * rate


def test_a_wav_file_keeps_the_samples(tmp_path):
    v = BuiltinVoices()
    samples = render_events(events(NOTES), v)
    write_wav(tmp_path / "x.wav", samples, v.rate)
    back, rate = read_wav(tmp_path / "x.wav")
    assert rate == v.rate and back.shape == samples.shape
    assert np.max(np.abs(back - samples)) < 2 / 32768 + 1e-6


def test_file_events_follow_the_files_tempo():
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=1_000_000),  # 60 BPM
                            mido.Message("note_on", note=60, velocity=80, time=480),
                            mido.Message("note_off", note=60, time=240)])
    mid.tracks.append(track)
    times = [round(t, 6) for t, _ in file_events(mid)]
    assert times == [1.0, 1.5]


def test_without_a_soundfont_the_builtin_voice_plays_after_one_line(monkeypatch):
    import assistant.audio.voices as voices_module

    monkeypatch.setattr(voices_module, "find_soundfont", lambda asked=None: None)
    said = []
    v = voices_module.open_voices(None, say=said.append)
    assert isinstance(v, BuiltinVoices)
    assert len(said) == 1 and "timgm6mb-soundfont" in said[0] and "--soundfont" in said[0]


def test_a_soundfont_asked_for_that_is_missing_names_the_file(tmp_path):
    from assistant.errors import UserError

    with pytest.raises(UserError, match="nope.sf2.*not found"):
        open_voices(str(tmp_path / "nope.sf2"))


def test_demo_wav_sounds_the_phrase_and_the_answer(tmp_path, soundfont):
    mid_path, wav_path = tmp_path / "demo.mid", tmp_path / "demo.wav"
    assert main(["demo", "--bpm", "160", "-o", str(mid_path), "--wav", str(wav_path),
                 "--soundfont", str(soundfont)]) == 0
    content = read_midi(mid_path)
    phrase, answer = content.tracks[-2].notes, content.tracks[-1].notes
    assert phrase and answer
    samples, rate = read_wav(wav_path)
    seconds_per_tick = 60.0 / 160 / 12  # the file's tempo, 12 ticks to a beat
    for notes in (phrase, answer):
        timed = [(n.onset * seconds_per_tick, n.duration * seconds_per_tick, n.pitch) for n in notes]
        # a note shorter than 60 ms leaves too little to hear a pitch in; the demo has none
        assert all(d >= 0.06 for _, d, _ in timed)
        assert pitches_heard(samples, rate, timed) == [n.pitch for n in notes]
