"""An output port that also plays what it is sent through an :class:`AudioMonitor`.

:class:`AudioTap` stands in for a port in the scheduler's outputs: it forwards every
call unchanged and posts the message to the monitor with the time the port was given
(now, for a port without times), so what the DAW receives is what the speakers play.
What a withdrawable port takes back is forgotten by the monitor too.

Threading: called where the port is called (the scheduler's contract: one send at a
time); the monitor's post takes its lock for a heap push and never blocks on audio.
"""

from __future__ import annotations

import mido


class AudioTap:
    def __init__(self, port, monitor):
        self._port = port
        self._monitor = monitor
        self.name = getattr(port, "name", "audio tap")
        self.timed = bool(getattr(port, "timed", False))
        self.withdrawable = self.timed and bool(getattr(port, "withdrawable", False))
        self._send = getattr(port, "send", None) or port

    def send(self, msg: mido.Message, at_ns: int = 0, event_id: int = 0) -> None:
        if self.withdrawable:
            self._send(msg, at_ns, event_id)
        elif self.timed:
            self._send(msg, at_ns)
        else:
            self._send(msg)
            at_ns = 0
        self._monitor.post(msg, at_ns, (id(self), event_id) if self.withdrawable and event_id else None)

    def withdraw(self, from_ns: int = 0):
        answer = self._port.withdraw(from_ns)
        if answer:
            self._monitor.forget((id(self), event_id) for event_id in answer[0])
        return answer

    def __getattr__(self, name):  # close, reattach, counters...: the port's own
        return getattr(self._port, name)


def tap_outputs(outputs: dict, monitor) -> dict:
    """``outputs`` with each distinct port wrapped once (names sharing a port share its tap)."""
    taps: dict[int, AudioTap] = {}
    return {name: taps.setdefault(id(port), AudioTap(port, monitor)) for name, port in outputs.items()}
