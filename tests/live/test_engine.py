"""The engine with a fake clock and in-process ports: exact event lists in ticks.

No thread is started: the test drives the engine thread's handlers, drains the
generator on its own thread and dispatches the scheduler by hand, so every
assertion is exact and deterministic. The melody lane's own behaviour (answers,
alternatives, accept, ghost mode, the prepared answer) is tests/live/test_melody_lane.py.
"""

import time

import mido
import pytest

from engine_phrases import PHRASE, answer, make_engine, play
from tiny_model import at


def test_panic_closes_sounding_notes_and_drops_the_plan(tmp_path, tiny_model_path):
    engine, clock, ports = make_engine(tmp_path, tiny_model_path)
    answer(engine, clock)
    first = engine.snapshot().alternatives[0][0]
    engine.scheduler.dispatch_due(at(clock, first.onset))
    sent = [(m.type, m.note) for m in ports.output.messages() if m.type == "note_on"]
    assert sent == [("note_on", first.pitch)]
    ports.output.clear()
    engine.perform("panic")
    assert engine.scheduler.pending() == []
    msgs = ports.output.messages()
    assert ("note_off", first.pitch) in [(m.type, getattr(m, "note", None)) for m in msgs]
    assert any(m.type == "control_change" and m.control == 123 and m.channel == 0 for m in msgs)
    assert engine.scheduler.sounding() == set()


def test_transport_stop_silences_and_no_answer_while_stopped(tmp_path, tiny_model_path):
    engine, clock, ports = make_engine(tmp_path, tiny_model_path)
    answer(engine, clock)
    first = engine.snapshot().alternatives[0][0]
    engine.scheduler.dispatch_due(at(clock, first.onset))
    clock.stop()
    assert engine.scheduler.sounding() == set()
    assert engine.scheduler.pending("suggestion") == []
    # while stopped, a phrase end asks for nothing
    engine2, clock2, _ = make_engine(tmp_path / "b", tiny_model_path)
    play(engine2, clock2)
    clock2.stop()
    clock2.set_time(clock2.now() + 2_000_000_000)
    engine2._tick(clock2.now())
    engine2.generator.drain()
    assert engine2.snapshot().alternatives == []


def test_notes_played_while_the_transport_is_stopped_are_not_fed(tmp_path, tiny_model_path):
    engine, clock, ports = make_engine(tmp_path, tiny_model_path)
    clock.stop()
    play(engine, clock)
    assert engine.generator._queue.empty()
    assert engine.session.player_notes == []
    clock.continue_()
    play(engine, clock, [(100, 12, 60, 90)])
    assert not engine.generator._queue.empty()


@pytest.mark.parametrize("learn", [True, False])
def test_the_players_constant_offset_is_the_daws_alignment_and_only_their_variation_is_feel(
        tmp_path, tiny_model_path, learn):
    """A DAW sends its notes 8 ms off its clock, every note: no feel to copy (micro-timing
    0), but everything we send is placed 8 ms the other way, so the DAW records it on the
    grid. Copying the constant as feel put a real DAW's recording 21 ms early."""
    engine, clock, ports = make_engine(tmp_path, tiny_model_path,
                                       **{"humanise.timing_ms": 10.0, "ports.learn_offset": learn})
    late = 8_000_000
    for onset, dur, pitch, vel in PHRASE:
        clock.set_time(clock.ns_at(onset) + late)
        engine._handle(mido.Message("note_on", note=pitch, velocity=vel), clock.now())
        clock.set_time(clock.ns_at(onset + dur) + late)
        engine._handle(mido.Message("note_off", note=pitch, velocity=0), clock.now())
    engine._tick(at(clock, 61))
    engine.generator.drain()
    events = engine.scheduler.pending("suggestion")
    assert events
    assert {e.offset_ns for e in events} == {0}  # a consistent player: no spread, no feel
    assert engine.scheduler.placement_ns == (-late if learn else 0)
    assert engine.scheduler.send_lead_ns("out") >= (late if learn else 0) + engine.scheduler.lead_ns


def test_tap_tempo_sets_the_internal_clock(tmp_path, tiny_model_path):
    engine, clock, ports = make_engine(tmp_path, tiny_model_path)
    for k in range(4):
        clock.set_time(10_000_000_000 + k * 600_000_000)  # taps 0.6 s apart: 100 BPM
        engine.perform("tap_tempo")
    assert clock.tempo_bpm == pytest.approx(100.0)


def test_a_failure_while_handling_one_message_is_logged_and_the_engine_goes_on(tmp_path, tiny_model_path, caplog):
    """One bad message (here: the capture raising on it) must not end the engine thread:
    it is logged with the message, counted, and the next messages are handled."""
    engine, clock, ports = make_engine(tmp_path, tiny_model_path)
    real_feed = engine.capture.feed
    bad = mido.Message("note_on", note=1, velocity=1)

    def feed(msg, ns):
        if msg == bad:
            raise IndexError("a fault in the capture")
        return real_feed(msg, ns)

    engine.capture.feed = feed
    engine.start()
    try:
        engine.inbox.put((bad, at(clock, 0)))
        engine.inbox.put((mido.Message("note_on", note=60, velocity=90), at(clock, 1)))
        for _ in range(300):
            if engine.messages_received == 2:
                break
            time.sleep(0.01)
        assert engine.alive and engine.errors == 1 and engine.messages_received == 2
        assert [p for _, p in engine.capture.held] == [60]
    finally:
        engine.stop()
    assert any("IndexError while handling Message('note_on'" in r.getMessage() and "note=1" in r.getMessage()
               for r in caplog.records)
    assert engine.error is None
