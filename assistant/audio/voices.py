"""Voices: MIDI messages in, stereo float32 samples out.

:class:`SoundFontVoices` plays a General MIDI SoundFont with tinysoundfont (it renders
in C: a 256-frame block of eight voices takes about 10 us). :class:`BuiltinVoices`
is a small additive piano-like voice in numpy for a machine without a SoundFont or
without the ``audio`` extra: enough to hear and check pitches, not to enjoy.

Threading: a voices object is used by one thread at a time. The live monitor calls
``handle`` and ``render`` from the audio callback only; offline rendering from the
caller's thread. Neither blocks.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import mido
import numpy as np

from .soundfont import WHERE_TO_GET_ONE, find_soundfont

log = logging.getLogger(__name__)

DRUM_CHANNEL = 9  # General MIDI channel 10
AUDIO_EXTRA_HINT = "pip install 'midi-assistant[audio]' (on Linux it builds against portaudio19-dev)"


class SoundFontVoices:
    """General MIDI through tinysoundfont: every channel starts on program 0 (piano),
    channel 10 on the drum kit; program changes, controllers and pitch bend apply."""

    def __init__(self, soundfont: Path, rate: int = 48000, gain_db: float = -6.0):
        import tinysoundfont

        self.rate = rate
        self.description = f"SoundFont {soundfont}"
        self._synth = tinysoundfont.Synth(gain=gain_db, samplerate=rate)
        try:
            sfid = self._synth.sfload(str(soundfont))
        except Exception as exc:  # tinysoundfont raises its own exception type for a bad file
            from ..errors import UserError
            raise UserError(f"SoundFont {str(soundfont)!r} cannot be read ({exc}): give a General MIDI .sf2 file "
                            "with --soundfont FILE or audio.soundfont") from exc
        for channel in range(16):
            drums = channel == DRUM_CHANNEL
            try:
                self._synth.program_select(channel, sfid, 128 if drums else 0, 0, is_drums=drums)
            except RuntimeError:  # a SoundFont without a drum kit: that channel stays on piano
                self._synth.program_select(channel, sfid, 0, 0)

    def handle(self, msg: mido.Message) -> None:
        synth = self._synth
        kind = msg.type
        if kind == "note_on" and msg.velocity > 0:
            synth.noteon(msg.channel, msg.note, msg.velocity)
        elif kind in ("note_on", "note_off"):
            synth.noteoff(msg.channel, msg.note)
        elif kind == "control_change":
            if msg.control == 120:
                synth.sounds_off(msg.channel)
            elif msg.control == 123:
                synth.notes_off(msg.channel)
            else:
                synth.control_change(msg.channel, msg.control, msg.value)
        elif kind == "program_change":
            try:
                synth.program_change(msg.channel, msg.program, is_drums=msg.channel == DRUM_CHANNEL)
            except RuntimeError:
                log.info("audio: the SoundFont has no program %d; channel %d keeps its sound",
                         msg.program + 1, msg.channel + 1)
        elif kind == "pitchwheel":
            synth.pitchbend(msg.channel, msg.pitch + 8192)

    def all_off(self) -> None:
        self._synth.sounds_off()

    def render(self, frames: int) -> np.ndarray:
        """The next ``frames`` frames as a (frames, 2) float32 array."""
        return np.frombuffer(self._synth.generate(frames), dtype=np.float32).reshape(frames, 2)


class _Voice:
    __slots__ = ("freq", "amp", "phase", "age", "released")

    def __init__(self, freq: float, amp: float):
        self.freq, self.amp, self.phase, self.age, self.released = freq, amp, 0.0, 0, None


class BuiltinVoices:
    """A plucked, piano-like additive voice (three partials, decaying), drums silent."""

    PARTIALS = ((1, 1.0), (2, 0.4), (3, 0.15))
    ATTACK_S, DECAY_S, RELEASE_S = 0.004, 1.2, 0.08
    MAX_VOICES = 48

    def __init__(self, rate: int = 48000, gain: float = 0.15):
        self.rate = rate
        self.gain = gain
        self.description = "the built-in voice (no SoundFont)"
        self._voices: dict[tuple[int, int], _Voice] = {}
        self._fading: list[_Voice] = []

    def handle(self, msg: mido.Message) -> None:
        kind = msg.type
        if kind == "note_on" and msg.velocity > 0 and msg.channel != DRUM_CHANNEL:
            old = self._voices.pop((msg.channel, msg.note), None)
            if old is not None:
                self._release(old)
            if len(self._voices) + len(self._fading) >= self.MAX_VOICES:
                return
            freq = 440.0 * 2.0 ** ((msg.note - 69) / 12)
            self._voices[(msg.channel, msg.note)] = _Voice(freq, (msg.velocity / 127) ** 1.5)
        elif kind in ("note_on", "note_off"):
            voice = self._voices.pop((msg.channel, msg.note), None)
            if voice is not None:
                self._release(voice)
        elif kind == "control_change" and msg.control in (120, 123):
            for key in [k for k in self._voices if k[0] == msg.channel]:
                self._release(self._voices.pop(key))

    def _release(self, voice: _Voice) -> None:
        voice.released = voice.age
        self._fading.append(voice)

    def all_off(self) -> None:
        self._voices.clear()
        self._fading.clear()

    def render(self, frames: int) -> np.ndarray:
        out = np.zeros(frames, dtype=np.float64)
        n = np.arange(frames, dtype=np.float64)
        rate = self.rate
        alive = []
        for voice in list(self._voices.values()) + self._fading:
            t = (voice.age + n) / rate
            env = np.minimum(t / self.ATTACK_S, 1.0) * np.exp(-t / self.DECAY_S)
            if voice.released is not None:
                env *= np.exp(-np.maximum(t - voice.released / rate, 0.0) / self.RELEASE_S * 5)
            step = 2 * math.pi * voice.freq / rate
            phases = voice.phase + step * n
            wave = sum(weight * np.sin(k * phases) for k, weight in self.PARTIALS if k * voice.freq < rate / 2)
            out += voice.amp * env * wave
            voice.phase = (voice.phase + step * frames) % (2 * math.pi)
            voice.age += frames
            if voice.released is None or (voice.age - voice.released) < rate * self.RELEASE_S:
                alive.append(voice)
        self._fading = [v for v in self._fading if v in alive]
        mono = (out * self.gain).astype(np.float32)
        return np.repeat(mono[:, None], 2, axis=1)


def open_voices(soundfont: str | None = None, rate: int = 48000, *, say=print):
    """The best voices this machine has: the SoundFont asked for or found, through
    tinysoundfont; else the built-in voice, after one line (``say``) naming the fix."""
    path = find_soundfont(soundfont)  # UserError for a named file that is missing
    if path is None:
        say(f"audio: no SoundFont found, playing the built-in voice: {WHERE_TO_GET_ONE}")
        return BuiltinVoices(rate)
    try:
        import tinysoundfont  # noqa: F401
    except ImportError:
        say(f"audio: tinysoundfont is not installed, playing the built-in voice instead of {path}: "
            f"{AUDIO_EXTRA_HINT}")
        return BuiltinVoices(rate)
    return SoundFontVoices(path, rate)
