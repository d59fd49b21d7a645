"""In-process stand-ins for MIDI ports, for fast deterministic tests.

:class:`FakeOutput` records every message sent (with the time it was sent, from
its ``now`` function) and can forward it, like a cable, into an inbox.
:class:`FakeInput` plays the MIDI thread's part: ``deliver`` stamps and enqueues
``(msg, ns)`` exactly as the real input callback does. :func:`fake_ports` returns
a :class:`assistant.midi.ports.MidiPorts` built from them, so engine code runs
unchanged against fakes.

Threading: ``send`` and ``deliver`` may be called from any thread; the record
list is appended under a lock and read with :meth:`FakeOutput.messages`.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable

import mido

from ..clock import now_ns
from .ports import MidiPorts, PortNames


class FakeOutput:
    """An output port that records ``(msg, ns)`` and optionally forwards to ``inbox``."""

    def __init__(self, name: str = "fake out", now: Callable[[], int] = now_ns,
                 forward: queue.SimpleQueue | None = None):
        self.name = name
        self.now = now
        self.forward = forward
        self.sent: list[tuple[mido.Message, int]] = []
        self.closed = False
        self._lock = threading.Lock()

    def send(self, msg: mido.Message) -> None:
        if self.closed:
            raise OSError(f"fake output {self.name!r} is closed")
        ns = self.now()
        with self._lock:
            self.sent.append((msg, ns))
        if self.forward is not None:
            self.forward.put((msg, ns))

    def messages(self) -> list[mido.Message]:
        with self._lock:
            return [m for m, _ in self.sent]

    def clear(self) -> None:
        with self._lock:
            self.sent.clear()

    def close(self) -> None:
        self.closed = True


class FakeTimedOutput:
    """A timed, withdrawable output like our native JACK port, on a test's clock.

    ``send(msg, at_ns, event_id)`` holds the message until :meth:`play_until` reaches
    its time (``at_ns`` 0: after everything held); events within ``commit_ns`` of
    ``now()`` are committed and :meth:`withdraw` leaves them, as the real port leaves
    those of the cycle the server is in. ``played`` lists ``(msg, at_ns)`` in the order
    they went out. One thread at a time (tests).
    """

    timed = True
    withdrawable = True

    def __init__(self, now: Callable[[], int], commit_ns: int = 2_000_000, name: str = "fake timed"):
        self.name = name
        self.now = now
        self.commit_ns = commit_ns
        self.held: list[tuple[int, int, mido.Message, int]] = []  # (at_ns, seq, msg, id), time order
        self.played: list[tuple[mido.Message, int]] = []
        self.withdrawals: list[tuple[int, list[int]]] = []  # (cutoff, ids) of each withdraw
        self.closed = False
        self._seq = 0

    def send(self, msg: mido.Message, at_ns: int = 0, event_id: int = 0) -> None:
        if self.closed:
            raise OSError(f"fake output {self.name!r} is closed")
        self._seq += 1
        at = at_ns if at_ns > 0 else max([self.now()] + [h[0] for h in self.held])
        self.held.append((at, self._seq, msg, event_id if at_ns > 0 else -1))
        self.held.sort(key=lambda h: (h[0], h[1]))

    def withdraw(self, from_ns: int = 0):
        cutoff = max(from_ns, self.now() + self.commit_ns)
        out = [h for h in self.held if h[3] != -1 and h[0] >= cutoff]
        self.held = [h for h in self.held if not (h[3] != -1 and h[0] >= cutoff)]
        ids = [h[3] for h in out]
        self.withdrawals.append((cutoff, ids))
        return ids, cutoff

    def play_until(self, ns: int) -> None:
        while self.held and self.held[0][0] <= ns:
            at, _, msg, _ = self.held.pop(0)
            self.played.append((msg, at))

    def close(self) -> None:
        self.closed = True


class FakeInput:
    """An input port whose 'MIDI thread' is whoever calls :meth:`deliver`."""

    def __init__(self, inbox: queue.SimpleQueue, name: str = "fake in", now: Callable[[], int] = now_ns):
        self.name = name
        self.inbox = inbox
        self.now = now
        self.closed = False

    def deliver(self, msg: mido.Message, ns: int | None = None) -> None:
        """Stamp (with ``ns`` if given) and enqueue, like the real callback."""
        if not self.closed:
            self.inbox.put((msg, self.now() if ns is None else ns))

    def close(self) -> None:
        self.closed = True


def fake_pair(name: str = "fake", now: Callable[[], int] = now_ns) -> tuple[FakeOutput, FakeInput]:
    """An output and an input joined by a cable: what is sent arrives, stamped, in the input's inbox."""
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    return FakeOutput(name, now, forward=inbox), FakeInput(inbox, name, now)


def fake_ports(names: PortNames = PortNames(), now: Callable[[], int] = now_ns) -> MidiPorts:
    """A :class:`MidiPorts` of fakes: feed ``ports.input.deliver(msg)``, read ``ports.output.sent``."""
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    out = FakeOutput(names.output, now)
    acc = FakeOutput(names.accepted, now) if names.accepted else out
    harmony = FakeOutput(names.harmony, now) if names.harmony else out
    return MidiPorts("fake", inbox, FakeInput(inbox, names.input, now),
                     {"out": out, "accepted": acc, "harmony": harmony})
