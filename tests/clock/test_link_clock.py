"""Ableton Link as the clock: two peers in this machine (Link talks over loopback) agree
on tempo and on where each beat falls, and the transport follows start/stop sync.

The other peer is a plain Link session of the test's own, the way Live or another app
joins one; its beat times are read in Link's clock and turned into our monotonic time
by a measurement of the test's own, not by the clock under test.
"""

import time

import pytest
from blocked_import import block_import

from assistant.clock.link_clock import LinkClock
from assistant.clock import now_ns
from assistant.music import Meter

link = pytest.importorskip("link")  # the link extra (the README's test command installs it)


def wait_for(condition, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return False


def link_micros_to_ns(peer, micros):
    clock = peer.clock()
    samples = []
    for _ in range(5):
        before = now_ns()
        m = clock.micros()
        after = now_ns()
        samples.append((after - before, (before + after) // 2 - m * 1000))
    return micros * 1000 + min(samples)[1]


def set_tempo(peer, bpm):
    state = peer.captureAppSessionState()
    state.setTempo(bpm, peer.clock().micros())
    peer.commitAppSessionState(state)


@pytest.fixture
def peer():
    other = link.Link(120.0)
    other.enabled = True
    yield other
    other.enabled = False


def test_two_peers_agree_on_tempo_and_on_every_beat(peer):
    ours = LinkClock(97.0, [Meter(0, 4, 4)]).start()
    try:
        assert wait_for(lambda: ours.peers >= 1), "the two Link peers did not find each other"
        set_tempo(peer, 133.3)
        assert wait_for(lambda: abs(ours.tempo_bpm - 133.3) < 0.01)
        time.sleep(0.1)
        assert abs(ours.tempo_bpm - peer.captureAppSessionState().tempo()) < 0.01
        assert ours.running
        # where the peer puts the next eight beats, and where we would send for them
        state = peer.captureAppSessionState()
        now_beat = state.beatAtTime(peer.clock().micros(), 4.0)
        errors_ms = []
        for beat in range(int(now_beat) + 1, int(now_beat) + 9):
            theirs = link_micros_to_ns(peer, state.timeAtBeat(float(beat), 4.0))
            errors_ms.append((ours.ns_at(beat * 12) - theirs) / 1e6)
        assert max(abs(e) for e in errors_ms) < 1.0, errors_ms
        # bar lines where the peer's phase is 0 (quantum 4 = our 4/4 bar)
        bar_beat = (int(now_beat) // 4 + 1) * 4
        assert state.phaseAtTime(state.timeAtBeat(float(bar_beat), 4.0), 4.0) == pytest.approx(0.0, abs=1e-6)
        in_bar = ours.tick_at(link_micros_to_ns(peer, state.timeAtBeat(float(bar_beat), 4.0))) % 48
        assert min(in_bar, 48 - in_bar) < 0.03  # 1 ms at 133 BPM is 0.027 ticks
    finally:
        ours.close()


def test_the_transport_follows_start_stop_sync(peer):
    peer.startStopSyncEnabled = True
    ours = LinkClock(120.0, [Meter(0, 4, 4)], start_stop=True)
    events = []
    ours.add_listener(lambda event, tick, ns: events.append(event))
    ours.start()
    try:
        assert wait_for(lambda: ours.peers >= 1)
        assert not ours.running
        state = peer.captureAppSessionState()
        state.setIsPlaying(True, peer.clock().micros())
        peer.commitAppSessionState(state)
        assert wait_for(lambda: ours.running)
        tick = ours.now_tick()
        time.sleep(0.2)
        assert ours.now_tick() > tick  # it moves
        state = peer.captureAppSessionState()
        state.setIsPlaying(False, peer.clock().micros())
        peer.commitAppSessionState(state)
        assert wait_for(lambda: not ours.running)
        assert events[:2] == ["start", "stop"]
    finally:
        ours.close()


def test_without_the_link_extra_one_line_names_the_install(monkeypatch):
    from assistant.errors import UserError

    block_import(monkeypatch, "link")
    with pytest.raises(UserError, match=r"pip install 'midi-assistant\[link\]'"):
        LinkClock(120.0)
