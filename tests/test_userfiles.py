"""The user's files (assistant.userfiles): where they live, reading and writing them safely."""

import os
import tomllib

import pytest

from assistant.errors import UserError
from assistant.userfiles import (check_writable_folder, config_dir, dump_toml, read_toml, toml_string,
                                 write_atomically)


def test_the_config_folder_is_the_variable_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("MIDI_ASSISTANT_CONFIG_DIR", str(tmp_path / "mine"))
    assert config_dir() == tmp_path / "mine"
    monkeypatch.delenv("MIDI_ASSISTANT_CONFIG_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_dir() == tmp_path / "xdg" / "midi-assistant"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config_dir() == tmp_path / ".config" / "midi-assistant"


@pytest.mark.parametrize("content, says", [(b"[a\nb = 1", "is not valid TOML"), (b"a = '\xff'", "is not UTF-8"),
                                           (None, "cannot read"), ("folder", "is a folder")])
def test_an_unreadable_toml_file_is_one_line_naming_it_and_the_fix(tmp_path, content, says):
    path = tmp_path / "x.toml"
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError) as err:
        read_toml(path)
    assert says in str(err.value) and "x.toml" in str(err.value) and "\n" not in str(err.value)


def test_written_toml_reads_back_exactly_escapes_included(tmp_path):
    tables = {"ports": {"input": 'Say "hi"\\\n\t\x01', "odd key": [1, 2.5, True]}, "a.b": {"x": False}}
    text = dump_toml(tables)
    assert tomllib.loads(text) == tables
    assert toml_string('a"b') == '"a\\"b"'
    with pytest.raises(TypeError):
        dump_toml({"t": {"x": None}})


def test_an_atomic_write_replaces_the_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "session.toml"
    path.write_bytes(b"old")
    write_atomically(path, b"new")
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["session.toml"]
    with pytest.raises(OSError):
        write_atomically(tmp_path / "missing" / "f", b"x")
    assert os.listdir(tmp_path) == ["session.toml"]


def test_a_missing_output_folder_is_named_before_anything_is_done(tmp_path):
    check_writable_folder(None, tmp_path / "fine.mid")
    with pytest.raises(UserError, match="folder .*nowhere does not exist"):
        check_writable_folder(tmp_path / "ok.wav", tmp_path / "nowhere" / "x.mid")
