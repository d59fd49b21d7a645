"""The melody lane (assistant.live.melody_lane) in a fake-clock engine: what it answers,
when, on which port, and what accepting, switching and playing on do, as exact event lists
in ticks (see tests/engine_phrases.py)."""

import mido
import pytest

from engine_phrases import PHRASE, answer, expected_events, make_engine, play, summary
from tiny_model import at


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
