"""Keeps the ports playing: notices when the JACK server, or a device port we attached
to, goes away and brings the ports back.

A musician restarts JACK (or a session manager does); without this the assistant
stayed up with no ports and never answered again. :class:`PortWatch` looks once a
``interval_s``: while the ports are healthy it notes what is connected to them;
when they are not it says so once (``on_lost``: the engine silences what sounds and
keeps its session), then tries to open them again each time, with the same names,
and restores the connections it noted (``on_back``). Device ports attached through
python-rtmidi (ALSA, CoreMIDI, Windows; JACK with ``jack_client = "rtmidi"``) are
looked up by the name the user gave and attached again once all are listed.
Connections whose other end is not back yet are tried again at each look for
``RESTORE_FOR_S``.

Thread: its own daemon thread, ``ports-watch``; ``on_lost``/``on_back`` run there and
must not block (post to the engine, note a line). Start and stop it from the main
thread; ``stop`` returns within about ``interval_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)


class PortWatch:
    RESTORE_FOR_S = 60.0

    def __init__(self, ports, on_lost: Callable[[str], None], on_back: Callable[[str], None],
                 interval_s: float = 1.0):
        self.ports = ports
        self.on_lost = on_lost
        self.on_back = on_back
        self.interval_s = interval_s
        self.down_since: float | None = None  # monotonic seconds, while the ports are down
        self.losses = 0
        self._restore_until = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ports-watch", daemon=True)

    def start(self) -> "PortWatch":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(2 * self.interval_s + 1)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception:  # the watch itself must never stop watching
                log.exception("port watch: unexpected error; it goes on")

    def check(self) -> None:
        """One look (the watch thread; tests call it directly)."""
        ports = self.ports
        devices = getattr(ports, "watched", "jack") == "devices"
        if self.down_since is None:
            if ports.healthy():
                if time.monotonic() < self._restore_until:
                    made, missing = ports.restore_connections()
                    if made:
                        log.info("JACK: %d more connections restored (%d still missing)", made, missing)
                ports.remember()
                return
            self.down_since = time.monotonic()
            self.losses += 1
            if devices:
                gone = ", ".join(repr(name) for name in ports.missing())
                self.on_lost(f"MIDI device port {gone} went away (unplugged?): notes silenced, the session "
                             "file is kept; it is attached again by name when it is back")
            else:
                self.on_lost("the JACK server went away: no MIDI in or out; notes silenced, the session file "
                             "is kept; the ports come back by themselves when the server does")
        if ports.reopen():
            waited = time.monotonic() - self.down_since
            self.down_since = None
            if devices:
                self.on_back(f"MIDI device ports are back: attached again by name after {waited:.1f} s")
                return
            self._restore_until = time.monotonic() + self.RESTORE_FOR_S
            made, missing = ports.restore_connections()
            self.on_back(f"the JACK server is back: ports recreated with the same names after {waited:.1f} s; "
                         f"connections restored so far: {made}" + (f", {missing} still missing" if missing else ""))
