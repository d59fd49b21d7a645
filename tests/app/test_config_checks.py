"""The configuration's value checks: what each accepts, how it normalises, what it says otherwise."""

import pytest

from assistant.app import config_checks as check


def test_numbers_and_whole_numbers_keep_to_their_range_and_refuse_booleans():
    assert check.number(0.05, 5)(1) == 1.0 and isinstance(check.number(0.05, 5)(1), float)
    for bad in (True, "1", 6, 0.0):
        with pytest.raises(check.Invalid, match=r"a number in 0.05..5"):
            check.number(0.05, 5)(bad)
    assert check.integer(1, 8)(8) == 8
    with pytest.raises(check.Invalid, match=r"a whole number in 1..8"):
        check.integer(1, 8)(2.0)


def test_values_are_normalised():
    assert check.time_signature(" 6 / 8 ") == "6/8"
    assert check.channels([3, 1, 3]) == (1, 3)
    assert check.lead("auto") == "auto" and check.lead(12) == 12.0
    assert check.keys(["F5", "n", "f5"]) == ("f5", "n") and check.keys("Space") == ("space",)
    assert check.key("Bb major") == "Bb major" and check.key("") == ""


@pytest.mark.parametrize("fn,value,says", [
    (check.time_signature, "5/7", "denominator 1, 2, 4, 8, 16 or 32"),
    (check.channels, [0], "MIDI channels 1..16"),
    (check.lead, 51, '"auto" or a number of ms in 0..50'),
    (check.velocity, 0, '"follow" or a whole number in 1..127'),
    (check.key, "H major", 'a key like "D minor"'),
    (check.choice("beat", "bar"), "half", 'one of "beat", "bar"'),
    (check.attach, "yes", 'true, false or "auto"'),
    (check.name, "  ", "a non-empty port name"),
    (check.bindings, "cc:999", "or a list of them"),
])
def test_a_value_that_does_not_fit_says_what_was_expected(fn, value, says):
    with pytest.raises(check.Invalid) as err:
        fn(value)
    assert says in err.value.args[0]
