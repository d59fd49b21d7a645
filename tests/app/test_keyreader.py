"""The UI's key reader on a real terminal (a pseudo-terminal): one key at a time without
Enter, nothing when no key comes, and the terminal's mode restored on exit."""

import os
import sys

import pytest

from assistant.app.keyreader import KeyReader

pytestmark = pytest.mark.skipif(sys.platform.startswith("win"), reason="POSIX terminals (Windows: msvcrt)")


def test_keys_arrive_one_at_a_time_and_the_terminal_is_restored():
    import pty
    import termios

    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "rb", buffering=0, closefd=False) as terminal:
            before = termios.tcgetattr(slave)
            with KeyReader(terminal) as keys:
                assert not termios.tcgetattr(slave)[3] & termios.ICANON  # cbreak: no line editing
                assert keys.read(0.05) is None
                os.write(master, b"n ")
                assert keys.read(1.0) == "n"
                assert keys.read(1.0) == " "
                assert keys.read(0.05) is None
            assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)
