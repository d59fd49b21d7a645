"""``--audio``: the real engine's output heard through the monitor, and the one line
(exit code 2) for a machine without PortAudio or without an audio device."""

import importlib.abc
import sys
import time

import numpy as np
import pytest

from assistant.app.config import load_config
from assistant.app.runner import build_engine
from assistant.audio.monitor import AudioMonitor, PacedOutput
from assistant.audio.player import AudioPlayer
from assistant.audio.voices import BuiltinVoices
from assistant.cli import main
from assistant.commands.demo import PHRASE, play_phrase, received_notes
from assistant.midi.fakeports import fake_ports
from assistant.midi.ports import PortNames
from sounding_pitch import sounding_pitch

BPM = 150


def test_what_the_engine_sends_and_what_the_player_plays_is_heard_in_time(tmp_path):
    config = load_config(None, {"clock.source": "internal", "clock.bpm": BPM, "suggest.mode": "call",
                                "suggest.bars": 1, "suggest.answer_on": "bar", "suggest.phrase_end_beats": 1.0,
                                "session.folder": str(tmp_path), "audio.play_input": True})
    monitor = AudioMonitor(BuiltinVoices())
    output = PacedOutput(monitor, keep=True).start()
    player = AudioPlayer(monitor, output)
    ports = fake_ports(PortNames())
    engine = build_engine(config, ports, seed=3, audio=player)
    clock = engine.clock
    engine.start()
    try:
        first_bar = int(clock.tick_at(time.perf_counter_ns())) // 48 * 48 + 48
        play_phrase(engine, ports, clock, PHRASE, first_bar)
        answer_end = ((first_bar + PHRASE[-1].end) // 48 + 3) * 48
        time.sleep(max(0.0, (clock.ns_at(answer_end) - time.perf_counter_ns()) / 1e9) + 0.3)
    finally:
        engine.stop()
        player.close(ring_out_s=0.1)
    answer = received_notes(ports.output.sent, clock, config.suggest.channel - 1)
    assert answer
    samples, rate = output.samples(), monitor.rate

    delay_s = monitor.delay_ns / 1e9  # what is sent now is heard that much later

    def heard(notes, shift=0):
        got = []
        for n in notes:
            start = (clock.ns_at(n.onset + shift) - output.started_ns) / 1e9 + delay_s
            end = (clock.ns_at(n.end + shift) - output.started_ns) / 1e9 + delay_s
            got.append(sounding_pitch(samples[round((start + 0.02) * rate):round((end - 0.01) * rate)], rate))
        return got

    assert heard(PHRASE, first_bar) == [n.pitch for n in PHRASE]  # the player, through play_input
    assert heard(answer) == [n.pitch for n in answer]  # the answer, on its times
    # the answer's first note sounds from the frame its message went out, delay_s later
    # (up to one switch of the GIL between the port's stamp and the monitor's post)
    sent_ns = next(ns for msg, ns in ports.output.sent if msg.type == "note_on" and msg.velocity > 0
                   and msg.channel == config.suggest.channel - 1)
    expected = (sent_ns - output.started_ns) / 1e9 + delay_s
    from_frame = round((expected - 0.05) * rate)
    loud = np.flatnonzero(np.abs(samples[from_frame:, 0]) > 1e-3)
    onset = (from_frame + loud[0]) / rate
    assert -1 / rate <= onset - expected <= 0.006, (onset - expected) * 1e3
    assert monitor.late == 0, monitor.late


class _NoPortAudio(importlib.abc.MetaPathFinder):
    """``import sounddevice`` fails as it does where the PortAudio library is missing."""

    def find_spec(self, name, path=None, target=None):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return None


def test_without_portaudio_audio_is_one_line_and_exit_code_2(monkeypatch, capsys, tmp_path):
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoPortAudio()] + sys.meta_path)
    assert main(["demo", "--audio", "-o", str(tmp_path / "d.mid")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "PortAudio library is missing" in err[0] and "libportaudio2" in err[0], err
    assert not (tmp_path / "d.mid").exists()


def test_without_an_audio_device_audio_is_one_line_and_exit_code_2(monkeypatch, capsys, tmp_path):
    sd = pytest.importorskip("sounddevice")

    def no_device(*args, **kwargs):
        raise sd.PortAudioError("Error querying device -1")

    monkeypatch.setattr(sd, "query_devices", no_device)
    assert main(["demo", "--audio", "-o", str(tmp_path / "d.mid")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no audio output device" in err[0] and "--audio-device" in err[0], err
