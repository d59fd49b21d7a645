"""The audio tap (assistant.audio.tap): the port gets every call unchanged, the monitor
the same messages with the port's times, and forgets what the port takes back."""

import mido

from assistant.audio.tap import AudioTap, tap_outputs
from assistant.midi.fakeports import FakeOutput, FakeTimedOutput


class RecordingMonitor:
    def __init__(self):
        self.posted, self.forgotten = [], []

    def post(self, msg, at_ns, key):
        self.posted.append((msg.type, at_ns, key))

    def forget(self, keys):
        self.forgotten.extend(keys)


def _on(pitch):
    return mido.Message("note_on", note=pitch, velocity=90)


def test_a_withdrawable_port_keeps_its_times_and_ids_and_what_it_gives_back_is_forgotten():
    now = [0]
    port, monitor = FakeTimedOutput(lambda: now[0], commit_ns=1_000), RecordingMonitor()
    tap = AudioTap(port, monitor)
    assert tap.timed and tap.withdrawable and tap.commit_ns == 1_000  # the port's own attributes
    tap.send(_on(60), 5_000, 1)
    tap.send(_on(62), 9_000, 2)
    tap.send(mido.Message("note_off", note=60), 0, 0)
    assert [h[:2] for h in port.held] == [(5_000, 1), (9_000, 2), (9_000, 3)]
    assert monitor.posted == [("note_on", 5_000, (id(tap), 1)), ("note_on", 9_000, (id(tap), 2)), ("note_off", 0, None)]
    assert tap.withdraw(8_000) == ([2], 8_000)
    assert monitor.forgotten == [(id(tap), 2)]


def test_a_port_without_times_is_posted_as_now_and_ports_shared_by_names_share_one_tap():
    port, monitor = FakeOutput(), RecordingMonitor()
    outputs = tap_outputs({"out": port, "harmony": port, "accepted": FakeOutput("acc")}, monitor)
    assert outputs["out"] is outputs["harmony"] and outputs["accepted"] is not outputs["out"]
    outputs["out"].send(_on(64), 12_345, 7)
    assert [m.note for m in port.messages()] == [64] and monitor.posted == [("note_on", 0, None)]
