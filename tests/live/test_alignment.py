"""The DAW's alignment: the constant part of the player's offsets from the grid (a
running median) is learnt and given back as placement; the variation is not."""

import random

from assistant.live.alignment import LIMIT_NS, MIN_NOTES, WINDOW, DawAlignment

MS = 1_000_000


def test_nothing_is_learnt_before_enough_notes():
    a = DawAlignment()
    for _ in range(MIN_NOTES - 1):
        a.observe(-11 * MS)
    assert a.learned_ns() == 0 and a.placement_ns() == 0
    a.observe(-11 * MS)
    assert a.learned_ns() == -11 * MS
    assert a.placement_ns() == 11 * MS  # notes 11 ms ahead of the clock: send 11 ms later


def test_the_median_ignores_the_players_variation_and_outliers():
    a = DawAlignment()
    for jitter in [3, -2, 1, -3, 2, 0, 250, -1]:  # tenths of a ms; 250: one wild onset
        a.observe(-3 * MS + jitter * MS // 10 if jitter != 250 else 25 * MS)
    assert abs(a.learned_ns() + 3 * MS) <= MS // 5


def test_it_follows_a_new_constant_within_its_window():
    a = DawAlignment()
    for _ in range(WINDOW):
        a.observe(0)
    for _ in range(WINDOW // 2 + 1):
        a.observe(-5 * MS)
    assert a.learned_ns() == 0  # a window of two constants: neither agrees yet
    for _ in range(WINDOW // 4):
        a.observe(-5 * MS)
    assert a.learned_ns() == -5 * MS  # three in four


def test_a_constant_beyond_the_limit_is_held_at_the_bound():
    a = DawAlignment()
    for _ in range(MIN_NOTES):
        a.observe(-200 * MS)
    assert a.learned_ns() == -LIMIT_NS


def test_switched_off_it_learns_nothing():
    a = DawAlignment(learn=False)
    for _ in range(WINDOW):
        a.observe(-11 * MS)
    assert a.learned_ns() == 0 and a.placement_ns() == 0


def test_a_players_own_timing_is_not_taken_for_the_daws_alignment():
    """A person's onsets spread (here 0-15 ms either way, seeded, with a 4 ms lean): nothing
    is learnt from them, and a constant learnt before (the DAW's track) stays."""
    rng = random.Random(5)
    a = DawAlignment()
    for _ in range(WINDOW):
        a.observe(4 * MS + rng.randint(-15, 15) * MS)
    assert a.learned_ns() == 0
    b = DawAlignment()
    for _ in range(WINDOW):
        b.observe(-11 * MS)
    for _ in range(WINDOW):
        b.observe(rng.randint(-15, 15) * MS)
    assert abs(b.learned_ns() + 11 * MS) <= MS  # (the windows on the way still agreed, mostly)
