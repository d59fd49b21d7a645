"""Clock sources: exact tick<->ns conversions, tempo changes, stop and continue, tap tempo."""

import pytest

from assistant.clock import FakeClock, InternalClock, NS_PER_S, check_tempo, ns_per_tick
from assistant.errors import UserError
from assistant.music import Meter

MS = 1_000_000
BEAT_120 = NS_PER_S // 2  # a quarter note at 120 bpm
def test_fake_clock_converts_exactly():
    c = FakeClock(tempo_bpm=120, ns=1_000)
    assert c.running and c.tempo_bpm == pytest.approx(120)
    assert c.ns_at(0) == 1_000
    assert c.ns_at(12) == 1_000 + BEAT_120
    assert c.tick_at(1_000 + BEAT_120) == pytest.approx(12)
    assert c.now_tick() == 0
    c.advance_ticks(30)
    assert c.now_tick() == 30 and c.ns == 1_000 + 5 * BEAT_120 // 2


def test_tempo_change_keeps_position_continuous():
    c = FakeClock(tempo_bpm=120)
    c.advance_ticks(24)  # two beats at 120
    t = c.ns
    c.set_tempo(60, t)
    assert c.tick_at(t) == pytest.approx(24)
    assert c.ns_at(36) == t + NS_PER_S  # a beat at 60 bpm
    # the past still maps with the tempo that held then
    assert c.tick_at(BEAT_120) == pytest.approx(12)
    assert c.ns_at(12) == BEAT_120


def test_stop_freezes_and_continue_resumes():
    c = FakeClock(tempo_bpm=120)
    events = []
    c.add_listener(lambda ev, tick, ns: events.append((ev, round(tick, 6), ns)))
    c.advance_ticks(6)
    c.stop()
    stop_ns = c.ns
    c.advance_ns(NS_PER_S)
    assert not c.running and c.tick_at(c.ns) == pytest.approx(6)
    c.continue_()
    c.advance_ticks(6)
    assert c.now_tick() == 12
    c.start(c.ns)
    assert events == [("stop", 6.0, stop_ns), ("continue", 6.0, stop_ns + NS_PER_S),
                      ("start", 0.0, c.ns)]


def test_meters_default_and_config():
    assert FakeClock().meters == [Meter(0)]
    c = FakeClock(meters=[Meter(0, 3, 4), Meter(36, 6, 8)])
    assert c.meter_at(40) == Meter(36, 6, 8)
    with pytest.raises(UserError, match="time signature 4/5"):
        FakeClock(meters=[Meter(0, 4, 5)])


def test_tempo_range_is_a_user_error():
    with pytest.raises(UserError, match="tempo 0 bpm is out of range"):
        check_tempo(0)
    with pytest.raises(UserError, match="not a number"):
        InternalClock(tempo_bpm="fast")


def test_tap_tempo_uses_the_median_interval():
    c = InternalClock(tempo_bpm=100, now=lambda: 0)
    t = 10 * NS_PER_S
    assert c.tap(t) is None
    taps = [500, 500, 520, 480, 900, 500]  # ms; one stray interval
    for dt in taps:
        t += dt * MS
        bpm = c.tap(t)
    assert bpm == pytest.approx(120)
    assert c.tempo_bpm == pytest.approx(120)
    # a long pause starts a new series
    t += 5 * NS_PER_S
    assert c.tap(t) is None
    assert c.tap(t + 400 * MS) == pytest.approx(150)




def test_ns_per_tick():
    assert ns_per_tick(120) == pytest.approx(NS_PER_S / 24)
