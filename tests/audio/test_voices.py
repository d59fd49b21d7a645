"""The voices (assistant.audio.voices): each plays the note's pitch, stops on its note-off
and All Notes Off, leaves drums silent, and the best one this machine has is chosen."""

import mido
import numpy as np
import pytest

from assistant.audio import soundfont, voices
from assistant.audio.voices import BuiltinVoices, SoundFontVoices, open_voices

from sounding_pitch import sounding_pitch

RATE = 48000


def _on(pitch, channel=0):
    return mido.Message("note_on", note=pitch, velocity=100, channel=channel)


def _rms(block):
    return float(np.sqrt(np.mean(block ** 2)))


@pytest.mark.parametrize("kind", ["builtin", "soundfont"])
def test_a_voice_sounds_its_pitch_and_falls_silent_after_its_note_off(kind):
    if kind == "soundfont":
        found = soundfont.find_soundfont()
        assert found is not None, "no system SoundFont: the README's test command installs timgm6mb-soundfont"
        v = SoundFontVoices(found, RATE)
    else:
        v = BuiltinVoices(RATE)
    v.handle(_on(69))
    block = v.render(RATE // 2)
    assert block.shape == (RATE // 2, 2) and block.dtype == np.float32
    assert sounding_pitch(block, RATE) == 69
    v.handle(mido.Message("note_off", note=69))
    v.render(RATE)  # the release rings out
    assert _rms(v.render(RATE // 10)) < 1e-4


def test_the_builtin_voice_leaves_drums_silent_and_all_notes_off_stops_a_channel():
    v = BuiltinVoices(RATE)
    v.handle(_on(38, channel=9))
    assert _rms(v.render(4800)) == 0.0
    v.handle(_on(60, channel=1))
    v.handle(_on(64, channel=2))
    v.handle(mido.Message("control_change", channel=1, control=123, value=0))
    v.render(RATE)
    assert sounding_pitch(v.render(RATE // 2), RATE) == 64  # channel 2 plays on


def test_without_a_soundfont_the_builtin_voice_plays_after_one_line_naming_the_fix(monkeypatch):
    said = []
    monkeypatch.setattr(voices, "find_soundfont", lambda asked: None)
    assert isinstance(open_voices(None, say=said.append), BuiltinVoices)
    assert len(said) == 1 and "timgm6mb-soundfont" in said[0]
