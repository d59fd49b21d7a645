"""The pitch that sounds in a stretch of audio: a test helper (numpy only).

Scores every MIDI pitch 24..108 by the harmonic product of the spectrum at its first
three partials (a pitch an octave below has no energy at its odd partials, one an
octave above misses the fundamental) and returns the best. Good for one voice at a
time, which is what the tests render.
"""

from __future__ import annotations

import numpy as np

PITCHES = np.arange(24, 109)


def sounding_pitch(samples: np.ndarray, rate: int) -> int | None:
    """The MIDI pitch sounding in ``samples`` (mono or (frames, 2)), None for silence."""
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    if mono.size < rate // 50 or float(np.sqrt(np.mean(mono ** 2))) < 1e-4:
        return None
    size = max(1 << 16, 1 << int(np.ceil(np.log2(mono.size))))
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(mono.size), n=size))
    bin_hz = rate / size
    freqs = 440.0 * 2.0 ** ((PITCHES - 69) / 12)

    def at(f):
        index = np.round(f / bin_hz).astype(int)
        # the strongest bin within a quarter tone: a window's peak is never exactly on a bin
        span = np.maximum(1, np.round(f * (2 ** (1 / 24) - 1) / bin_hz).astype(int))
        return np.array([spectrum[max(0, i - s):i + s + 1].max() if i < spectrum.size else 0.0
                         for i, s in zip(index, span)])

    score = np.log(at(freqs) + 1e-9) + np.log(at(2 * freqs) + 1e-9) + np.log(at(3 * freqs) + 1e-9)
    return int(PITCHES[int(np.argmax(score))])
