"""Ports without a MIDI system: fakes, name resolution, clear errors, the CLI."""

import queue

import mido
import pytest

from assistant.midi import backends, ports
from assistant.cli import main
from assistant.errors import UserError
from assistant.midi.fakeports import FakeInput, fake_pair, fake_ports
from assistant.midi.wire import WireDecoder
from assistant.midi.backends import resolve_port
from assistant.midi.ports import PortNames
from assistant.midi.rtmidi_input import ArrivalStamps, _stamper, poll_interval


def test_stamper_only_stamps_and_enqueues():
    inbox = queue.SimpleQueue()
    decoder = WireDecoder("test in")
    cb = _stamper(inbox, decoder)
    cb(([0x90, 60, 64], 0.0), None)
    cb(([0xF4], 0.0), None)  # undefined status byte: dropped, no exception
    cb(([0xE0, 0x10], 0.0), None)  # a truncated pitch bend (mido raised IndexError on it)
    cb(None, None)  # not even an event: junk, no exception
    got, ns = inbox.get_nowait()
    assert got == mido.Message("note_on", note=60, velocity=64) and isinstance(ns, int) and ns > 0
    assert inbox.empty()
    assert decoder.counters() == {"messages_in": 1, "junk_dropped": 3}


def test_arrival_stamps_from_deltas():
    s = ArrivalStamps(window_ns=10_000_000)
    # true arrivals 1000, 1300, 2000 us; polls read them late by 400, 50 and 700 us
    assert s.stamp_batch([0.0, 0.0003], poll_ns=1_700_000) == [1_400_000, 1_700_000]
    assert s.stamp_batch([0.0007], poll_ns=2_050_000) == [1_350_000 + 700_000]
    assert s.stamp_batch([0.0], poll_ns=2_750_000) == [2_050_000]  # (same instant as the last one)
    # only the window's bounds count: after 10 ms the 50 us-late poll is forgotten
    assert s.stamp_batch([0.020], poll_ns=22_100_000) == [22_100_000]


def test_reader_polls_slowly_only_after_a_quiet_spell():
    assert poll_interval(0.001, 0.01, quiet_ns=1_999_000_000, hold_s=2.0) == 0.001
    assert poll_interval(0.001, 0.01, quiet_ns=2_000_000_000, hold_s=2.0) == 0.01


def test_fake_pair_is_a_cable():
    out, inp = fake_pair(now=lambda: 42)
    out.send(mido.Message("clock"))
    assert inp.inbox.get_nowait() == (mido.Message("clock"), 42)
    assert out.sent == [(mido.Message("clock"), 42)]


def test_fake_ports_shape():
    p = fake_ports(now=lambda: 7)
    p.input.deliver(mido.Message("start"))
    assert p.inbox.get_nowait() == (mido.Message("start"), 7)
    p.output.send(mido.Message("stop"))
    assert p.accepted is not p.output and p.output.messages() == [mido.Message("stop")]
    assert p.names() == {"in": "MIDI Assistant In", "out": "MIDI Assistant Out",
                         "accepted": "MIDI Assistant Accepted", "harmony": "MIDI Assistant Out"}
    assert p.outputs["harmony"] is p.output  # chords share the output (on their own channel) by default
    own = fake_ports(PortNames(harmony="MIDI Assistant Chords"), now=lambda: 7)
    assert own.outputs["harmony"] is not own.output and own.names()["harmony"] == "MIDI Assistant Chords"
    p.close()
    with pytest.raises(OSError):
        p.output.send(mido.Message("stop"))
    shared = fake_ports(PortNames(accepted=None))
    assert shared.accepted is shared.output
    assert isinstance(shared.input, FakeInput)


def test_resolve_port_exact_substring_ambiguous_unknown():
    have = ["loopMIDI Port 1", "loopMIDI Port 10", "DAW out"]
    assert resolve_port("loopMIDI Port 1", have, "input", "windows") == "loopMIDI Port 1"
    assert resolve_port("daw", have, "input", "windows") == "DAW out"
    with pytest.raises(UserError, match="ambiguous .*give more of the name"):
        resolve_port("loopMIDI", have, "input", "windows")
    with pytest.raises(UserError, match="no MIDI output port matches 'synth'.*midi-assistant ports --backend windows"):
        resolve_port("synth", have, "output", "windows")


def test_unknown_backend():
    with pytest.raises(UserError, match="unknown MIDI backend 'oss': use one of alsa, jack"):
        backends.list_ports("oss")


def test_windows_needs_attach(monkeypatch):
    monkeypatch.setattr(ports, "probe", lambda b: (None, [], []))
    with pytest.raises(UserError, match="no virtual MIDI ports: create ports with loopMIDI"):
        ports.open_ports("windows", attach=False)
    with pytest.raises(UserError, match="no MIDI input port matches 'MIDI Assistant In'"):
        ports.open_ports("windows")


def test_not_compiled_backend_is_a_user_error():
    import rtmidi

    if rtmidi.API_MACOSX_CORE in rtmidi.get_compiled_api():
        pytest.skip("CoreMIDI is compiled in here")
    with pytest.raises(UserError, match="'coremidi' is not compiled into python-rtmidi"):
        backends.list_ports("coremidi")


def test_alsa_without_sequencer_is_one_clear_line(capfd):
    import os

    if os.path.exists("/dev/snd/seq"):
        pytest.skip("this machine has an ALSA sequencer")
    assert main(["ports", "--backend", "alsa"]) == 2
    out, err = capfd.readouterr()
    assert err.count("\n") == 1  # nothing from ALSA lib on fd 2
    assert "MIDI backend 'alsa' cannot start" in err and "/dev/snd/seq" in err


def test_jack_without_server(monkeypatch, capfd):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "no-such-server-for-midi-assistant")
    assert main(["ports", "--backend", "jack"]) == 2
    _, err = capfd.readouterr()
    assert err.count("\n") == 1 and "no JACK server is running" in err
