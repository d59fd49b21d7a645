"""Loading the native JACK module (assistant.midi.jack_library): every exported C function
declared for ctypes, and one line with the fix when the module is not there."""

import re
from pathlib import Path

import pytest

from assistant.midi import jack_library

SOURCE = Path(jack_library.__file__).with_name("_jackmidi.c")


def test_the_built_module_loads_and_every_function_it_exports_is_declared():
    assert jack_library.available() is None, jack_library.available()  # the suite's setup builds it
    lib = jack_library.load_library()
    exported = set(re.findall(r"MJ_EXPORT\s+[\w\s\*]+?\b(mj_\w+)\s*\(", SOURCE.read_text()))
    assert exported and all(getattr(lib, name).argtypes is not None for name in exported), exported
    assert jack_library.load_library() is lib  # once per process


def test_a_module_that_is_not_built_says_how_to_build_it(monkeypatch):
    monkeypatch.setattr(jack_library, "_lib", None)
    monkeypatch.setattr(jack_library, "_lib_error", None)
    monkeypatch.setattr(jack_library, "library_path", lambda: None)
    with pytest.raises(jack_library.NativeJackUnavailable, match=r"is not built: reinstall with a C compiler"):
        jack_library.load_library()
    assert "apt-get install gcc" in jack_library.available()  # and it says so again, without trying again
