"""A tiny training run on a handful of real melodies: train, export, load, generate."""

import json

import pytest

from assistant.cli import build_parser
from tiny_model import need

pytestmark = pytest.mark.train


def test_tiny_training_run_exports_a_model_the_runtime_can_use(tmp_path):
    need("torch")
    need("music21")
    from assistant.model import MelodyModel
    from assistant.train.corpus import Corpus, corpus_dir, extract_tunes
    from assistant.train.train_melody import run

    tunes = extract_tunes(str(corpus_dir() / "essenFolksong" / "kinder0.abc"), "kinder")[:12]
    corpus = Corpus(train=tunes[:10], valid=tunes[10:], eval_sets={}, report={"kinder": {"melodies": 12}})
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
