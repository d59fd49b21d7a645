"""The model card's reproduction commands."""

from assistant.train.card import _total_seconds, _training_commands


def test_a_model_started_from_another_gets_both_cycles_commands_in_order():
    first = {"command": "midi-assistant train --epochs 12 --out runs/a/melody.onnx", "seconds": 600.0}
    second = {"command": "midi-assistant train --init-from models/melody.onnx --epochs 6 --out runs/b/melody.onnx",
              "seconds": 300.0, "init_from": {"file": "models/melody.onnx", "sha256": "ab" * 32, "training": first}}
    assert _training_commands(second) == [
        "midi-assistant train --epochs 12 --out runs/a/melody.onnx",
        "midi-assistant train --init-from runs/a/melody.onnx --epochs 6 --out runs/b/melody.onnx"]
    assert _total_seconds(second) == 900.0
    assert _training_commands(first) == [first["command"]] and _total_seconds(first) == 600.0
