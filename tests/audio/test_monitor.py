"""The live monitor and the tap: what the ports are sent is played at its own frame,
what a port takes back is not played, and the ports get exactly what they got before.

Deterministic: a fake clock, blocks filled by hand and voices that record the frame
each message was played at; the last test runs the paced output's thread.
"""

import time

import mido
import numpy as np

from assistant.audio.monitor import AudioMonitor, PacedOutput
from assistant.audio.tap import AudioTap, tap_outputs
from assistant.audio.voices import BuiltinVoices
from assistant.clock import FakeClock
from assistant.live.scheduler import Event, Scheduler
from assistant.midi.fakeports import FakeOutput, FakeTimedOutput

RATE = 48_000
FRAME_NS = 1e9 / RATE


def on(p, ch=0):
    return mido.Message("note_on", channel=ch, note=p, velocity=80)


def off(p, ch=0):
    return mido.Message("note_off", channel=ch, note=p, velocity=0)


class RecordingVoices:
    """Silent voices that note the frame (since the first block) each message came at."""

    rate = RATE
    description = "recording"

    def __init__(self):
        self.frame = 0
        self.heard: list[tuple[int, mido.Message]] = []

    def handle(self, msg):
        self.heard.append((self.frame, msg))

    def render(self, frames):
        self.frame += frames
        return np.zeros((frames, 2), np.float32)


def fill_until(monitor, start_ns, seconds, block=256):
    for k in range(round(seconds * RATE / block)):
        monitor.fill(block, start_ns + round(k * block * FRAME_NS))


def test_each_message_plays_at_its_own_frame_within_the_block():
    now = [5_000_000_000]
    voices = RecordingVoices()
    m = AudioMonitor(voices, now=lambda: now[0])
    start = now[0]
    for frame, msg in [(1000, on(60)), (1100, off(60)), (255, on(62)), (256, off(62)), (3001, on(64))]:
        m.post(msg, start + round(frame * FRAME_NS))
    fill_until(m, start, 0.1)
    assert voices.heard == [(255, on(62)), (256, off(62)), (1000, on(60)), (1100, off(60)), (3001, on(64))]
    assert m.late == 0 and m.played == 5


def test_a_message_without_a_time_never_overtakes_what_is_pending():
    """As a timed port does: a note-off sent "now" while its note-on waits plays after it."""
    now = [1_000_000_000]
    voices = RecordingVoices()
    m = AudioMonitor(voices, now=lambda: now[0])
    m.post(on(60), now[0] + round(2000 * FRAME_NS))
    m.post(off(60))
    fill_until(m, now[0], 0.1)
    assert [msg for _, msg in voices.heard] == [on(60), off(60)]
    assert voices.heard[1][0] == 2000


def test_forgotten_messages_are_not_played_and_silence_stops_everything():
    now = [0]
    voices = RecordingVoices()
    m = AudioMonitor(voices, now=lambda: now[0])
    m.post(on(60), round(100 * FRAME_NS), key="a")
    m.post(on(62), round(200 * FRAME_NS), key="b")
    m.forget(["a"])
    m.post(on(64), round(3000 * FRAME_NS))
    fill_until(m, 0, 0.01)
    m.silence()  # drops the pending note-on at frame 3000
    fill_until(m, round(512 * FRAME_NS), 0.1)
    played = [msg for _, msg in voices.heard]
    assert played[0] == on(62)
    assert played[1:] == [mido.Message("control_change", channel=c, control=120) for c in range(16)]


def test_the_tap_forwards_unchanged_and_forgets_what_the_port_takes_back():
    """The scheduler with tapped outputs sends each port exactly what it sends without
    them; the monitor plays what the port plays, at the port's times."""
    results = []
    for tapped in (False, True):
        clock = FakeClock(tempo_bpm=120)
        timed = FakeTimedOutput(clock.now, commit_ns=3_000_000)
        plain = FakeOutput("plain", now=clock.now)
        voices = RecordingVoices()
        monitor = AudioMonitor(voices, now=clock.now)
        outputs = {"out": timed, "accepted": plain, "harmony": timed}
        if tapped:
            outputs = tap_outputs(outputs, monitor)
            assert outputs["out"] is outputs["harmony"] and isinstance(outputs["out"], AudioTap)
            assert outputs["out"].timed and outputs["out"].withdrawable and not outputs["accepted"].timed
        s = Scheduler(clock, outputs, timed_ahead_ns=3_000_000, hold_ahead_ns=100_000_000)
        s.schedule([Event(4, on(60)), Event(5, off(60))], lane="a")
        s.schedule([Event(5, on(70, ch=1), output="harmony"), Event(7, off(70, ch=1), output="harmony")],
                   lane="chords")
        s.schedule([Event(2, on(72, ch=2), output="accepted"), Event(3, off(72, ch=2), output="accepted")],
                   lane="accepted")
        start = clock.now()
        block_ns = round(256 * FRAME_NS)
        while clock.now() < clock.ns_at(9):
            if clock.now() >= clock.ns_at(3.5) and not s.withdrawn:
                s.replace("a", [Event(5, on(64)), Event(6, off(64))], from_tick=4)
            s.dispatch_due()
            timed.play_until(clock.now())
            monitor.fill(256, clock.now())
            clock.advance_ns(block_ns)
        results.append((timed.played, plain.sent, voices.heard, start))
    (timed_before, plain_before, _, _), (timed_after, plain_after, heard, start) = results
    assert timed_after == timed_before and plain_after == plain_before
    assert len(timed.withdrawals) == 1 and len(timed.withdrawals[0][1]) == 3  # ticks 4 and 5 taken back
    # the monitor played what the timed port played, each at the port's time (to a frame),
    # and the plain port's messages at the start of the next block after they were sent
    expected = sorted([(round((at - start) / FRAME_NS), msg) for msg, at in timed_after] +
                      [(None, msg) for msg, _ in plain_after], key=lambda e: (e[0] is None, e[0]))
    timed_heard = [(f, m) for f, m in heard if m.channel in (0, 1)]
    assert [m for _, m in timed_heard] == [m for _, m in expected if _ is not None]
    for (frame, msg), (want, _) in zip(timed_heard, [e for e in expected if e[0] is not None]):
        assert abs(frame - want) <= 1, (msg, frame, want)
    assert [m for _, m in heard if m.channel == 2] == [m for m, _ in plain_after]


def test_the_paced_output_renders_in_real_time_with_sound_where_the_note_is():
    monitor = AudioMonitor(BuiltinVoices(RATE))
    out = PacedOutput(monitor, keep=True).start()
    try:
        time.sleep(0.05)
        at = monitor.now() + 100_000_000
        monitor.post(on(69), at)
        monitor.post(off(69), at + 200_000_000)
        time.sleep(0.5)
    finally:
        out.close()
    samples = out.samples()
    assert len(samples) >= 0.5 * RATE
    first = int(np.argmax(np.abs(samples[:, 0]) > 0))  # silence is exact zeros
    assert abs((out.started_ns + first * FRAME_NS) - at) <= 2 * FRAME_NS
    assert monitor.late == 0
