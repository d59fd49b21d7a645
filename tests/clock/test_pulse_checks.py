"""The recount from the first pulse after Start (assistant.clock.pulse_checks), exactly."""

from assistant.clock.pulse_checks import fit_line, recount

P = 20_833_333  # ns per pulse at 120 BPM


def test_each_gap_counts_its_whole_periods_repeats_losses_and_bunches_included():
    steady = [k * P for k in range(30)]
    assert recount(steady, 0.35) == 29
    repeated = steady[:10] + [steady[9] + 1_333_333] + steady[10:]
    assert recount(repeated, 0.35) == 29
    lost = steady[:10] + steady[12:]
    assert recount(lost, 0.35) == 29
    bunched = steady[:10] + [steady[12]] * 3 + steady[13:]  # pulses 10-12 stamped at 12's time
    assert recount(bunched, 0.35) == 29
    late = [t + (1_333_333 if k % 7 == 3 else 0) for k, t in enumerate(steady)]
    assert recount(late, 0.35) == 29


def test_the_period_is_each_beats_own_so_a_tempo_change_is_followed():
    t, stamps = 0, []
    for period in [P] * 24 + [P * 100 // 110] * 48:
        stamps.append(t)
        t += period
    assert recount(stamps, 0.35) == 71


def test_a_gap_that_is_not_clearly_whole_gives_no_count():
    stamps = [k * P for k in range(30)]
    stamps[15:] = [t + P // 2 for t in stamps[15:]]
    assert recount(stamps, 0.35) is None
    assert recount([0, 0, 0, 0], 0.35) is None  # no period to count in


def test_a_bunched_pulse_has_no_weight_in_the_line():
    points = [k * P for k in range(11)] + [12 * P - 1000, 12 * P]  # pulse 11 held up into 12's time
    offset, slope = fit_line(points)
    assert abs(slope - P) < 1 and abs(offset) < 1
