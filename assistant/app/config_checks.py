"""The value checks of the configuration: each takes a value read from TOML or the command
line and returns it normalised, or raises :class:`Invalid` saying what was expected.

:mod:`assistant.app.config` names one per field and turns :class:`Invalid` into a
``UserError`` naming the file and the key. Pure functions; any thread.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from ..errors import UserError
from ..music.keys import parse_key_name
from .controls import BINDING_HELP, KEY_HELP, Binding, normalise_key

class Invalid(Exception):
    """A value that does not fit; ``args[0]`` says what was expected."""


Check = Callable[[Any], Any]


def number(lo: float, hi: float) -> Check:
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
            raise Invalid(f"a number in {lo:g}..{hi:g}")
        return float(v)
    return check


def integer(lo: int, hi: int) -> Check:
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise Invalid(f"a whole number in {lo}..{hi}")
        return v
    return check


def boolean(v):
    if not isinstance(v, bool):
        raise Invalid("true or false")
    return v


def choice(*options) -> Check:
    def check(v):
        if not isinstance(v, str) or v not in options:
            raise Invalid("one of " + ", ".join(f'"{o}"' for o in options))
        return v
    return check


def text(v):
    if not isinstance(v, str):
        raise Invalid("a string")
    return v


def name(v):
    if not isinstance(v, str) or not v.strip():
        raise Invalid("a non-empty port name")
    return v


def attach(v):
    if isinstance(v, bool) or v == "auto":
        return v
    raise Invalid('true, false or "auto"')


def lead(v):
    if v == "auto" or (isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 50):
        return v if v == "auto" else float(v)
    raise Invalid('"auto" or a number of ms in 0..50')


def channels(v):
    if not isinstance(v, list) or any(isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= 16
                                      for c in v):
        raise Invalid("a list of MIDI channels 1..16 ([] = all)")
    return tuple(sorted(set(v)))


def split_point(v):
    if v == "auto" or (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 127):
        return v
    raise Invalid('"auto" (a chord under a melody note is told apart by ear) or a MIDI note 0..127 '
                  '(the chord hand plays below it; 60 is middle C)')


def velocity(v):
    if v == "follow" or (isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 127):
        return v
    raise Invalid('"follow" or a whole number in 1..127')


def key(v):
    if v == "" or parse_key_name(v) is not None:
        return v
    raise Invalid('"" (follow what is played) or a key like "D minor" or "Bb major"')


TIME_SIGNATURE = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{1,2})\s*$")


def time_signature(v):
    found = TIME_SIGNATURE.match(v) if isinstance(v, str) else None
    if found and 1 <= int(found.group(1)) <= 32 and int(found.group(2)) in (1, 2, 4, 8, 16, 32):
        return f"{int(found.group(1))}/{int(found.group(2))}"
    raise Invalid('a time signature like "4/4" or "6/8" (denominator 1, 2, 4, 8, 16 or 32)')


def list_of(v, what: str) -> list:
    if isinstance(v, str):
        return [v]
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return v
    raise Invalid(what)


def bindings(v):
    items = list_of(v, f"{BINDING_HELP}, or a list of them")
    out: list[str] = []
    for item in items:
        try:
            text = str(Binding.parse(item))
        except UserError:
            raise Invalid(f"{BINDING_HELP}, or a list of them") from None
        if text not in out:
            out.append(text)
    return tuple(out)


def keys(v):
    out: list[str] = []
    for item in list_of(v, KEY_HELP):
        name = normalise_key(item)
        if name is None:
            raise Invalid(KEY_HELP)
        if name not in out:
            out.append(name)
    return tuple(out)


def hotkey(v):
    from .hotkeys import HOTKEY_HELP, parse_hotkey

    if not isinstance(v, str):
        raise Invalid(HOTKEY_HELP)
    try:
        return parse_hotkey(v)
    except ValueError as err:
        raise Invalid(f"{HOTKEY_HELP}; {err}") from None
