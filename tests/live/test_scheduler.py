"""Scheduler: ordering, replace-the-future with orphan closing, panic and crash paths.

Deterministic: a FakeClock and dispatch_due() stepped tick by tick, no thread;
except the last tests, which run the real thread briefly.
"""

import threading
import time

import mido
import pytest

from assistant.clock import FakeClock
from assistant.midi.fakeports import FakeOutput, FakeTimedOutput
from assistant.music import Note
from assistant.bench.dispatch import measure_dispatch_error
from assistant.live.scheduler import Event, Scheduler, SchedulerDied, note_events


def on(p, ch=0, v=80):
    return mido.Message("note_on", channel=ch, note=p, velocity=v)


def off(p, ch=0):
    return mido.Message("note_off", channel=ch, note=p, velocity=0)


def cc123(ch=0):
    return mido.Message("control_change", channel=ch, control=123, value=0)


class Rig:
    """A fake clock, two recording outputs and a scheduler stepped by hand."""

    def __init__(self):
        self.clock = FakeClock(tempo_bpm=120)
        self.out = FakeOutput("out", now=self.clock.now)
        self.acc = FakeOutput("accepted", now=self.clock.now)
        self.s = Scheduler(self.clock, {"out": self.out, "accepted": self.acc})

    def run_to(self, tick):
        """Advance tick by tick to ``tick``, dispatching at each."""
        self.s.dispatch_due()
        while self.clock.now_tick() < tick:
            self.clock.advance_ticks(1)
            self.s.dispatch_due()

    def log(self, port=None):
        port = port or self.out
        return [(round(self.clock.tick_at(ns)), m) for m, ns in port.sent]


def test_ordering_and_note_offs_first_at_a_tick():
    r = Rig()
    r.s.schedule([Event(12, on(62)), Event(0, on(60)), Event(12, off(60)), Event(24, off(62))], lane="a")
    r.s.schedule([Event(12, mido.Message("control_change", control=1, value=5))], lane="b")
    r.s.dispatch_due()
    r.run_to(30)
    assert r.log() == [(0, on(60)), (12, off(60)), (12, mido.Message("control_change", control=1, value=5)),
                       (12, on(62)), (24, off(62))]
    assert r.s.sounding() == set()


def test_note_events_and_outputs():
    r = Rig()
    r.s.schedule(note_events([Note(0, 6, 60, 90)], channel=2, output="accepted"), lane="accepted")
    r.s.dispatch_due()
    assert r.s.sounding() == {("accepted", 2, 60)}
    r.run_to(6)
    assert r.log(r.acc) == [(0, on(60, 2, 90)), (6, off(60, 2))]
    assert r.out.sent == []
    with pytest.raises(ValueError, match="unknown output 'nowhere'"):
        r.s.schedule([Event(0, on(1), "nowhere")])


def test_tempo_change_is_followed_at_dispatch_time():
    r = Rig()
    r.s.schedule([Event(24, on(60))])
    r.clock.advance_ticks(12)
    r.clock.set_tempo(60)  # the next 12 ticks now take a second, not half
    r.clock.advance_ns(999_000_000)
    assert r.s.dispatch_due() == 0
    r.clock.advance_ns(1_000_000)
    assert r.s.dispatch_due() == 1


def test_replace_future_closes_orphans_at_new_plan_start():
    r = Rig()
    r.s.schedule(note_events([Note(0, 24, 60), Note(12, 24, 64), Note(24, 12, 67)]), lane="suggestion")
    r.s.schedule(note_events([Note(0, 48, 48)]), lane="harmony")
    r.run_to(6)
    assert r.s.sounding() == {("out", 0, 60), ("out", 0, 48)}
    # at tick 6: the new plan starts at 18. 60 sounds (off at 24 replaced) -> off at 18;
    # 64 starts at 12 (kept) with its off at 36 replaced -> off at 18; 67 is dropped whole.
    r.s.replace("suggestion", note_events([Note(18, 6, 64), Note(24, 6, 72)]), from_tick=18)
    r.run_to(48)
    assert r.log() == [
        (0, on(60)), (0, on(48)),
        (12, on(64)),
        (18, off(60)), (18, off(64)), (18, on(64)),
        (24, off(64)), (24, on(72)),
        (30, off(72)),
        (48, off(48)),  # the harmony lane is untouched
    ]
    assert r.s.sounding() == set()


