"""Model files and their cards (assistant.live.model_file): the sha256 check at load, and one
line naming the file and the repair for anything wrong. Loading a verified model is
tests/live/test_model.py's."""

import hashlib

import pytest

from assistant.errors import UserError
from assistant.live.model_file import card_checksums, card_of, has_card, sha256_of, verify_model_file


def _model(tmp_path, data=b"onnx bytes", stated=None):
    path = tmp_path / "melody.onnx"
    path.write_bytes(data)
    digest = stated or hashlib.sha256(data).hexdigest()
    (tmp_path / "melody.md").write_text(f"| file | sha256 |\n| --- | --- |\n| `melody.onnx` | `{digest}` |\n"
                                        f"| melody.int8.onnx | {'0' * 64} |\n")
    return path


def test_the_card_beside_a_model_states_each_files_sha256(tmp_path):
    path = _model(tmp_path)
    assert card_of(tmp_path / "melody.int8.onnx") == tmp_path / "melody.md"
    assert card_checksums(card_of(path)) == {"melody.onnx": sha256_of(path), "melody.int8.onnx": "0" * 64}
    verify_model_file(path)


def test_a_corrupt_missing_or_unstated_file_is_one_line_with_the_repair(tmp_path):
    path = _model(tmp_path, stated="f" * 64)
    errors = []
    with pytest.raises(UserError, match=r"is corrupt \(sha256 ") as err:
        verify_model_file(path)
    errors.append(err.value)
    (tmp_path / "melody.md").unlink()
    with pytest.raises(UserError, match="model card .* is missing") as err:
        verify_model_file(path)
    errors.append(err.value)
    path.unlink()
    with pytest.raises(UserError, match="model file .* is missing") as err:
        verify_model_file(path)
    errors.append(err.value)
    assert all("rebuild it with the command in its card" in str(e) and "\n" not in str(e) for e in errors)
    other = tmp_path / "harmony.onnx"
    other.write_bytes(b"y")
    (tmp_path / "harmony.md").write_text("no table here")
    with pytest.raises(UserError, match="states no sha256 for harmony.onnx"):
        verify_model_file(other)


def test_a_model_without_a_card_is_said_once_on_stderr(tmp_path, capsys):
    lone = tmp_path / "trained.onnx"
    lone.write_bytes(b"z")
    assert not has_card(lone, "eval")
    assert capsys.readouterr().err.strip() == f"eval: {lone} has no card beside it (trained.md): its sha256 is not checked"
    assert has_card(_model(tmp_path), "eval")
