"""The wire decoder: any bytes become a message or counted junk, never an exception."""

import logging

import mido
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.midi.wire import WireDecoder, junk_reason


@settings(max_examples=3000, deadline=None)
@given(st.binary(min_size=0, max_size=12))
def test_any_bytes_become_one_exact_message_or_junk(data):
    decoder = WireDecoder("fuzz")
    msg = decoder(data)
    if msg is None:
        assert decoder.counters() == {"messages_in": 0, "junk_dropped": 1}
        assert junk_reason(data) is not None
    else:  # nothing is guessed: the message is exactly the bytes
        assert bytes(msg.bytes()) == data
        assert decoder.counters() == {"messages_in": 1, "junk_dropped": 0}


@settings(max_examples=500, deadline=None)
@given(st.lists(st.integers(min_value=-5, max_value=300), max_size=6))
def test_lists_of_any_ints_never_raise(values):
    assert WireDecoder("fuzz")(values) is None or all(0 <= v < 256 for v in values)


CHANNEL = [mido.Message("note_on", channel=3, note=60, velocity=0), mido.Message("note_off", note=1),
           mido.Message("polytouch", note=5, value=6), mido.Message("control_change", control=64, value=127),
           mido.Message("program_change", program=9), mido.Message("aftertouch", value=3),
           mido.Message("pitchwheel", pitch=-8192), mido.Message("sysex", data=[1, 2, 3]),
           mido.Message("songpos", pos=16383), mido.Message("quarter_frame", frame_type=2, frame_value=5),
           mido.Message("song_select", song=3), mido.Message("tune_request"), mido.Message("clock"),
           mido.Message("start"), mido.Message("continue"), mido.Message("stop"),
           mido.Message("active_sensing"), mido.Message("reset")]


@pytest.mark.parametrize("msg", CHANNEL, ids=lambda m: m.type)
def test_every_kind_of_message_decodes(msg):
    assert WireDecoder("x")(msg.bytes()) == msg


@pytest.mark.parametrize("data", [b"", b"\x40", b"\xe0\x10", b"\x90\x3c", b"\x90\x3c\x40\x00", b"\xf4", b"\xf5",
                                  b"\xf9", b"\xfd", b"\xf7", b"\xf0\x01\x02", b"\xf0\x01\x90\xf7",
                                  b"\x90\x80\x40", b"\xc0", b"\xf2\x01", b"\xf8\x00"])
def test_junk_is_dropped_with_a_reason(data):
    assert junk_reason(data) is not None
    assert WireDecoder("x")(data) is None


def test_first_junk_examples_are_logged_with_the_port_then_only_counted(caplog):
    decoder = WireDecoder("MIDI Assistant In")
    with caplog.at_level(logging.WARNING, logger="assistant.midi.wire"):
        for _ in range(20):
            decoder(b"\xe0\x10")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == WireDecoder.EXAMPLES
    assert "'MIDI Assistant In'" in lines[0] and "e0 10" in lines[0] and "2 bytes where status E0 takes 3" in lines[0]
    assert "only counted" in lines[-1]
    assert decoder.counters() == {"messages_in": 0, "junk_dropped": 20}
