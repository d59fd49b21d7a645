"""Offline rendering: timed MIDI messages (or a MIDI file) to samples and to a WAV file.

Caller's thread; renders as fast as the voices can (a minute of piano in well under a
second with a SoundFont).
"""

from __future__ import annotations

import os
import wave
from typing import Iterable

import mido
import numpy as np

TAIL_S = 1.5  # rendered after the last message, so the last notes ring out


def file_events(mid: mido.MidiFile) -> list[tuple[float, mido.Message]]:
    """``(seconds, message)`` of every channel message of ``mid``, in playing order
    (tempo changes applied, as mido plays a file)."""
    events, at = [], 0.0
    for msg in mid:
        at += msg.time
        if not msg.is_meta and msg.type != "sysex":
            events.append((at, msg))
    return events


def render_events(events: Iterable[tuple[float, mido.Message]], voices, tail_s: float = TAIL_S) -> np.ndarray:
    """A (frames, 2) float32 array: ``events`` (seconds from 0, any order) played by
    ``voices``, each at its own frame, then ``tail_s`` of ring-out."""
    ordered = sorted(events, key=lambda e: e[0])
    rate = voices.rate
    blocks, done = [], 0
    for at, msg in ordered:
        frame = max(0, round(at * rate))
        if frame > done:
            blocks.append(voices.render(frame - done).copy())
            done = frame
        voices.handle(msg)
    blocks.append(voices.render(round(tail_s * rate)).copy())
    return np.concatenate(blocks) if blocks else np.zeros((0, 2), np.float32)


def write_wav(path: str | os.PathLike, samples: np.ndarray, rate: int) -> None:
    """16-bit stereo PCM; a mix that would clip is scaled down to fit."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    scale = 32767 * (0.99 / peak if peak > 0.99 else 1.0)
    pcm = np.clip(np.round(samples * scale), -32768, 32767).astype("<i2")
    with wave.open(os.fspath(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """A 16-bit PCM WAV as (frames, channels) float32 in -1..1, and its rate."""
    with wave.open(os.fspath(path), "rb") as src:
        if src.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM is read, not {8 * src.getsampwidth()}-bit")
        data = np.frombuffer(src.readframes(src.getnframes()), dtype="<i2")
        return (data.reshape(-1, src.getnchannels()) / 32768.0).astype(np.float32), src.getframerate()


def render_file_to_wav(mid: mido.MidiFile, path: str | os.PathLike, voices) -> float:
    """Render ``mid`` with ``voices`` to the WAV file ``path``; returns its length in seconds."""
    samples = render_events(file_events(mid), voices)
    write_wav(path, samples, voices.rate)
    return len(samples) / voices.rate


def render_wav(mid: mido.MidiFile, path: str | os.PathLike, soundfont: str | None = None, *, say=print) -> str:
    """Render ``mid`` to the WAV file ``path`` with the best voices found (see
    :func:`assistant.audio.voices.open_voices`); returns a line saying what was written."""
    from ..errors import UserError
    from .voices import open_voices

    voices = open_voices(soundfont, say=say)
    try:
        seconds = render_file_to_wav(mid, path, voices)
    except OSError as err:
        raise UserError(f"cannot write {path} ({err.strerror or err}); choose a writable path") from None
    return f"wrote {path} ({seconds:.1f} s, {voices.description})"
