"""Helpers for the engine's exact tests (tests/live/test_engine.py, test_melody_lane.py): a
fake-clock engine with in-process ports, a phrase played into it, and the answer it gives.
No thread is started: the test drives the engine thread's handlers, drains the generator
on its own thread and dispatches the scheduler by hand."""

import mido

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
