"""Fine-tuning the melody model: the mechanism ``eval --cv`` and ``adapt`` share.

Small networks (exported to real ONNX files where a command needs one) keep these fast;
the shipped model's figures are the card's business (test_shipped_model)."""

from __future__ import annotations

import random

import mido
import pytest

torch = pytest.importorskip("torch")  # the train extra; test_dependencies requires it in CI

from assistant.music import Melody, Meter, Note  # noqa: E402
from assistant.train.melody_net import MelodyNet, NetConfig  # noqa: E402


def tune(seed: int, notes: int = 24) -> Melody:
    rng = random.Random(seed)
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    pitch, out, t = 3, [], 0
    for _ in range(notes):
        pitch = min(7, max(0, pitch + rng.choice((-1, 1, 1, -2, 2))))
        d = rng.choice((6, 12, 12, 24))
        out.append(Note(t, d, scale[pitch], 90))
        t += d
    return Melody(f"tune{seed}", "test", out, [Meter(0)])


def small_net(seed: int = 0) -> MelodyNet:
    """A tiny network whose every tensor differs, as a trained one's do (the exporter
    shares equal constants, such as freshly zeroed biases, under one name)."""
    torch.manual_seed(seed)
    net = MelodyNet(NetConfig(d_model=32, n_layers=1, n_heads=2, dropout=0.0))
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return net


def test_fine_tuning_lowers_the_loss_on_the_melodies_it_sees():
    from assistant.train.finetune import FineTuneSettings, fine_tune

    melodies = [tune(s) for s in range(4)]
    net = small_net()
    report = fine_tune(net, melodies, FineTuneSettings(lr=3e-3, max_epochs=40, patience=100, batch_tokens=1024),
                       valid=melodies)
    assert report["best"]["loss"] < report["start"]["loss"] - 0.5, report
    # the weights kept are the best ones: measured again, the same loss
    from assistant.train.train_melody import TokenData, evaluate_loss

    again = evaluate_loss(net, TokenData(melodies, 256), torch.device("cpu"), 1024)
    assert again["loss"] == pytest.approx(report["best"]["loss"], abs=1e-5)


def test_fine_tuning_never_keeps_weights_worse_than_the_start_on_its_validation():
    from assistant.train.finetune import FineTuneSettings, fine_tune

    net = small_net()
    start = {k: v.clone() for k, v in net.state_dict().items()}
    # a learning rate that wrecks the network: the start is kept
    report = fine_tune(net, [tune(s) for s in range(4)], FineTuneSettings(lr=50.0, max_epochs=3, patience=2),
                       valid=[tune(9)])
    assert report["best"]["loss"] <= report["start"]["loss"]
    if report["best"] == report["start"]:
        assert all(torch.equal(start[k], v) for k, v in net.state_dict().items())


def test_the_cv_folds_are_disjoint_cover_the_set_and_are_the_ppm_reproductions(monkeypatch):
    from assistant.train import ppm_eval
    from assistant.train.cross_validation import cv_folds

    melodies = [tune(s, notes=8) for s in range(23)]
    folds = cv_folds(melodies, 10)
    flat = [i for f in folds for i in f]
    assert len(folds) == 10 and sorted(flat) == list(range(23)) and len(set(flat)) == 23
    seen = []
    real = ppm_eval.folds_of
    monkeypatch.setattr(ppm_eval, "folds_of", lambda *a, **k: seen.append(real(*a, **k)) or seen[-1])
    ppm_eval.reproduce_set(melodies, biases=(ppm_eval.DEFAULT_BIAS,), methods=(ppm_eval.DEFAULT_METHOD,))
    assert seen == [folds]


def test_the_network_rebuilt_from_its_onnx_file_computes_what_the_file_does(tmp_path):
    import numpy as np
    import onnxruntime as ort

    from assistant.train.export import export_melody
    from assistant.train.onnx_weights import load_melody_net

    net = small_net(3)
    path = tmp_path / "m.onnx"
    export_melody(net, path)
    rebuilt = load_melody_net(path)
    tokens = np.array([[1, 150, 300, 160, 305]], dtype=np.int64)
    zeros = np.zeros_like(tokens)
    past = np.zeros((1, 1, 2, 0, 16), dtype=np.float32)
    onnx_logits = ort.InferenceSession(str(path)).run(None, {"tokens": tokens, "positions": zeros, "meters": zeros,
                                                             "past_keys": past, "past_values": past})[0]
    with torch.no_grad():
        torch_logits = rebuilt(torch.from_numpy(tokens), torch.from_numpy(zeros), torch.from_numpy(zeros))[0].numpy()
    assert np.abs(onnx_logits - torch_logits).max() < 1e-4
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), rebuilt.state_dict().values()))


