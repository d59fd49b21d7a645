"""The DAW's alignment: the constant part of the player's offsets from the grid (a
running median) is learnt and given back as placement; the variation is not."""

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
    assert a.learned_ns() == -5 * MS


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
