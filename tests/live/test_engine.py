"""The engine with a fake clock and in-process ports: exact event lists in ticks.

No thread is started: the test drives the engine thread's handlers, drains the
generator on its own thread and dispatches the scheduler by hand, so every
assertion is exact and deterministic.
"""

import time

import mido
import pytest

from assistant.live.scheduler import note_events

from tiny_model import at, fake_engine

PHRASE = [(0, 12, 60, 90), (12, 12, 64, 70), (24, 12, 67, 100), (36, 12, 72, 80)]  # ends at tick 48


def make_engine(tmp_path, model_path, **overrides):
    settings = {"suggest.phrase_end_beats": 1.0, "suggest.answer_on": "bar", "suggest.bars": 1,
                "suggest.alternatives": 3, "humanise.velocity_spread": 0, "suggest.register": "fixed",
                "suggest.channel": 1, "suggest.accepted_channel": 5}
    return fake_engine(tmp_path, {**settings, **overrides}, model_path)


def play(engine, clock, phrase=PHRASE):
    for onset, dur, pitch, vel in phrase:
        engine._handle(mido.Message("note_on", note=pitch, velocity=vel), at(clock, onset))
        engine._handle(mido.Message("note_on", note=pitch, velocity=0), at(clock, onset + dur))  # vel-0 off


def summary(events):
    return [(e.tick, e.output, e.msg.type, e.msg.channel, e.msg.note, e.msg.velocity) for e in events]


