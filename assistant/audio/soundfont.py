"""Finding a General MIDI SoundFont: the one asked for, else the usual system paths.

Any thread; reads only file metadata.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UserError

# Debian/Ubuntu (timgm6mb-soundfont, fluid-soundfont-gm, musescore-general-soundfont),
# Fedora, Homebrew's fluid-synth, and the user's own folder
SYSTEM_SOUNDFONTS = (
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf3/default-GM.sf3",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/opt/homebrew/share/soundfonts/default.sf2",
    "/usr/local/share/soundfonts/default.sf2",
    "~/.local/share/soundfonts/default.sf2",
)

WHERE_TO_GET_ONE = ("install a General MIDI SoundFont (Debian/Ubuntu: apt-get install timgm6mb-soundfont; "
                    "or any .sf2 file, e.g. GeneralUser GS) and give it with --soundfont FILE or audio.soundfont")


def find_soundfont(asked: str | os.PathLike | None = None) -> Path | None:
    """The SoundFont to play with: ``asked`` (which must exist), else the first system
    one found, else None. Raises UserError for an ``asked`` file that is not there."""
    if asked:
        path = Path(asked).expanduser()
        if not path.is_file():
            raise UserError(f"SoundFont {str(path)!r} not found: give an existing .sf2 file, or {WHERE_TO_GET_ONE}")
        return path
    for candidate in SYSTEM_SOUNDFONTS:
        path = Path(candidate).expanduser()
        if path.is_file():
            return path.resolve()
    return None
