"""The native client's input thread (assistant.midi.jack_reader) on a stand-in of the C
side: what reaches each port's inbox, with its stamp; a failure restarts the loop; a dead
server ends it; input the C side dropped is reported. tests/midi/test_jackmidi.py runs it
on the real module through a JACK server."""

import ctypes
import logging
import queue
import threading
import time

import mido

from assistant.midi.jack_reader import JackReader

WIDTH = 16


class StandInLib:
    """The C functions the reader calls: events queued by the test come out of mj_read."""

    def __init__(self):
        self.events: queue.SimpleQueue = queue.SimpleQueue()  # (port, bytes, ns)
        self.alive = True
        self.woken = threading.Event()

    def mj_slot_data(self):
        return WIDTH

    def mj_wait(self, h, ms):
        deadline = time.monotonic() + ms / 1000
        while self.events.empty() and self.alive and not self.woken.is_set() and time.monotonic() < deadline:
            time.sleep(0.001)
        return 0 if self.events.empty() else 1

    def mj_read(self, h, data, sizes, ports, times, cap):
        n = 0
        while n < cap and not self.events.empty():
            port, raw, ns = self.events.get()
            ctypes.memmove(ctypes.addressof(data) + n * WIDTH, raw, len(raw))
            sizes[n], ports[n], times[n] = len(raw), port, ns
            n += 1
        return n

    def mj_alive(self, h):
        return int(self.alive)

    def mj_wake(self, h):
        self.woken.set()


class StandInClient:
    def __init__(self):
        self._lib, self._h = StandInLib(), None
        self.lost = {"dropped": 0, "oversize": 0}

    def counters(self):
        return dict(self.lost)


def _decode(raw):
    if raw == b"\xff\xff":
        raise ValueError("a decoder bug")
    return mido.Message.from_bytes(raw)


def _wait_for(box, timeout=5.0):
    return box.get(timeout=timeout)


def test_each_event_reaches_its_ports_inbox_and_neither_a_decoder_nor_the_loop_failing_stops_it(caplog):
    client = StandInClient()
    reader = JackReader(client)
    inbox = queue.SimpleQueue()
    reader.inboxes[3] = (inbox, _decode)
    try:
        client._lib.events.put((3, b"\x90\x3c\x40", 111))
        client._lib.events.put((7, b"\x90\x3e\x40", 222))  # a port without an inbox: dropped
        msg, ns = _wait_for(inbox)
        assert (msg.type, msg.note, ns) == ("note_on", 60, 111)
        with caplog.at_level(logging.ERROR, logger="assistant.midi.jackmidi"):
            client._lib.events.put((3, b"\xff\xff", 333))  # its decoder raises
            client._lib.events.put((3, b"\x80\x3c\x00", 444))  # read in the same batch
            msg, ns = _wait_for(inbox)
        assert (msg.type, msg.note, ns) == ("note_off", 60, 444)  # the rest of the batch is not lost
        assert reader.decode_failures == 1 and "cannot decode ff ff" in caplog.text
        client.counters = None  # now the loop itself fails (at its next quiet report)...
        reader.WAIT_MS = 10
        deadline = time.monotonic() + 5
        while reader.restarts < 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert reader.restarts >= 1
        client.counters = lambda: dict(client.lost)
        client._lib.events.put((3, b"\x90\x40\x40", 555))
        msg, ns = _wait_for(inbox)
        assert (msg.note, ns) == (64, 555)  # ...and reads on once restarted
    finally:
        reader.stop()
    assert not reader._thread.is_alive() and inbox.empty()


def test_a_dead_server_ends_the_reader_and_dropped_input_is_reported(caplog):
    client = StandInClient()
    with caplog.at_level(logging.WARNING, logger="assistant.midi.jackmidi"):
        reader = JackReader(client)
        client.lost["dropped"] = 5
        reader.WAIT_MS = 10
        client._lib.alive = False
        reader._thread.join(5)
    assert reader.dead and not reader._thread.is_alive()
    assert "shut our client down" in caplog.text and "5 messages dropped: the input queue was full" in caplog.text
