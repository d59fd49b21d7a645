"""A tiny melody network exported to ONNX once per test session, with its card.

Tests of the run-time model and of the commands use it so that they need no
trained weights; it needs torch (the ``train`` extra, which CI installs).
"""

import hashlib
import importlib
import os

import pytest


def need(module: str):
    """Import ``module``; skip without it, except in CI (CI=true), where its absence fails."""
    if os.environ.get("CI") == "true":
        return importlib.import_module(module)
    return pytest.importorskip(module)


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory):
    torch = need("torch")
    from assistant.train.export import export_melody
    from assistant.train.melody_net import MelodyNet, NetConfig

    torch.manual_seed(0)
    net = MelodyNet(NetConfig(d_model=32, n_layers=2, n_heads=2, dropout=0.0))
    # random weights are near-uniform; sharpen them so that sampling has something to follow
    with torch.no_grad():
        net.tok.weight.mul_(40)
    path = tmp_path_factory.mktemp("model") / "melody.onnx"
    export_melody(net, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (path.parent / "melody.md").write_text(f"| file | sha256 |\n|---|---|\n| `melody.onnx` | `{digest}` |\n")
    return path
