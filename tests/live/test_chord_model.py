"""The chord model's ONNX step equals the PyTorch network's full forward; features transpose."""

import numpy as np
import pytest

from assistant.live.chord_model import (
    AHEAD_KNOWN, BOS_CHORD, FEATURE_SIZE, ChordModel, causal, piece_inputs, transpose_features,
)
from assistant.music.harmony import CHORD_VOCAB_SIZE, NO_CHORD, transpose_chord
from assistant.music import Melody, Meter, Note
from tiny_model import need


@pytest.fixture(scope="module")
def random_net_and_file(tmp_path_factory):
    torch = need("torch")
    from assistant.train.chord_net import ChordNet, ChordNetConfig, export_chord_net

    torch.manual_seed(0)
    net = ChordNet(ChordNetConfig(hidden=48, layers=2, dropout=0.0)).eval()
    path = tmp_path_factory.mktemp("chord") / "harmony.onnx"
    export_chord_net(net, path)
    return net, path


def test_incremental_onnx_steps_equal_the_full_forward(random_net_and_file):
    torch = need("torch")
    net, path = random_net_and_file
    model = ChordModel.load(path, verify=False)
    rng = np.random.default_rng(1)
    prev = rng.integers(0, CHORD_VOCAB_SIZE + 1, (3, 40))
    feats = rng.random((3, 40, FEATURE_SIZE)).astype(np.float32)
    with torch.no_grad():
        full = torch.log_softmax(net(torch.from_numpy(prev), torch.from_numpy(feats)), dim=-1).numpy()
    for b in range(3):
        np.testing.assert_allclose(model.forward_all(prev[b], feats[b]), full[b], atol=1e-4)
    np.testing.assert_allclose(model.forward_batch(prev, feats), full, atol=1e-4)
    # step() advances the same state, peek() does not
    model.reset()
    for t in range(5):
        logp = model.step(feats[0, t], previous=int(prev[0, t]))
        np.testing.assert_allclose(logp, full[0, t], atol=1e-4)
    state = model.state.copy()
    model.peek(3, feats[0, 5])
    np.testing.assert_array_equal(model.state, state)


@pytest.mark.parametrize("tower,to_chords", [(False, False), (True, False), (True, True)])
def test_melody_head_steps_equal_the_full_forward(tmp_path, tower, to_chords):
    torch = need("torch")
    from assistant.train.chord_net import ChordNet, ChordNetConfig, export_chord_net

    torch.manual_seed(0)
    net = ChordNet(ChordNetConfig(hidden=32, layers=2, dropout=0.0, melody=True, melody_tower=tower,
                                  tower_to_chords=to_chords)).eval()
    path = tmp_path / "harmony.onnx"
    export_chord_net(net, path)
    model = ChordModel.load(path, verify=False)
    assert model.has_melody and model.state_layers == 2 + tower
    rng = np.random.default_rng(2)
    prev = rng.integers(0, CHORD_VOCAB_SIZE + 1, (2, 30))
    feats = rng.random((2, 30, FEATURE_SIZE)).astype(np.float32)
    with torch.no_grad():
        chords, melody = net.forward_heads(torch.from_numpy(prev), torch.from_numpy(feats))
        chords, melody = torch.log_softmax(chords, -1).numpy(), torch.log_softmax(melody, -1).numpy()
    logp, mel = model.forward_batch_full(prev, feats)
    np.testing.assert_allclose(logp, chords, atol=1e-4)
    np.testing.assert_allclose(mel, melody, atol=1e-4)
    model.reset()
    for t in range(4):
        model.step(feats[1, t], previous=int(prev[1, t]))
        np.testing.assert_allclose(model.melody, melody[1, t], atol=1e-4)
    if tower:  # the melody tower does not hear the chords
        other = model.forward_batch_full(np.full_like(prev, BOS_CHORD), feats)[1]
        np.testing.assert_allclose(other, mel, atol=1e-5)


def test_choose_chord_with_a_melody_prediction():
    from assistant.live.chord_model import choose_chord
    from assistant.music.harmony import parse_chord_name as chord

    logp = np.log(np.full(CHORD_VOCAB_SIZE, 1.0 / CHORD_VOCAB_SIZE))
    logp[chord("C")] += 0.5  # C is the most likely chord,
    logp[chord("Bm7b5")] += 0.3  # then a seventh chord whose seventh is A,
    logp[chord("F")] += 0.2  # then F
    melody = np.log(np.full(12, 1e-4))
    melody[9] = 0.0  # but the melody will almost surely be an A
    assert choose_chord(logp) == chord("C")
    assert choose_chord(logp, melody, weight=1.0) == chord("F")  # a seventh earns nothing by its seventh
    assert choose_chord(logp, melody, weight=1.0, seventh_credit=1.0) == chord("Bm7b5")
    logp[0] = np.log(0.6)
    assert choose_chord(logp, melody) == NO_CHORD


def test_features_of_a_transposed_melody_are_the_transposed_features():
    notes = [Note(0, 6, 60), Note(6, 6, 62), Note(12, 24, 64), Note(36, 12, 67)]
    beats = [(t, NO_CHORD) for t in range(0, 48, 12)]
    _, feats, _ = piece_inputs(Melody("a", "a", notes, [Meter(0)]), beats)
    up = [Note(n.onset, n.duration, n.pitch + 5) for n in notes]
    _, feats_up, _ = piece_inputs(Melody("b", "b", up, [Meter(0)]), beats)
    np.testing.assert_array_equal(transpose_features(feats, 5), feats_up)
    assert feats[2, AHEAD_KNOWN] == 1.0 and causal(feats)[:, AHEAD_KNOWN:].sum() == 0
    for c in range(CHORD_VOCAB_SIZE):
        assert transpose_chord(transpose_chord(c, 5), 7) == c
    _, _, chords = piece_inputs(Melody("a", "a", notes, [Meter(0)]), [(0, 5), (12, 9)])
    assert list(chords) == [5, 9]
    prev, _, _ = piece_inputs(Melody("a", "a", notes, [Meter(0)]), [(0, 5), (12, 9)])
    assert list(prev) == [BOS_CHORD, 5]


def test_choosing_for_a_batch_of_rows_equals_choosing_each_row():
    from assistant.live.chord_model import choose_chord, choose_chords

    rng = np.random.default_rng(3)
    logits = rng.normal(0, 3, (40, CHORD_VOCAB_SIZE))
    logits[::7, 0] = 30.0  # rows where N.C. is more likely than not
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    m = rng.normal(0, 2, (40, 12))
    melody = m - np.log(np.exp(m).sum(axis=1, keepdims=True))
    for mel, kw in ((None, {}), (melody, {}), (melody, {"weight": 1.0, "seventh_credit": 1.0})):
        rows = choose_chords(logp, mel, **kw)
        assert list(rows) == [choose_chord(logp[k], None if mel is None else mel[k], **kw) for k in range(40)]
    assert (choose_chords(logp, melody) == NO_CHORD).sum() == 6