def test_replace_from_the_past_closes_now():
    r = Rig()
    r.s.schedule(note_events([Note(0, 48, 60)]), lane="suggestion")
    r.run_to(10)
    r.s.replace("suggestion", [], from_tick=0)
    r.s.dispatch_due()
    assert r.log() == [(0, on(60)), (10, off(60))]
    assert r.s.pending() == []


def test_lanes_track_their_own_notes():
    r = Rig()
    r.s.schedule([Event(0, on(60)), Event(30, off(60))], lane="s")
    r.s.schedule([Event(6, off(60))], lane="t")  # another lane's note-off does not end lane s's note
    r.run_to(3)
    r.s.replace("s", [], from_tick=12)  # so lane s's note still gets its closer at 12
    r.run_to(40)
    assert r.log() == [(0, on(60)), (6, off(60)), (12, off(60))]


def test_orphan_closer_is_skipped_if_note_already_silenced():
    r = Rig()
    r.s.schedule([Event(0, on(60)), Event(30, off(60))], lane="s")
    r.run_to(3)
    r.s.replace("s", [], from_tick=12)
    r.run_to(6)
    r.s.all_notes_off()
    r.run_to(40)
    assert r.log() == [(0, on(60)), (6, off(60)), (6, cc123())]


def test_panic_closes_all_and_drops_the_plan():
    r = Rig()
    r.s.schedule(note_events([Note(0, 48, 60), Note(0, 48, 64)], channel=1), lane="a")
    r.s.schedule(note_events([Note(0, 48, 40)], channel=3, output="accepted"), lane="b")
    r.run_to(5)
    r.s.panic()
    r.run_to(60)
    assert r.log()[2:] == [(5, off(60, 1)), (5, off(64, 1)), (5, cc123(1))]
    assert r.log(r.acc) == [(0, on(40, 3)), (5, off(40, 3)), (5, cc123(3))]
    assert r.s.pending() == [] and r.s.sounding() == set()


def test_all_notes_off_keeps_the_plan():
    r = Rig()
    r.s.schedule(note_events([Note(0, 12, 60), Note(24, 12, 62)]))
    r.run_to(3)
    r.s.all_notes_off()
    assert r.log() == [(0, on(60)), (3, off(60)), (3, cc123())]
    r.run_to(36)
    assert r.log()[3:] == [(12, off(60)), (24, on(62)), (36, off(62))]


def test_transport_stop_silences_via_clock_listener():
    r = Rig()
    r.s.schedule(note_events([Note(0, 24, 60)]))
    r.run_to(2)
    r.clock.stop()
    assert r.log() == [(0, on(60)), (2, off(60)), (2, cc123())]
    assert r.s.pending() == []
    r.clock.advance_ns(10**9)
    assert r.s.dispatch_due() == 0


def test_dispatch_waits_while_stopped():
    clock = FakeClock(running=False)
    out = FakeOutput(now=clock.now)
    s = Scheduler(clock, out, silence_on_stop=False)
    s.schedule([Event(0, on(60))])
    assert s.dispatch_due() == 0
    clock.start()
    assert s.dispatch_due() == 1


def test_close_without_thread_silences():
    r = Rig()
    r.s.schedule(note_events([Note(0, 24, 60)]))
    r.s.dispatch_due()
    r.s.close()
    assert r.out.messages() == [on(60), off(60), cc123()]
    with pytest.raises(SchedulerDied, match="closed"):
        r.s.schedule([])


# -- the real thread -------------------------------------------------------------------
def _wait(cond, timeout=2.0):
    end = time.monotonic() + timeout
    while not cond() and time.monotonic() < end:
        time.sleep(0.005)
    return cond()


def test_thread_dispatches_and_stops_on_sentinel():
    clock = FakeClock()  # frozen fake time: everything at tick <= 0 is due
    out = FakeOutput(now=clock.now)
    s = Scheduler(clock, out, rt_priority=None).start()
    s.schedule([Event(0, on(60)), Event(0, mido.Message("control_change", control=7, value=1))])
    assert _wait(lambda: len(out.sent) == 2)
    s.close()
    assert not s.alive
    assert out.messages() == [mido.Message("control_change", control=7, value=1), on(60), off(60), cc123()]


