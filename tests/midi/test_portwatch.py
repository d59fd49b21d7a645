"""The port watch: a JACK server that stops and comes back, through a real server."""

from __future__ import annotations

import queue
import shutil
import time
import uuid

import mido
import pytest

from assistant.midi import jackmidi
from assistant.bench.jack_server import start_dummy_jack
from assistant.clock import now_ns
from assistant.midi.portwatch import PortWatch
from assistant.midi.ports import PortNames, open_ports

pytestmark = pytest.mark.jack


class FakePorts:
    """What the watch needs of MidiPorts, scripted."""

    def __init__(self):
        self.alive, self.back_ok, self.calls = True, False, []

    def healthy(self):
        return self.alive

    def remember(self):
        self.calls.append("remember")

    def reopen(self):
        self.calls.append("reopen")
        if self.back_ok:
            self.alive = True
        return self.back_ok

    def restore_connections(self):
        return (2, 0)


def test_watch_says_once_that_ports_are_lost_and_once_that_they_are_back():
    ports, lost, back = FakePorts(), [], []
    watch = PortWatch(ports, on_lost=lost.append, on_back=back.append)
    watch.check()
    ports.alive = False
    watch.check()
    watch.check()
    ports.back_ok = True
    watch.check()
    watch.check()
    assert len(lost) == 1 and "JACK server went away" in lost[0]
    assert len(back) == 1 and "same names" in back[0] and "restored so far: 2" in back[0]
    assert ports.calls == ["remember", "reopen", "reopen", "reopen", "remember"]


def _drain(inbox, timeout=1.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            return inbox.get(timeout=0.05)
        except queue.Empty:
            pass
    return None


def test_a_jack_server_restart_brings_our_ports_and_connections_back(monkeypatch):
    """jackd stops and starts again under its name: our ports come back with the same
    names, the connections a DAW had made are restored, and MIDI flows both ways again
    within 2 s of the server being back."""
    if shutil.which("jackd") is None or jackmidi.available() is not None:
        pytest.skip("needs jackd and the native JACK module")
    name = f"ma-restart-{uuid.uuid4().hex[:6]}"
    server = start_dummy_jack(name=name)
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)
    ours = open_ports("jack", PortNames(client="ma-watch"), jack_client="native")
    peer = None
    try:
        def daw():
            client = jackmidi.JackClient("daw")
            inbox = queue.SimpleQueue()
            client.add_input("in", inbox)
            out = client.add_output("out")
            return client, inbox, out

        peer, peer_inbox, peer_out = daw()
        peer.connect(ours.output.full_name, "daw:in")
        peer.connect("daw:out", ours.input.full_name)
        lost, back = [], []
        watch = PortWatch(ours, on_lost=lost.append, on_back=back.append, interval_s=0.1)
        watch.check()  # remembers the two connections
        server.stop()
        for _ in range(50):
            watch.check()
            if lost:
                break
            time.sleep(0.05)
        assert lost and not ours.healthy()
        peer.close()
        server = start_dummy_jack(name=name)
        up = now_ns()
        peer, peer_inbox, peer_out = daw()  # the DAW comes back too
        while now_ns() - up < 5e9:
            watch.check()
            if back and ours.restore_connections() == (0, 0):
                break
            time.sleep(0.05)
        assert back, "the ports did not come back"
        time.sleep(0.05)
        peer_out.send(mido.Message("note_on", note=61, velocity=90))
        got = _drain(ours.inbox)
        ours.output.send(mido.Message("note_on", note=62, velocity=90))
        answered = _drain(peer_inbox)
        playing_s = (now_ns() - up) / 1e9
    finally:
        ours.close()
        if peer is not None:
            peer.close()
        server.stop()
    assert got is not None and got[0].note == 61
    assert answered is not None and answered[0].note == 62
    assert [p.full_name for p in (ours.input, ours.output)] == ["ma-watch:MIDI Assistant In",
                                                                "ma-watch:MIDI Assistant Out"]
    assert playing_s <= 2.0, f"playing again {playing_s:.2f} s after the server was back"


class RtDevice:
    """A MIDI device on the real JACK server as python-rtmidi shows one: a client of its own
    with a "keys" output (what the musician plays) and a "synth" input. Unplugged: deleted."""

    def __init__(self, client: str):
        import rtmidi

        self.keys = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=client)
        self.keys.open_virtual_port("keys")
        self.synth = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=client)
        self.synth.open_virtual_port("synth")

    def heard(self, timeout=1.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = self.synth.get_message()
            if got is not None:
                return got[0]
            time.sleep(0.005)
        return None

    def unplug(self):
        for port in (self.keys, self.synth):
            port.close_port()
            port.delete()


def test_an_attached_device_that_is_unplugged_and_plugged_back_plays_again(jack_server):
    """A device port we attached to through python-rtmidi goes away and comes back (on
    Linux ALSA's, here a python-rtmidi client on the real JACK server: this container has
    no /dev/snd for snd-virmidi): the watch says so once, attaches again by the name given,
    and MIDI flows both ways within 2 s of the device's return."""
    client = jack_server.client_name("keyboard")
    device = RtDevice(client)
    ours = open_ports("jack", PortNames(input="keys", output="synth", accepted=None,
                                        client=jack_server.client_name("ma")),
                      attach=True, jack_client="rtmidi")
    lost, back = [], []
    watch = PortWatch(ours, on_lost=lost.append, on_back=back.append, interval_s=0.1)
    try:
        assert ours.watched == "devices" and ours.healthy()
        device.keys.send_message([0x90, 60, 90])
        assert _drain(ours.inbox)[0].note == 60
        device.unplug()
        for _ in range(40):
            watch.check()
            if lost:
                break
            time.sleep(0.05)
        assert len(lost) == 1 and "'keys'" in lost[0] and "'synth'" in lost[0], (lost, ours._listed())
        for _ in range(3):  # still gone: said once, not again
            watch.check()
        assert len(lost) == 1 and not back
        device = RtDevice(client)  # plugged back in
        up = now_ns()
        while now_ns() - up < 5e9 and not back:
            watch.check()
            time.sleep(0.05)
        assert back and "attached again" in back[0], (back, ours.missing(), ours._listed())
        time.sleep(0.05)
        device.keys.send_message([0x90, 61, 90])
        got = _drain(ours.inbox)
        ours.output.send(mido.Message("note_on", note=62, velocity=90))
        answered = device.heard()
        playing_s = (now_ns() - up) / 1e9
    finally:
        ours.close()
        device.unplug()
    assert got is not None and got[0].note == 61
    assert answered is not None and answered[:2] == [0x90, 62]
    assert playing_s <= 2.0, f"playing again {playing_s:.2f} s after the device was back"
