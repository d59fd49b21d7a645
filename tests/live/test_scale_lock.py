"""Scale lock: masks on the melody model's logits, never corrections afterwards.

Key lock: no generated note outside the key, over many samples at a high
temperature. Chord lock: notes that begin on the given strong-beat ticks use only
those chord tones. And the engine wires both from its tracked (or fixed) key and
the accompaniment's chords.
"""

import mido
import pytest

from assistant.music.keys import Key
from assistant.live.model import Constraints, MelodyModel
from assistant.music import Note

from tiny_model import fake_engine


@pytest.fixture(scope="module")
def model():
    return MelodyModel.load()


def feed_chromatic_phrase(model):
    model.reset()
    for i, p in enumerate([60, 61, 63, 66, 68, 70, 71, 73]):  # deliberately full of out-of-key notes
        model.feed(Note(i * 6, 6, p))


@pytest.mark.parametrize("key", [Key(0, False), Key(9, True), Key(6, False)])
def test_key_lock_never_lets_an_out_of_key_note_through(model, key):
    allowed = key.pitch_classes()
    feed_chromatic_phrase(model)
    notes = 0
    for seed in range(6):
        for alt in model.suggest(bars=4, n=8, temperature=2.5, top_p=1.0, seed=seed, start_tick=48,
                                 constraints=Constraints(allowed, 36, 96)):
            for n in alt.notes:
                assert n.pitch % 12 in allowed and 36 <= n.pitch <= 96
                notes += 1
    assert notes > 200


def test_unlocked_generation_does_leave_the_key(model):
    """The check above can fail: without the lock the same calls produce out-of-key notes."""
    allowed = Key(0, False).pitch_classes()
    feed_chromatic_phrase(model)
    outside = sum(n.pitch % 12 not in allowed
                  for seed in range(3)
                  for alt in model.suggest(bars=4, n=8, temperature=2.5, top_p=1.0, seed=seed, start_tick=48)
                  for n in alt.notes)
    assert outside > 10


def test_chord_lock_keeps_strong_beat_notes_on_chord_tones(model):
    c_major, g7 = frozenset({0, 4, 7}), frozenset({7, 11, 2, 5})
    strong = {48: c_major, 72: c_major, 96: g7, 120: g7}
    key = Key(0, False).pitch_classes()
    feed_chromatic_phrase(model)
    on_strong = 0
    for seed in range(6):
        for alt in model.suggest(bars=2, n=8, temperature=2.0, top_p=1.0, seed=seed, start_tick=48,
                                 constraints=Constraints(key, 36, 96, tuple(strong.items()))):
            for n in alt.notes:
                if n.onset in strong:
                    assert n.pitch % 12 in strong[n.onset]
                    on_strong += 1
                else:
                    assert n.pitch % 12 in key
    assert on_strong >= 12


def make_engine(tmp_path, **overrides):
    engine, clock, _ = fake_engine(tmp_path, {"suggest.channel": 1, "suggest.accepted_channel": 5, **overrides},
                                   seed=1)
    return engine, clock


def test_engine_locks_to_the_fixed_key_and_to_the_accompaniments_chords(tmp_path):
    engine, clock = make_engine(tmp_path, **{"harmony.key": "D minor", "suggest.scale_lock": "key"})
    req = engine.melody._request("call", 96, 0)
    assert req.constraints.pitch_classes == Key(2, True).pitch_classes()
    assert req.constraints.onset_pitch_classes == ()
    engine.generator.cancel()

    engine, clock = make_engine(tmp_path, **{"suggest.scale_lock": "chord", "suggest.mode": "call+harmony",
                                             "harmony.pattern": "bar"})
    for i, p in enumerate([60, 64, 67, 72, 67, 64, 60, 62, 64, 65, 67, 69]):
        tick = i * 12
        engine._handle(mido.Message("note_on", note=p, velocity=80), clock.ns_at(tick))
        for t in range(tick, tick + 12):
            clock.set_time(clock.ns_at(t))
            engine._tick(clock.now())
        engine._handle(mido.Message("note_on", note=p, velocity=0), clock.ns_at(tick + 12))
    assert engine.accompanist.current is not None
    req = engine.melody._request("call", 192, clock.now())
    strong = dict(req.constraints.onset_pitch_classes)
    assert set(strong) == {192, 216, 240, 264}  # beats 1 and 3 of the suggestion's two bars
    forecast = dict(engine.accompanist.chords_for([], clock.meters, engine.accompanist.current.beat.tick + 1, 288))
    for tick, pcs in strong.items():
        from assistant.music.harmony import chord_pitch_classes

        assert pcs == frozenset(chord_pitch_classes(forecast[tick]))
    assert req.constraints.pitch_classes is not None  # in the key elsewhere
    engine.generator.cancel()