def test_thread_crash_silences_and_reports(caplog):
    clock = FakeClock()
    good = FakeOutput(now=clock.now)
    sent = []

    def bad(msg):
        sent.append(msg)
        if msg.type == "control_change" and msg.control == 1:
            raise RuntimeError("a bug in the sink")  # (an OSError, a vanished port, only drops the event)

    s = Scheduler(clock, {"out": good, "bad": bad}, rt_priority=None)
    hooked = []
    old_hook = threading.excepthook
    threading.excepthook = lambda args: hooked.append(args.exc_type)
    try:
        s.start()
        s.schedule([Event(0, on(60)), Event(0, on(61), "bad")])
        assert _wait(lambda: len(good.sent) == 1 and len(sent) == 1)
        s.schedule([Event(0, mido.Message("control_change", control=1, value=1), "bad")])
        assert _wait(lambda: not s.alive)
    finally:
        threading.excepthook = old_hook
    assert hooked == [RuntimeError]
    assert isinstance(s.error, RuntimeError)
    assert good.messages() == [on(60), off(60), cc123()]
    assert sent[-2:] == [off(61), cc123()]
    with pytest.raises(SchedulerDied, match="a bug in the sink"):
        s.schedule([])
    s.close()


def test_measure_dispatch_error_runs():
    res = measure_dispatch_error(events=20, interval_ms=2.0)
    assert res["n"] == 20 and res["p50_us"] < 5000


def test_micro_timing_offset_and_output_lead_move_the_deadline():
    clock = FakeClock(120.0, ns=0)
    out = FakeOutput("o", clock.now)
    sched = Scheduler(clock, out, lead_ns=1_000_000)
    on = mido.Message("note_on", note=60, velocity=90)
    sched.schedule([Event(12, on, offset_ns=5_000_000)], "x")
    due = clock.ns_at(12) + 5_000_000 - 1_000_000
    assert sched.dispatch_due(due - 1) == 0
    assert sched.dispatch_due(due) == 1
    assert out.messages() == [on]


# -- a timed output that can take back what it holds (our native JACK port) ---------------

class TimedRig:
    """A fake clock, a withdrawable timed output and a scheduler that hands over 100 ms early."""

    HOLD_NS = 100_000_000
    COMMIT_NS = 3_000_000

    def __init__(self):
        self.clock = FakeClock(tempo_bpm=120)  # a tick is 41.7 ms
        self.out = FakeTimedOutput(self.clock.now, commit_ns=self.COMMIT_NS)
        self.s = Scheduler(self.clock, {"out": self.out}, timed_ahead_ns=self.COMMIT_NS, hold_ahead_ns=self.HOLD_NS)

    def run_to(self, tick, step_ns=1_000_000):
        end = self.clock.ns_at(tick)
        while self.clock.now() < end:
            self.s.dispatch_due()
            self.out.play_until(self.clock.now())
            self.clock.advance_ns(min(step_ns, end - self.clock.now()))
        self.s.dispatch_due()
        self.out.play_until(self.clock.now())

    def played(self):
        return [(round(self.clock.tick_at(ns), 3), m) for m, ns in self.out.played]


def hanging(played):
    sounding = {}
    for _, m in played:
        if m.type == "note_on" and m.velocity > 0:
            sounding[(m.channel, m.note)] = sounding.get((m.channel, m.note), 0) + 1
        elif m.type in ("note_on", "note_off") and sounding.get((m.channel, m.note)):
            sounding[(m.channel, m.note)] -= 1
    return {k for k, n in sounding.items() if n > 0}


def test_timed_output_gets_events_long_before_their_time_and_plays_them_on_it():
    r = TimedRig()
    r.s.schedule([Event(4, on(60)), Event(6, off(60)), Event(6, on(62)), Event(8, off(62))], lane="a")
    r.run_to(1.5)  # 62.5 ms: the note-on at tick 4 (167 ms) is not within 100 ms yet
    assert [h[2] for h in r.out.held] == []
    r.run_to(1.7)  # 70.8 ms: it has been handed over, with its time
    assert [(h[0], h[2]) for h in r.out.held] == [(r.clock.ns_at(4), on(60))]
    r.run_to(10)
    assert r.played() == [(4, on(60)), (6, off(60)), (6, on(62)), (8, off(62))]
    assert r.s.late_events == 0 and r.s.sounding() == set()


def test_replace_takes_back_what_was_handed_over_and_keeps_other_lanes():
    r = TimedRig()
    r.s.schedule([Event(4, on(60)), Event(5, off(60))], lane="a")
    r.s.schedule([Event(5, on(70, ch=1)), Event(7, off(70, ch=1))], lane="chords")
    r.run_to(3.5)  # ticks 4 and 5 are handed over
    assert len(r.out.held) == 3
    r.s.replace("a", [Event(5, on(64)), Event(6, off(64))], from_tick=4)
    r.run_to(9)
    assert r.played() == [(5, on(70, ch=1)), (5, on(64)), (6, off(64)), (7, off(70, ch=1))]
    assert r.s.withdrawn == 3 and hanging(r.played()) == set() and r.s.sounding() == set()


