"""Controller messages and a user config folder for the tests of controls and MIDI learn
(tests/app/test_controls.py, tests/commands/test_learn.py)."""

import mido
import pytest

from assistant.userfiles import CONFIG_DIR_ENV


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    """The user's config folder, empty, in the test's own folder."""
    folder = tmp_path / "user"
    monkeypatch.setenv(CONFIG_DIR_ENV, str(folder))
    return folder


def cc(control, value=127, channel=0):
    return mido.Message("control_change", control=control, value=value, channel=channel)


def note_on(note, velocity=100, channel=0):
    return mido.Message("note_on", note=note, velocity=velocity, channel=channel)
