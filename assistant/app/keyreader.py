"""Single keys from the terminal, without waiting for Enter, on every platform.

:class:`KeyReader` is a context manager: on POSIX it puts the terminal in cbreak
mode (``termios``/``tty``, imported only there) and restores it on exit, also after
an exception; on Windows it reads the console with ``msvcrt``. Main thread (the UI):
:meth:`KeyReader.read` waits at most ``timeout`` seconds and returns one key or None.
"""

from __future__ import annotations

import os
import sys


class KeyReader:
    def __init__(self, stream=None):
        self.stream = stream or sys.stdin
        self._windows = sys.platform.startswith("win")
        self._saved = None

    def __enter__(self) -> "KeyReader":
        if not self._windows:
            import termios
            import tty

            fd = self.stream.fileno()
            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
        return self

    def __exit__(self, *exc) -> None:
        if self._saved is not None:
            import termios

            termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)
            self._saved = None

    def read(self, timeout: float) -> str | None:
        """One key typed within ``timeout`` seconds, else None."""
        return self._read_windows(timeout) if self._windows else self._read_posix(timeout)

    def _read_posix(self, timeout: float) -> str | None:
        import select

        fd = self.stream.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return None
        return os.read(fd, 1).decode(errors="ignore") or None

    def _read_windows(self, timeout: float) -> str | None:
        import msvcrt
        import time

        end = time.monotonic() + timeout
        while not msvcrt.kbhit():
            if time.monotonic() >= end:
                return None
            time.sleep(0.01)
        key = msvcrt.getwch()
        if key in ("\x00", "\xe0"):  # an arrow or function key, which no binding names: skip its code
            msvcrt.getwch()
            return None
        return key
