"""A tiny training run on a handful of real melodies: train, export, load, generate."""

import json

import pytest

from assistant.cli import build_parser
from tiny_model import need

pytestmark = pytest.mark.train


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """Checkpoints go to the test's folder, never to the user's cache."""
    monkeypatch.setenv("MIDI_ASSISTANT_CACHE", str(tmp_path / "cache"))


def _kinder_corpus(n_train=10, n_valid=2):
    from assistant.train.corpus import Corpus, corpus_dir, extract_tunes

    tunes = extract_tunes(str(corpus_dir() / "essenFolksong" / "kinder0.abc"), "kinder")[:n_train + n_valid]
    return tunes, Corpus(train=tunes[:n_train], valid=tunes[n_train:], eval_sets={},
                         report={"kinder": {"melodies": n_train + n_valid}})


def test_tiny_training_run_exports_a_model_the_runtime_can_use(tmp_path):
    need("torch")
    need("music21")
    from assistant.live.model import MelodyModel
    from assistant.train.train_melody import run

    tunes, corpus = _kinder_corpus()
    out = tmp_path / "melody.onnx"
    args = build_parser("train").parse_args(
        ["train", "--preset", "tiny", "--max-steps", "6", "--batch-tokens", "512", "--context", "64",
         "--evals-per-epoch", "1", "--out", str(out), "--seed", "1"])
    assert run(args, corpus=corpus) == 0
    info = json.loads(out.with_suffix(".train.json").read_text())
    assert info["steps"] == 6 and info["train_melodies"] == 10
    assert info["best_valid"]["loss"] < 6.0  # below uniform over the vocabulary (ln 418 = 6.04)
    model = MelodyModel.load(out, verify=False)
    for note in tunes[11].notes[:8]:
        model.feed(note)
    alts = model.suggest(bars=1, n=2, seed=0)
    assert all(a.notes for a in alts)


def test_oversample_names_must_be_training_collections():
    from assistant.errors import UserError
    from assistant.music import Melody, Note
    from assistant.train.train_melody import oversampled

    mels = [Melody("a", "bach", [Note(0, 12, 60)]), Melody("b", "oneills1850", [Note(0, 12, 62)])]
    assert [m.id for m in oversampled(mels, ["bach=3"])] == ["a", "a", "a", "b"]
    with pytest.raises(UserError, match="no training collection named chorales"):
        oversampled(mels, ["chorales=2"])
    with pytest.raises(UserError, match="COLLECTION=K"):
        oversampled(mels, ["bach=x"])


def test_a_run_stopped_after_every_step_and_resumed_trains_what_an_unbroken_run_trains(tmp_path):
    need("torch")
    need("music21")
    import torch

    from assistant.train.train_melody import run

    _, corpus = _kinder_corpus()
    common = ["train", "--preset", "tiny", "--max-steps", "6", "--batch-tokens", "512", "--context", "64",
              "--evals-per-epoch", "2", "--epochs", "3", "--seed", "3", "--no-export", "--threads", "1"]
    unbroken = tmp_path / "unbroken" / "melody.onnx"
    assert run(build_parser("train").parse_args(common + ["--out", str(unbroken)]), corpus=corpus) == 0

    resumed = tmp_path / "resumed" / "melody.onnx"
    args = build_parser("train").parse_args(common + ["--out", str(resumed), "--stop-after-minutes", "0"])
    codes = []
    while not codes or codes[-1] == 3:
        codes.append(run(args, corpus=corpus))
        assert len(codes) <= 7
    assert codes == [3] * 5 + [0]  # one step per invocation, the sixth finishes
    saved = list((tmp_path / "cache" / "checkpoints").glob("*.pt"))
    assert saved == []  # a finished run leaves no checkpoint: the same command trains afresh

    a = json.loads(unbroken.with_suffix(".train.json").read_text())
    b = json.loads(resumed.with_suffix(".train.json").read_text())
    drop = ("seconds",)
    assert [{k: v for k, v in h.items() if k not in drop} for h in a["history"]] == \
        [{k: v for k, v in h.items() if k not in drop} for h in b["history"]]
    wa = torch.load(unbroken.with_suffix(".pt"))["state_dict"]
    wb = torch.load(resumed.with_suffix(".pt"))["state_dict"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_a_run_started_from_a_model_begins_where_that_model_is(tmp_path):
    """--init-from takes the file's weights and size: with a learning rate of 0 the first
    validation equals the base model's best; a size that disagrees with the file is refused."""
    need("torch")
    need("music21")
    from assistant.errors import UserError
    from assistant.train.train_melody import run

    _, corpus = _kinder_corpus()
    common = ["train", "--preset", "tiny", "--batch-tokens", "512", "--context", "64", "--evals-per-epoch", "1",
              "--seed", "1", "--threads", "1"]
    base = tmp_path / "base" / "melody.onnx"
    assert run(build_parser("train").parse_args(common + ["--max-steps", "6", "--out", str(base)]), corpus=corpus) == 0
    base_loss = json.loads(base.with_suffix(".train.json").read_text())["best_valid"]["loss"]

    again = tmp_path / "again" / "melody.onnx"
    args = build_parser("train").parse_args(
        ["train", "--init-from", str(base), "--lr", "0", "--max-steps", "1", "--out", str(again)] + common[3:])
    assert run(args, corpus=corpus) == 0
    info = json.loads(again.with_suffix(".train.json").read_text())
    assert info["config"]["d_model"] == json.loads(base.with_suffix(".train.json").read_text())["config"]["d_model"]
    assert info["history"][0]["loss"] == pytest.approx(base_loss, abs=1e-4)
    assert base_loss < 5.9  # the base learnt something: a fresh start (about 6.0) would fail the line above

    wrong = build_parser("train").parse_args(["train", "--init-from", str(base), "--d-model", "512",
                                              "--out", str(tmp_path / "x.onnx")] + common[3:])
    with pytest.raises(UserError, match="--d-model"):
        run(wrong, corpus=corpus)
