"""The event vocabulary: exact round trips, grammar, features."""

import numpy as np
import pytest

from assistant.music import tokens as T
from assistant.music import Melody, Meter, Note


def melody(notes, meters=None):
    return Melody("test#1", "test", [Note(*n) for n in notes], meters or [Meter(0)])


def test_token_ids_partition_the_vocabulary():
    assert T.rest_token(1) == T.REST_BASE and T.rest_token(T.MAX_REST) == T.DUR_BASE - 1
    assert T.dur_token(1) == T.DUR_BASE and T.dur_token(T.MAX_DUR) == T.PITCH_BASE - 1
    assert T.pitch_token(0) == T.PITCH_BASE and T.pitch_token(127) == T.VOCAB_SIZE - 1
    assert T.VOCAB_SIZE == 418
    assert [T.kind_of(t) for t in (T.PAD, T.BOS, T.rest_token(5), T.dur_token(5), T.pitch_token(5))] == [
        T.KIND_SPECIAL, T.KIND_SPECIAL, T.KIND_REST, T.KIND_DUR, T.KIND_PITCH]
    assert [T.value_of(t) for t in (T.rest_token(7), T.dur_token(9), T.pitch_token(61))] == [7, 9, 61]


def test_encode_exact_tokens_with_pickup_and_rest():
    # 4/4 with a quarter-note pickup: downbeats at -36, 12, 60, ...
    m = melody([(0, 12, 67), (12, 18, 72), (30, 6, 71), (48, 12, 69)], [Meter(-36, 4, 4)])
    e = T.encode(m)
    assert e.tokens.tolist() == [
        T.BOS,
        T.rest_token(36), T.dur_token(12), T.pitch_token(67),  # pickup: 36 ticks after the downbeat
        T.dur_token(18), T.pitch_token(72),
        T.dur_token(6), T.pitch_token(71),
        T.rest_token(12), T.dur_token(12), T.pitch_token(69),
    ]
    # features: bar position of the cursor after each token
    assert e.positions.tolist() == [0, 36, 36, 0, 0, 18, 18, 24, 36, 36, 0]
    assert set(e.meters.tolist()) == {T.METERS.index((4, 4))}
    assert e.note_index.tolist() == [-1, 0, 0, 0, 1, 1, 2, 2, 3, 3, 3]


@pytest.mark.parametrize("meters", [[Meter(0, 4, 4)], [Meter(-12, 3, 4)], [Meter(0, 6, 8), Meter(72, 2, 4)]])
def test_round_trip_is_exact_on_the_grid(meters):
    rng = np.random.default_rng(7)
    notes, t = [], int(rng.integers(0, 30))
    for _ in range(200):
        dur = int(rng.integers(1, T.MAX_DUR + 1))
        notes.append((t, dur, int(rng.integers(0, 128))))
        t += dur + int(rng.choice([0, 0, 0, 1, 5, 95, 96, 97, 250]))
    m = melody(notes, meters)
    e = T.encode(m)
    start = T.start_cursor(meters, notes[0][0]).tick
    assert T.decode(e.tokens, meters, start) == m.notes


def test_long_rests_chain_and_long_notes_clamp():
    m = melody([(0, 12, 60), (12 + 200, 300, 62)])
    e = T.encode(m)
    assert e.tokens.tolist()[3:6] == [T.rest_token(96), T.rest_token(96), T.rest_token(8)]
    back = T.decode(e.tokens, m.meters, 0)
    assert back[1] == Note(212, T.MAX_DUR, 62)


def test_grammar_mask_after_duration_allows_only_pitches():
    after_dur = T.grammar_mask(T.dur_token(12))
    assert after_dur[T.PITCH_TOKENS].all() and not after_dur[:T.PITCH_BASE].any()
    after_pitch = T.grammar_mask(T.pitch_token(60))
    assert after_pitch[T.REST_TOKENS].all() and after_pitch[T.DUR_TOKENS].all()
    assert not after_pitch[T.PITCH_TOKENS].any() and not after_pitch[:T.REST_BASE].any()


def test_monophonic_keeps_highest_and_cuts_overlaps():
    notes = [Note(0, 24, 60), Note(0, 12, 64), Note(12, 12, 62), Note(30, 6, 65)]
    assert T.monophonic(notes) == [Note(0, 12, 64), Note(12, 12, 62), Note(30, 6, 65)]


def test_transpose_tokens_moves_only_pitches_and_guards_range():
    e = T.encode(melody([(0, 12, 60), (12, 12, 127)]))
    up = T.transpose_tokens(e.tokens[:4], 5)
    assert up.tolist() == [T.BOS, T.dur_token(12), T.pitch_token(65), T.dur_token(12)]
    with pytest.raises(ValueError):
        T.transpose_tokens(e.tokens, 1)


def test_unknown_meter_gets_the_other_id():
    assert T.meter_id(Meter(0, 7, 8)) == len(T.METERS)
    assert T.meter_id(Meter(0, 6, 8)) == T.METERS.index((6, 8))
