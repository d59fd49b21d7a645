"""The user-facing error (assistant.errors): exit code 2, its message the one line shown."""

import pytest

from assistant.errors import UserError


def test_a_user_error_carries_exit_code_2_and_its_line():
    with pytest.raises(UserError) as err:
        raise UserError("config key 'suggest.bars' must be 1-8: give a number of bars from 1 to 8")
    assert err.value.exit_code == 2 and str(err.value).startswith("config key")
    assert not issubclass(UserError, (ValueError, OSError))  # never caught as a programming error