def write_tune(path, melody: Melody, channel: int = 0, drums: bool = False) -> None:
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    events = []
    for n in melody.notes:
        events.append((n.onset * 40, mido.Message("note_on", note=n.pitch, velocity=90, channel=9 if drums else channel)))
        events.append(((n.onset + n.duration) * 40, mido.Message("note_off", note=n.pitch, channel=9 if drums else channel)))
    now = 0
    for t, msg in sorted(events, key=lambda e: (e[0], e[1].type == "note_on")):
        track.append(msg.copy(time=t - now))
        now = t
    midi.save(str(path))


@pytest.fixture(scope="module")
def base_model(tmp_path_factory):
    from assistant.train.export import export_melody

    path = tmp_path_factory.mktemp("base") / "base.onnx"
    export_melody(small_net(5), path)
    return path


def test_adapt_writes_a_model_and_card_that_run_loads_and_that_scores(tmp_path, base_model, capsys):
    from assistant.cli import main
    from assistant.evaluation.melody import neural_note_bits
    from assistant.live.model import MelodyModel

    folder = tmp_path / "mine"
    folder.mkdir()
    for s in range(12):
        write_tune(folder / f"tune{s:02d}.mid", tune(s))
    (folder / "notes.txt").write_text("not a MIDI file, and not picked up from a folder")
    out = tmp_path / "my-model.onnx"
    code = main(["adapt", str(folder), "-o", str(out), "--minutes", "0.1", "--model", str(base_model)])
    captured = capsys.readouterr()
    err = captured.err
    assert code == 0, err
    assert captured.out == ""  # the exporter's progress goes to stderr: stdout stays for JSON (eval --cv)
    assert "held-out 1 files" in err  # a tenth of 12 files, rounded, by file
    card = (tmp_path / "my-model.md").read_text()
    assert "12 MIDI files used" in card and "tune00.mid" in card
    model = MelodyModel.load(out)  # verified against the card beside it
    bits = neural_note_bits(model, tune(99))
    assert len(bits["joint"]) == 24 and all(b > 0 for b in bits["joint"])


@pytest.mark.parametrize("case", ["not-midi", "no-notes", "drums-only", "empty-folder", "missing"])
def test_adapt_on_nothing_usable_says_so_in_one_line_and_exits_2(tmp_path, base_model, capsys, case):
    from assistant.cli import main

    target = tmp_path / "input.mid"
    if case == "not-midi":
        target.write_text("hello")
    elif case == "no-notes":
        mido.MidiFile().save(str(target))
    elif case == "drums-only":
        write_tune(target, tune(1), drums=True)
    elif case == "empty-folder":
        target = tmp_path / "folder"
        target.mkdir()
        (target / "readme.txt").write_text("no MIDI here")
    code = main(["adapt", str(target), "-o", str(tmp_path / "out.onnx"), "--model", str(base_model)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert lines[-1].startswith("midi-assistant adapt: error: no usable MIDI file in ")
    assert len(lines) == 2 and str(target) in lines[0]  # the skipped input, named with why
    assert not (tmp_path / "out.onnx").exists()


def test_cross_validation_scores_every_melody_once_with_models_tuned_on_the_other_folds(base_model):
    from assistant.train.cross_validation import cross_validate_set
    from assistant.train.finetune import FineTuneSettings

    melodies = [tune(s, notes=12) for s in range(9)]
    entry = cross_validate_set(melodies, base_model, 3, FineTuneSettings(max_epochs=2, batch_tokens=1024))
    assert sum(f["test_melodies"] for f in entry["fine_tuning"]["per_fold"]) == 9
    for name in ("neural", "neural_stm", "ppm_ltm_stm"):
        assert set(entry[name]) >= {"pitch_given_rhythm_bits", "joint_bits"}, entry[name]
