"""``soundfont``: a General MIDI SoundFont of this machine (Debian: timgm6mb-soundfont).

The README's test command installs one; a machine without one skips the tests that
need it, and CI (``CI=true``) fails them instead.
"""

import os

import pytest

from assistant.audio.soundfont import find_soundfont


@pytest.fixture
def soundfont():
    found = find_soundfont()
    if found is None:
        message = "no General MIDI SoundFont: apt-get install timgm6mb-soundfont"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    if os.environ.get("CI") == "true":
        import tinysoundfont  # noqa: F401  (the test command installs the audio extra)
    else:
        pytest.importorskip("tinysoundfont")
    return found
