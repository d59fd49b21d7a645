"""MIDI on the wire: the bytes of one event from a port become a mido Message, or junk.

Strict at the API, tolerant on the wire. An event is one complete MIDI message, as
every backend we read delivers them (JACK events, python-rtmidi callbacks and polls,
in-process fakes): a status byte, then exactly the data bytes its kind takes, each
below 0x80; a system exclusive runs from F0 to F7. Anything else (running status, a
truncated or over-long message, a stray data byte, an undefined status such as F4,
F5, F9 or FD, a sysex without its F7) is junk: counted and dropped, the first few
examples logged with the port's name, never raised.

Threading contract: a :class:`WireDecoder` belongs to one input and is called from
that input's reader thread only (python-rtmidi's callback thread, or our ``midi-in``
thread); it never blocks and never raises. Its counters are plain integers that any
thread may read (a read may lag by a message).
"""

from __future__ import annotations

import logging

import mido

log = logging.getLogger(__name__)

CHANNEL_LENGTH = {0x80: 3, 0x90: 3, 0xA0: 3, 0xB0: 3, 0xC0: 2, 0xD0: 2, 0xE0: 3}
"""Bytes of a channel message, by its status's high nibble."""

SYSTEM_LENGTH = {0xF1: 2, 0xF2: 3, 0xF3: 2, 0xF6: 1, 0xF8: 1, 0xFA: 1, 0xFB: 1, 0xFC: 1, 0xFE: 1, 0xFF: 1}
"""Bytes of a system common or realtime message (F0 sysex apart; F4 F5 F7 F9 FD undefined)."""


def expected_length(status: int) -> int | None:
    """How many bytes a message with this status byte has (None: sysex or undefined)."""
    if status < 0xF0:
        return CHANNEL_LENGTH.get(status & 0xF0)
    return SYSTEM_LENGTH.get(status)


def junk_reason(data: bytes) -> str | None:
    """Why ``data`` is not exactly one well-formed MIDI message, or None if it is one."""
    if not data:
        return "empty"
    status = data[0]
    if status < 0x80:
        return "no status byte (running status or a stray data byte)"
    if status == 0xF0:
        if len(data) < 2 or data[-1] != 0xF7:
            return "system exclusive without its end byte F7"
        if any(b >= 0x80 for b in data[1:-1]):
            return "status byte inside a system exclusive"
        return None
    length = expected_length(status)
    if length is None:
        return f"undefined status byte {status:02X}"
    if len(data) != length:
        return f"{len(data)} bytes where status {status:02X} takes {length}"
    if any(b >= 0x80 for b in data[1:]):
        return "status byte where a data byte belongs"
    return None


class WireDecoder:
    """One input's decoder: ``decoder(data)`` is the message or None; counts and reports junk."""

    EXAMPLES = 5  # junk events logged in full; after that only counted

    def __init__(self, port_name: str):
        self.port_name = port_name
        self.messages = 0
        self.junk = 0

    def __call__(self, data) -> mido.Message | None:
        try:
            raw = bytes(data)
        except (TypeError, ValueError):
            raw = b""
        reason = junk_reason(raw)
        msg = None
        if reason is None:
            try:
                msg = mido.Message.from_bytes(raw)
            except Exception as err:  # mido disagrees with our table: still junk, never a crash
                reason = f"mido: {err}"
        if msg is None:
            self.junk += 1
            if self.junk <= self.EXAMPLES:
                more = "; later junk is only counted" if self.junk == self.EXAMPLES else ""
                log.warning("MIDI input %r: dropped junk %s (%s): check the device or cable sending it%s",
                            self.port_name, raw[:16].hex(" ") or "(no bytes)", reason, more)
            return None
        self.messages += 1
        return msg

    def counters(self) -> dict[str, int]:
        return {"messages_in": self.messages, "junk_dropped": self.junk}
