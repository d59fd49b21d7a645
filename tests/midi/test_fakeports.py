"""The in-process ports (assistant.midi.fakeports) keep the contracts the real ones have:
tests/midi/test_jackmidi.py holds the native JACK port to the same rules for withdraw and
for messages without a time."""

import queue

import mido
import pytest

from assistant.midi.fakeports import FakeTimedOutput, fake_pair, fake_ports
from assistant.midi.ports import PortNames

MS = 1_000_000


def _on(pitch):
    return mido.Message("note_on", note=pitch, velocity=90)


def test_a_timed_output_plays_in_time_order_and_an_untimed_message_after_what_it_holds():
    now = [0]
    out = FakeTimedOutput(lambda: now[0])
    out.send(_on(62), 20 * MS, 2)
    out.send(_on(60), 10 * MS, 1)
    out.send(mido.Message("note_off", note=60), 0, 0)  # no time: after everything held, never before
    out.play_until(15 * MS)
    assert [(m.note, at) for m, at in out.played] == [(60, 10 * MS)]
    out.play_until(30 * MS)
    assert [(m.type, at) for m, at in out.played[1:]] == [("note_on", 20 * MS), ("note_off", 20 * MS)]


def test_withdraw_gives_back_only_what_is_not_yet_committed_and_never_an_untimed_message():
    now = [10 * MS]
    out = FakeTimedOutput(lambda: now[0], commit_ns=2 * MS)
    for event_id, at in ((1, 11 * MS), (2, 12 * MS), (3, 30 * MS)):
        out.send(_on(60 + event_id), at, event_id)
    out.send(mido.Message("note_off", note=61), 0, 0)
    ids, cutoff = out.withdraw(0)
    assert cutoff == 12 * MS and ids == [2, 3]
    assert [h[3] for h in out.held] == [1, -1]
    out.close()
    with pytest.raises(OSError):
        out.send(_on(60), 40 * MS, 9)


def test_a_cable_delivers_what_is_sent_stamped_and_fake_ports_share_one_output_where_asked():
    out, into = fake_pair(now=lambda: 7)
    out.send(_on(64))
    msg, ns = into.inbox.get_nowait()
    assert (msg.note, ns) == (64, 7)
    into.close()
    into.deliver(_on(65))
    with pytest.raises(queue.Empty):
        into.inbox.get_nowait()
    ports = fake_ports(PortNames(accepted=None, harmony="chords"))
    assert ports.outputs["accepted"] is ports.outputs["out"] and ports.outputs["harmony"] is not ports.outputs["out"]