def test_a_committed_note_on_gets_its_closer_after_it():
    """A replace that comes when the note-on is already committed (inside the output's
    commit window) cannot take it back: the orphan note-off goes right after it."""
    r = TimedRig()
    r.s.schedule([Event(4, on(60)), Event(8, off(60))], lane="a")
    r.run_to(3)
    r.clock.advance_ns(r.clock.ns_at(4) - r.clock.now() - 1_000_000)  # 1 ms before tick 4
    r.s.dispatch_due()
    r.s.replace("a", [], from_tick=3)
    r.run_to(10)
    assert r.played() == [(4, on(60)), (4, off(60))]
    assert hanging(r.played()) == set()


def test_panic_takes_back_the_future_and_closes_what_is_committed():
    r = TimedRig()
    r.s.schedule([Event(4, on(60)), Event(4, on(64)), Event(6, off(60)), Event(6, off(64))], lane="a")
    r.run_to(3)
    r.clock.advance_ns(r.clock.ns_at(4) - r.clock.now() - 1_000_000)  # 1 ms before tick 4
    r.s.dispatch_due()
    r.s.panic()
    r.run_to(10)
    played = r.played()
    assert [m for _, m in played][:2] == [on(60), on(64)]  # committed: they play...
    assert hanging(played) == set()  # ...and are closed right after
    assert all(t == 4 for t, _ in played)


def test_panic_when_the_output_cannot_answer_still_closes_every_note():
    r = TimedRig()
    r.out.withdraw = lambda from_ns=0: None  # a stalled server: nothing comes back
    r.s.schedule([Event(4, on(60)), Event(5, off(60)), Event(5, on(62)), Event(9, off(62))], lane="a")
    r.run_to(3)
    r.s.panic()
    r.run_to(12)
    assert hanging(r.played()) == set()


def test_a_port_that_refuses_sends_loses_its_events_not_the_scheduler():
    """A JACK server that stopped makes every send raise: the events are dropped and
    counted, once logged, and the scheduler goes on (and sends again when it can)."""
    r = Rig()
    broken = {"on": True}
    real_send = r.out.send

    def send(msg):
        if broken["on"]:
            raise OSError("the JACK server has shut our client down")
        real_send(msg)

    r.out.send = send
    r.s = Scheduler(r.clock, {"out": r.out, "accepted": r.acc})
    r.s.schedule([Event(1, on(60)), Event(2, off(60)), Event(4, on(62)), Event(5, off(62))], lane="a")
    r.run_to(3)
    assert r.s.send_errors == 2 and r.s.sounding() == set()
    broken["on"] = False
    r.run_to(6)
    assert r.log() == [(4, on(62)), (5, off(62))]


def test_a_note_struck_again_is_never_placed_before_the_note_off_that_ends_it():
    """The same chord note ends and is struck again at tick 6. The note-off went to the
    output long before (handed over early, with its time); the new note-on comes later, when
    the clock's estimate of tick 6 has moved 1 ms earlier (a tempo change, a DAW clock
    followed). Placed at its own time it would sound before the note-off and be cut by it at
    once (silent on a synth, and left open by a note count); it goes out just after it."""
    r = TimedRig()
    r.s.schedule([Event(4, on(60)), Event(6, off(60))], lane="chords")
    r.run_to(5.5)  # the note-off at tick 6 is held by the output
    assert [m for _, _, m, _ in r.out.held] == [off(60)]
    old_off_ns = r.out.held[0][0]
    r.clock.set_tempo(120 * 41.666_666 / (41.666_666 - 2.0))  # tick 6 comes 1 ms sooner
    assert r.clock.ns_at(6) < old_off_ns - 900_000
    r.s.schedule([Event(6, on(60)), Event(8, off(60))], lane="chords")
    r.run_to(10)
    at_six = [(m, ns) for m, ns in r.out.played if m.note == 60 and round(r.clock.tick_at(ns)) == 6]
    assert [m for m, _ in at_six] == [off(60), on(60)]
    assert at_six[1][1] - at_six[0][1] < 100_000  # struck again right after it: not a gap
    assert hanging(r.played()) == set() and r.s.sounding() == set()
