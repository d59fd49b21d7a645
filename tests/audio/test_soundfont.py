"""Finding a SoundFont (assistant.audio.soundfont): the one asked for, else the system's."""

import pytest

from assistant.audio import soundfont
from assistant.errors import UserError


def test_the_file_asked_for_wins_and_a_missing_one_says_where_to_get_one(tmp_path):
    mine = tmp_path / "mine.sf2"
    mine.write_bytes(b"RIFF")
    assert soundfont.find_soundfont(mine) == mine
    with pytest.raises(UserError) as err:
        soundfont.find_soundfont(tmp_path / "gone.sf2")
    assert "gone.sf2" in str(err.value) and "timgm6mb-soundfont" in str(err.value)


def test_else_the_first_system_soundfont_found_else_none(monkeypatch, tmp_path):
    second = tmp_path / "b.sf2"
    second.write_bytes(b"RIFF")
    monkeypatch.setattr(soundfont, "SYSTEM_SOUNDFONTS", (str(tmp_path / "a.sf2"), str(second)))
    assert soundfont.find_soundfont() == second.resolve()
    monkeypatch.setattr(soundfont, "SYSTEM_SOUNDFONTS", (str(tmp_path / "a.sf2"),))
    assert soundfont.find_soundfont(None) is None
