"""The live audio of a session (assistant.audio.player), opened with no device: it plays,
reports, and closes with every sound stopped."""

import time

import mido

from assistant.audio.player import open_player


def test_a_player_without_a_device_plays_reports_and_closes_silent():
    said = []
    player = open_player("", "null", say=said.append)
    try:
        assert " on " in player.description
        player.monitor.post(mido.Message("note_on", note=60, velocity=90), 0, None)
        deadline = time.monotonic() + 10
        while player.monitor.played < 1 and time.monotonic() < deadline:  # the paced output's next block
            time.sleep(0.01)
        stats = player.stats()
        assert set(stats) == {"audio_blocks", "audio_played", "audio_late", "audio_render_max_us"}
    finally:
        player.close(ring_out_s=0.1)
    assert stats["audio_played"] >= 1
