"""The planner: velocity and register follow the player, micro-timing copies only the
spread of the player's offsets (within the bound), and nothing is placed late."""

from assistant.clock import FakeClock
from assistant.live.planner import LATE_GUARD_NS, Planner, next_start_tick, shift_until_in_time
from assistant.music import Note

MS = 1_000_000
BEAT = 500 * MS  # a quarter at 120 BPM (12 ticks)


def test_velocity_follows_the_median_of_the_player_or_is_fixed():
    p = Planner(velocity_spread=0, seed=1)
    assert p.velocity() == 80  # nothing heard yet
    for v in (40, 100, 60, 61, 59):
        p.observe_player(60, v)
    assert p.velocity() == 60
    assert Planner(velocity=100, velocity_spread=0).velocity() == 100
    spread = Planner(velocity=64, velocity_spread=8, seed=3)
    assert all(56 <= spread.velocity() <= 72 for _ in range(200))


def test_register_follows_the_player_widened_by_a_fifth_within_the_bounds():
    p = Planner(register_low=48, register_high=84)
    for pitch in (60, 64, 67):
        p.observe_player(pitch, 90)
    c = p.constraints()
    assert (c.low, c.high) == (53, 74)
    narrow = Planner(register_low=48, register_high=84)
    narrow.observe_player(50, 90)  # one low note: still at least an octave to move in
    c = narrow.constraints()
    assert c.high - c.low >= 12 and c.low >= 0
    fixed = Planner(register="fixed", register_low=55, register_high=70)
    fixed.observe_player(30, 90)
    assert (fixed.constraints().low, fixed.constraints().high) == (55, 70)


def test_micro_timing_copies_only_the_spread_and_stays_within_the_bound():
    steady = Planner(timing_ms=10, seed=2)
    for _ in range(16):
        steady.observe_timing(-11 * MS)  # a DAW's constant lead: no spread, nothing copied
    assert {steady.timing_offset_ns() for _ in range(50)} == {0}
    loose = Planner(timing_ms=10, seed=2)
    for k in range(16):
        loose.observe_timing((k % 5 - 2) * 8 * MS)  # +-16 ms of feel
    offsets = [loose.timing_offset_ns() for _ in range(500)]
    assert max(map(abs, offsets)) <= 10 * MS and len(set(offsets)) > 100
    assert Planner(timing_ms=0).timing_offset_ns() == 0


def test_humanise_shifts_the_note_and_keeps_its_pitch_and_length():
    p = Planner(velocity=90, velocity_spread=0)
    note, offset = p.humanise(Note(24, 6, 67, 10), shift=12)
    assert note == Note(36, 6, 67, 90) and offset == 0


def test_a_note_that_would_be_late_moves_by_whole_beats():
    clock = FakeClock(120.0)
    clock.set_time(BEAT + BEAT // 2)  # tick 18
    assert shift_until_in_time(clock, 24, now=clock.now()) == 0  # half a beat ahead: in time
    assert shift_until_in_time(clock, 12, now=clock.now()) == 12
    clock.set_time(2 * BEAT - LATE_GUARD_NS // 2)  # just inside the guard before tick 24
    assert shift_until_in_time(clock, 24, now=clock.now()) == 12


def test_the_next_start_is_the_first_bar_or_beat_at_least_the_guard_ahead():
    clock = FakeClock(120.0)
    clock.set_time(BEAT // 2)  # tick 6
    assert next_start_tick(clock, clock.meters, "beat", 8 * MS, clock.now()) == 12
    assert next_start_tick(clock, clock.meters, "bar", 8 * MS, clock.now()) == 48
    clock.set_time(4 * BEAT - 4 * MS)  # 4 ms before bar 2: within the 8 ms guard
    assert next_start_tick(clock, clock.meters, "bar", 8 * MS, clock.now()) == 96
    assert next_start_tick(clock, clock.meters, "bar", 2 * MS, clock.now()) == 48
