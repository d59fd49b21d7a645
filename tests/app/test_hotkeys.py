"""Global hotkeys: the config's combinations checked as pynput reads them, each one
posting its action, and one line (the assistant goes on) where pynput is missing or
cannot read the keyboard. pynput itself is stood in for: reading the system's keyboard
needs an X display or root, which a test machine lacks."""

import importlib.util
import sys
import types

import pytest

from assistant.app.config import load_config
from assistant.app.hotkeys import parse_hotkey, start_hotkeys
from assistant.errors import UserError


def fake_pynput(monkeypatch):
    started = []

    class GlobalHotKeys:
        def __init__(self, mapping):
            self.mapping = mapping
            self.daemon = False
            self.running = False
            started.append(self)

        def start(self):
            self.running = True

        def stop(self):
            self.running = False

    keyboard = types.SimpleNamespace(GlobalHotKeys=GlobalHotKeys)
    package = types.ModuleType("pynput")
    package.keyboard = keyboard
    monkeypatch.setitem(sys.modules, "pynput", package)
    return started


def test_each_hotkey_posts_its_action(monkeypatch):
    started = fake_pynput(monkeypatch)
    config = load_config(None, {"hotkeys.enabled": True, "hotkeys.next": "<F9>", "hotkeys.previous": ""})
    posted, said = [], []
    listener = start_hotkeys(config.hotkeys, posted.append, said.append)
    assert listener is started[0] and listener.running and listener.daemon and said == []
    assert sorted(listener.mapping) == ["<ctrl>+<alt>+a", "<f9>"]
    listener.mapping["<f9>"]()
    listener.mapping["<ctrl>+<alt>+a"]()
    assert posted == ["next", "accept"]


def test_off_by_default_and_nothing_is_imported(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynput", None)  # an import would fail
    assert start_hotkeys(load_config(None, {}).hotkeys, print, print) is None


@pytest.mark.parametrize("broken", ["missing", "no display", "real pynput, no display"])
def test_without_pynput_or_a_display_one_line_and_the_rest_goes_on(monkeypatch, broken):
    if broken == "missing":
        class Finder:
            def find_spec(self, name, path=None, target=None):
                if name == "pynput":
                    raise ModuleNotFoundError("No module named 'pynput'", name="pynput")

        monkeypatch.delitem(sys.modules, "pynput", raising=False)
        monkeypatch.setattr(sys, "meta_path", [Finder()] + sys.meta_path)
    elif broken == "real pynput, no display":
        monkeypatch.delenv("DISPLAY", raising=False)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        if importlib.util.find_spec("pynput") is None:  # the README's test command installs the hotkey extra
            pytest.skip("pynput is not installed: pip install -e '.[hotkey]'")
        for name in [m for m in sys.modules if m == "pynput" or m.startswith("pynput.")]:
            monkeypatch.delitem(sys.modules, name)
    else:
        class NoDisplay(types.ModuleType):
            def __getattr__(self, name):
                raise RuntimeError("Can't connect to display \":0\"")

        monkeypatch.setitem(sys.modules, "pynput", NoDisplay("pynput"))
    said = []
    assert start_hotkeys(load_config(None, {"hotkeys.enabled": True}).hotkeys, print, said.append) is None
    assert len(said) == 1
    assert ("pip install 'midi-assistant[hotkey]'" in said[0]) if broken == "missing" else ("X display" in said[0])
    if broken != "missing":
        assert "not installed" not in said[0]


@pytest.mark.parametrize("text, normal", [("<Ctrl>+<Alt>+A", "<ctrl>+<alt>+a"), ("<f12>", "<f12>"),
                                           (" <cmd> + <shift> + n ", "<cmd>+<shift>+n"), ("", "")])
def test_combinations_are_read_as_pynput_writes_them(text, normal):
    assert parse_hotkey(text) == normal


@pytest.mark.parametrize("text", ["<ctrl>+<alt>", "<ctrl>++a", "<hyper>+a", "ctrl+a", "<ctrl>+a+a"])
def test_a_wrong_combination_names_the_key_and_the_form(text):
    with pytest.raises(UserError, match=r"hotkeys.accept must be a combination like"):
        load_config(None, {"hotkeys.accept": text})
