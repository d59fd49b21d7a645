"""The native JACK client's one input thread (``midi-in``): waits, stamps, parses, enqueues.

Thread: its own; it blocks in the C ``mj_wait`` until the process callback has input
(no polling), decodes each event with its port's decoder (junk is counted and dropped)
and puts ``(msg, ns)`` on the port's inbox; nothing else. Started and stopped by
:class:`assistant.midi.jackmidi.JackClient` on the main thread.
"""

from __future__ import annotations

import ctypes
import logging
import queue
import threading
from typing import Callable

log = logging.getLogger("assistant.midi.jackmidi")


class JackReader:
    """The client's one ``midi-in`` thread: waits for input, stamps, parses, enqueues.

    Every input port of the client shares one ring, so one thread reads it all and
    hands each message to its port's inbox (a port without an inbox drops it).
    """

    WAIT_MS = 1000  # at most this long between reports of dropped input; a stop or a dead server wakes it at once

    def __init__(self, client: JackClient):
        self._client = client
        self.inboxes: dict[int, tuple[queue.SimpleQueue, Callable]] = {}
        self._stop = threading.Event()
        self._lost = {"dropped": 0, "oversize": 0}
        self.restarts = 0  # times the read loop failed and was restarted
        self.decode_failures = 0  # events whose decoder raised (a bug: WireDecoder never does)
        self.dead = False  # the server shut the client down
        self._thread = threading.Thread(target=self._run, name="midi-in", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        """Runs the read loop; anything it raises is logged and the loop starts again, so
        one bad event can never make the assistant deaf. Returns when stopped or when the
        server has shut the client down."""
        while not self._stop.is_set():
            try:
                if self._read_loop():
                    return
            except Exception:
                self.restarts += 1
                log.exception("JACK MIDI input: the reader failed and was restarted")
                self._stop.wait(0.01)

    def _read_loop(self) -> bool:
        """Wait, read, decode, enqueue until stopped (False) or the client died (True)."""
        lib, h, inboxes = self._client._lib, self._client._h, self.inboxes
        cap, width = 256, lib.mj_slot_data()
        data = ctypes.create_string_buffer(cap * width)
        sizes, ports, times = (ctypes.c_int32 * cap)(), (ctypes.c_int32 * cap)(), (ctypes.c_int64 * cap)()
        lost = self._lost
        while not self._stop.is_set():
            if not lib.mj_wait(h, self.WAIT_MS):  # a quiet moment: report what the C side lost
                self._report_losses(lost)
            while (n := lib.mj_read(h, data, sizes, ports, times, cap)) > 0:
                raw = data.raw
                for k in range(n):
                    target = inboxes.get(ports[k])
                    if target is None:
                        continue
                    try:
                        msg = target[1](raw[k * width:k * width + sizes[k]])
                    except Exception:  # the decoder's bug must not cost the rest of the batch
                        self._decode_failed(raw[k * width:k * width + sizes[k]])
                        continue
                    if msg is not None:
                        target[0].put((msg, times[k]))
            if not lib.mj_alive(h):
                self.dead = True
                log.error("JACK shut our client down (server stopped?): no MIDI in or out until it is back")
                return True
        self._report_losses(lost)
        return False

    def _decode_failed(self, raw: bytes) -> None:
        """An event its decoder raised on: counted, the first few logged, the batch read on."""
        self.decode_failures += 1
        if self.decode_failures <= 5:
            log.exception("JACK MIDI input: cannot decode %s; dropped, the rest is read on", raw.hex(" "))

    def _report_losses(self, lost: dict[str, int]) -> None:
        """Log input the C side had to drop since the last report (reader thread)."""
        counters = self._client.counters()
        for key, why in (("dropped", "the input queue was full"), ("oversize", "longer than a slot (sysex)")):
            if counters[key] > lost[key]:
                log.warning("JACK input: %d messages dropped: %s", counters[key] - lost[key], why)
                lost[key] = counters[key]

    def stop(self) -> None:
        self._stop.set()
        self._client._lib.mj_wake(self._client._h)
        self._thread.join()
