"""The live audio of a session: voices, the monitor and its output, opened and closed as one.

Main thread: :func:`open_player` at start-up (before the MIDI ports, so that a
missing PortAudio or audio device ends the start with one line and exit code 2),
:meth:`AudioPlayer.close` at shut-down (after the engine has sent its last note-offs).
"""

from __future__ import annotations

import logging
import time

from .monitor import AudioMonitor, open_output
from .voices import open_voices

log = logging.getLogger(__name__)


class AudioPlayer:
    def __init__(self, monitor: AudioMonitor, output):
        self.monitor = monitor
        self.output = output

    @property
    def description(self) -> str:
        return f"{self.monitor.voices.description} on {self.output.description}"

    def stats(self) -> dict:
        m = self.monitor
        return {"audio_blocks": m.blocks, "audio_played": m.played, "audio_late": m.late,
                "audio_render_max_us": m.render_ns_max // 1000}

    def close(self, ring_out_s: float = 0.3) -> None:
        """Let the last note-offs ring out briefly, then stop every sound and the output."""
        time.sleep(ring_out_s)
        self.monitor.silence()
        time.sleep(0.02)
        self.output.close()


def open_player(soundfont: str = "", device: str = "", *, say=None) -> AudioPlayer:
    """Voices (a SoundFont found or given, else the built-in voice), a monitor and its
    started output on ``device`` ("" default, "null" none). Raises UserError for a
    missing PortAudio, audio device or SoundFont file."""
    say = say or (lambda text: log.warning("%s", text))
    voices = open_voices(soundfont or None, say=say)
    monitor = AudioMonitor(voices)
    return AudioPlayer(monitor, open_output(monitor, device))