def expected_events(engine, alternative, channel, output="out", offset=0):
    snap = engine.snapshot()
    notes = [n for n in snap.alternatives[alternative]]
    velocity = sorted(v for *_, v in PHRASE)[len(PHRASE) // 2]
    placed = [type(n)(n.onset + offset, n.duration, n.pitch, velocity) for n in notes]
    return sorted(summary(note_events(placed, channel, output)))


def answer(engine, clock):
    play(engine, clock)
    engine._tick(at(clock, 59))
    assert not engine.generator._queue.empty()  # the notes were fed as they completed
    engine.generator.drain()
    assert engine.snapshot().alternatives == []  # one beat of silence has not passed yet
    engine._tick(at(clock, 60))  # one beat of silence after the last note-off: phrase end
    engine.generator.drain()


def test_call_answer_starts_on_the_next_bar_and_is_exactly_the_suggestion(tmp_path, tiny_model_path):
    engine, clock, ports = make_engine(tmp_path, tiny_model_path)
    answer(engine, clock)
    snap = engine.snapshot()
    assert len(snap.alternatives) == 3 and all(snap.alternatives)
    assert snap.suggestion_start == 96
    pending = sorted(summary(engine.scheduler.pending("suggestion")))
    assert pending == expected_events(engine, 0, channel=0)
    assert pending[0][0] == 96 and all(96 <= e[0] <= 144 for e in pending)
    ons = [e for e in pending if e[2] == "note_on"]
    assert all(e[5] == 90 for e in ons)  # velocity follows the player (median, no spread)


def test_next_alternative_replaces_the_future(tmp_path, tiny_model_path):
    engine, clock, ports = make_engine(tmp_path, tiny_model_path)
    answer(engine, clock)
    engine.perform("next")
    assert sorted(summary(engine.scheduler.pending("suggestion"))) == expected_events(engine, 1, channel=0)
    engine.perform("previous")
    assert sorted(summary(engine.scheduler.pending("suggestion"))) == expected_events(engine, 0, channel=0)


def test_accept_plays_on_the_accepted_port_from_the_next_bar_and_captures(tmp_path, tiny_model_path):
    engine, clock, ports = make_engine(tmp_path, tiny_model_path)
    answer(engine, clock)
    expected = expected_events(engine, 0, channel=4, output="accepted")
    engine.perform("accept")
    assert engine.scheduler.pending("suggestion") == []
    assert sorted(summary(engine.scheduler.pending("accepted"))) == expected  # next bar (96): same ticks
    # the capture file on disk already holds exactly those notes, on the accepted track
    mid = mido.MidiFile(str(engine.session.path))
    track = next(t for t in mid.tracks if any(getattr(m, "name", "") == "accepted" for m in t))
    now, ons = 0, []
    for msg in track:
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            ons.append((now * 12 // mid.ticks_per_beat, msg.note))
    assert ons == [(e[0], e[4]) for e in expected if e[2] == "note_on"]
    engine.stop()


def test_accept_later_moves_the_whole_suggestion_to_the_next_bar(tmp_path, tiny_model_path):
    engine, clock, ports = make_engine(tmp_path, tiny_model_path)
    answer(engine, clock)
    expected = expected_events(engine, 0, channel=4, output="accepted", offset=48)
    at(clock, 100)  # the answer is already playing
    engine.perform("accept")
    assert sorted(summary(engine.scheduler.pending("accepted"))) == expected
    engine.stop()


def test_accept_control_change_is_consumed_not_captured(tmp_path, tiny_model_path):
    engine, clock, ports = make_engine(tmp_path, tiny_model_path)
    answer(engine, clock)
    engine._handle(mido.Message("control_change", control=20, value=127), clock.now())
    assert engine.snapshot().accepted_count == 1
    assert engine.scheduler.pending("accepted")


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


@pytest.mark.parametrize("audition", [True, False])
def test_ghost_mode_refreshes_at_each_bar_audible_only_with_audition(tmp_path, tiny_model_path, audition):
    engine, clock, ports = make_engine(tmp_path, tiny_model_path, **{"suggest.mode": "ghost",
                                                                      "suggest.audition": audition})
    play(engine, clock)
    engine._tick(at(clock, 50))  # a new bar (48) since the last look: refresh for the next bar
    engine.generator.drain()
    snap = engine.snapshot()
    assert snap.alternatives and snap.suggestion_start == 96
    pending = engine.scheduler.pending("suggestion")
    if audition:
        assert sorted(summary(pending)) == expected_events(engine, 0, channel=0)
    else:
        assert pending == []
    engine._tick(at(clock, 70))  # same bar: no new request
    assert engine.generator._queue.empty()


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


def test_micro_timing_copies_the_players_spread_within_bounds(tmp_path, tiny_model_path):
    engine, clock, ports = make_engine(tmp_path, tiny_model_path, **{"humanise.timing_ms": 5.0})
    for k, (onset, dur, pitch, vel) in enumerate(PHRASE):
        off = 8_000_000 + (4_000_000 if k % 2 else -4_000_000)  # 8 ms late, +-4 ms
        clock.set_time(clock.ns_at(onset) + off)
        engine._handle(mido.Message("note_on", note=pitch, velocity=vel), clock.now())
        clock.set_time(clock.ns_at(onset + dur))
        engine._handle(mido.Message("note_off", note=pitch, velocity=0), clock.now())
    engine._tick(at(clock, 61))
    engine.generator.drain()
    offsets = [e.offset_ns for e in engine.scheduler.pending("suggestion")]
    assert offsets and all(abs(o) <= 5_000_000 for o in offsets)
    # varied around the grid, not around the constant (which the old copy put at the +5 ms bound)
    draws = [engine.planner.timing_offset_ns() for _ in range(400)]
    assert abs(sum(draws) / len(draws)) < 1_000_000 and min(draws) < -2_000_000 < 2_000_000 < max(draws)
    # a lean with a spread is a person's timing, not a DAW's constant: nothing placed apart
    assert engine.scheduler.placement_ns == 0


def test_tap_tempo_sets_the_internal_clock(tmp_path, tiny_model_path):
    engine, clock, ports = make_engine(tmp_path, tiny_model_path)
    for k in range(4):
        clock.set_time(10_000_000_000 + k * 600_000_000)  # taps 0.6 s apart: 100 BPM
        engine.perform("tap_tempo")
    assert clock.tempo_bpm == pytest.approx(100.0)


def test_answer_is_prepared_during_the_silence_and_promoted_at_the_phrase_end(tmp_path, tiny_model_path):
    engine, clock, ports = make_engine(tmp_path, tiny_model_path)
    play(engine, clock)  # the last note-off at tick 48 opens the silence; the phrase ends at 60
    engine._tick(at(clock, 50))
    engine.generator.drain()
    assert engine.melody._spec_result is None  # too early: most silences end with the next note
    engine._tick(at(clock, 55))  # half a beat before the end: the answer for bar 96 is prepared
    engine.generator.drain()
    assert engine.melody._spec_result is not None and engine.melody._spec_result.complete
    assert engine.scheduler.pending("suggestion") == []  # held, not played
    engine._tick(at(clock, 60))  # the phrase really ends
    assert engine.generator._queue.empty()  # no new request: the prepared answer is used
    pending = sorted(summary(engine.scheduler.pending("suggestion")))
    assert pending and pending[0][0] == 96
    assert pending == expected_events(engine, 0, channel=0)
    assert len(engine.latencies_ms) == 1


def test_playing_on_cancels_the_prepared_answer(tmp_path, tiny_model_path):
    engine, clock, ports = make_engine(tmp_path, tiny_model_path)
    play(engine, clock)
    engine._tick(at(clock, 55))
    engine.generator.drain()
    assert engine.melody._spec_result is not None
    play(engine, clock, [(57, 12, 74, 90)])  # the player goes on before the phrase ends
    assert engine.melody._spec_result is None
    engine.generator.drain()
    engine._tick(at(clock, 69))
    assert engine.scheduler.pending("suggestion") == []  # nothing from the stale preparation
    engine._tick(at(clock, 81))  # one beat after the new last note-off (69)
    engine.generator.drain()
    pending = engine.scheduler.pending("suggestion")
    assert pending and min(e.tick for e in pending) == 96


@pytest.mark.parametrize("lead_ms, start", [(0, 72), (600, 84)])
def test_answer_starts_no_sooner_than_the_output_can_take_it(tmp_path, tiny_model_path, lead_ms, start):
    """The answer's first beat must be further away than the output's lead and hand-over
    (long JACK periods); otherwise its first notes would go out late. A tick is 41.7 ms."""
    engine, clock, _ = make_engine(tmp_path, tiny_model_path, **{"suggest.answer_on": "beat"})
    engine.scheduler.lead_ns = lead_ms * 1_000_000
    answer(engine, clock)  # the phrase ends at tick 60
    assert engine.snapshot().suggestion_start == start
    assert min(e.tick for e in engine.scheduler.pending("suggestion")) == start


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
