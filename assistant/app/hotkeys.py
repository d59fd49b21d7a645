"""Global hotkeys: accept, next and previous from anywhere, while the DAW has the focus.

Off by default (``[hotkeys] enabled``); needs the ``hotkey`` extra (pynput), which reads
the keyboard system-wide (on Linux through the X server, or uinput as root; on macOS
with the accessibility permission). Combinations are written as pynput writes them:
``<ctrl>+<alt>+a``, ``<cmd>+<shift>+n``, ``<f9>``.

Threading: :func:`start_hotkeys` and the listener's ``stop`` on the main thread; pynput
calls back on its own thread, which only posts the action to the engine's inbox.
"""

from __future__ import annotations

import re

HOTKEY_ACTIONS = ("accept", "next", "previous")
HOTKEY_EXTRA_HINT = "pip install 'midi-assistant[hotkey]'"
MODIFIERS = ("ctrl", "alt", "alt_gr", "shift", "cmd")
NAMED_KEYS = MODIFIERS + ("space", "enter", "tab", "esc", "backspace", "delete", "home", "end", "page_up",
                          "page_down", "up", "down", "left", "right", "insert", "pause", "menu") + \
    tuple(f"f{k}" for k in range(1, 25))
HOTKEY_HELP = ('a combination like "<ctrl>+<alt>+a" or "<f9>": keys joined by "+", each one character or '
               "<name> (" + ", ".join(MODIFIERS) + ", f1..f24, space, enter...), or \"\" for none")


def parse_hotkey(text: str) -> str:
    """``text`` normalised (lower case, no spaces), or ValueError naming what is wrong."""
    combo = re.sub(r"\s+", "", text).lower()
    if combo == "":
        return ""
    keys = combo.split("+")
    if any(k == "" for k in keys):
        raise ValueError(f"{text!r} has an empty key (a '+' too many)")
    for key in keys:
        name = key[1:-1] if key.startswith("<") and key.endswith(">") else None
        if name is None and len(key) != 1:
            raise ValueError(f"{text!r}: {key!r} is neither one character nor a <name>")
        if name is not None and name not in NAMED_KEYS:
            raise ValueError(f"{text!r}: <{name}> is not a key name")
    if len(set(keys)) != len(keys):
        raise ValueError(f"{text!r} names a key twice")
    if all(k[1:-1] in MODIFIERS for k in keys if k.startswith("<")) and all(k.startswith("<") for k in keys):
        raise ValueError(f"{text!r} is only modifiers: add the key they modify")
    return combo


def hotkey_map(section) -> dict[str, str]:
    """combination -> action, for the actions with one (``section``: the config's [hotkeys])."""
    return {combo: action for action in HOTKEY_ACTIONS if (combo := getattr(section, action))}


def start_hotkeys(section, post, say):
    """The started pynput listener posting each hotkey's action with ``post(action)``, or
    None: hotkeys off, none bound, or pynput missing or unable to read the keyboard here
    (then one line through ``say``; everything else goes on)."""
    if not section.enabled:
        return None
    mapping = hotkey_map(section)
    if not mapping:
        say("hotkeys: enabled but none bound: set hotkeys.accept, hotkeys.next or hotkeys.previous")
        return None
    try:
        from pynput import keyboard
    except Exception as exc:  # pynput picks its backend at import: no X display, no permission...
        if isinstance(exc, ModuleNotFoundError) and exc.name == "pynput":
            say(f"hotkeys: the hotkey extra is not installed, so only the terminal keys and MIDI controls act: "
                f"{HOTKEY_EXTRA_HINT}")
        else:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            say(f"hotkeys: pynput cannot read the keyboard here ({reason}); on Linux it needs an X display "
                "(DISPLAY) or root for uinput, on macOS the accessibility permission; the terminal keys and "
                "MIDI controls still act")
        return None
    listener = keyboard.GlobalHotKeys({combo: (lambda action=action: post(action))
                                       for combo, action in mapping.items()})
    listener.daemon = True
    listener.start()
    return listener
