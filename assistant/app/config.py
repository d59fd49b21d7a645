"""Typed configuration from TOML presets, the user's learned bindings and the command line.

:func:`load_config` builds a :class:`Config` from four layers, each overriding the
one before:

1. the defaults of the section dataclasses (:mod:`assistant.app.config_sections`; ``configs/default.toml`` documents every
   key with the same value; a test keeps them equal);
2. a preset: a name such as ``ableton`` (``configs/ableton.toml``, else
   ``<config dir>/ableton.toml``) or a path to a TOML file;
3. the user's learned bindings, ``bindings.toml`` in :func:`config_dir`
   (``$MIDI_ASSISTANT_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/midi-assistant``, else
   ``~/.config/midi-assistant``): only ``[controls]`` and ``[keys]``;
4. command-line overrides: ``{"suggest.temperature": 1.2}`` or
   ``{"suggest": {"temperature": 1.2}}`` (:func:`parse_overrides` reads ``KEY=VALUE``).

Every value is checked where it is read: a wrong key, type or range is a
``UserError`` naming the file and the key, e.g. ``configs/x.toml:
suggest.temperature must be a number in 0.05..5, got "hot"``; an unknown key names
the closest valid one. Lists become tuples and sections are frozen dataclasses,
so a :class:`Config` is immutable and shares no mutable default.

Bindings (``[controls]``, ``[keys]``): within one file a control or key may serve
one action only; a later layer that binds a control *takes it over* from the action
an earlier layer gave it to (a learned ``accept = "cc:21"`` unbinds ``next`` from
cc:21 rather than failing).

Relative paths (``model.melody``, ``session.folder``) are relative to the folder
``midi-assistant`` runs in, not to the preset.

Threading: loading reads files; call it on the main thread at start-up. A loaded
:class:`Config` is immutable and may be read from any thread.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from pathlib import Path
from typing import Any

from .controls import Binding
from ..errors import UserError
from ..resources import PRESETS_DIR
from ..userfiles import BINDINGS_FILE, config_dir, display_path, read_toml, toml_string


from .config_checks import Check, Invalid
from .config_sections import SECTIONS, Config, section_values


_BINDING_SECTIONS = ("controls", "keys")


def _checks(section: str) -> dict[str, Check]:
    return {f.name: f.metadata["check"] for f in dataclasses.fields(SECTIONS[section])}


# -- files ---------------------------------------------------------------------------------------
def list_presets() -> list[str]:
    """Names of the shipped presets."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml")) if PRESETS_DIR.is_dir() else []


def resolve_preset(name_or_path: str | os.PathLike) -> Path:
    """A preset name (``ableton``) or a path to a TOML file, as an existing path."""
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    looks_like_path = any(sep in text for sep in ("/", os.sep)) or text.endswith(".toml")
    if looks_like_path or path.is_file():
        if not path.exists():
            raise UserError(f"config file {text} does not exist: give an existing .toml file "
                            f"or a preset name ({', '.join(list_presets())})")
        return path
    for folder in (PRESETS_DIR, config_dir()):
        candidate = folder / f"{text}.toml"
        if candidate.is_file():
            return candidate
    names = list_presets()
    close = difflib.get_close_matches(text, names, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]}? " if close else ""
    raise UserError(f"no preset named {text!r}: {hint}use one of {', '.join(names) or '(none)'} "
                    "or give the path of a .toml file")


# -- loading -------------------------------------------------------------------------------------
def _show(value) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def _unknown(source: str, section: str | None, name: str, valid) -> UserError:
    """Unknown key ``name`` of ``section`` (None: an unknown section), with the closest valid one."""
    show = (lambda n: f"[{n}]") if section is None else (lambda n: f"{section}.{n}")
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    if close:
        hint = f"did you mean {show(close[0])}?"
    else:
        hint = "valid: " + ", ".join(show(v) for v in valid)
    return UserError(f"{source}: unknown {'section' if section is None else 'key'} {show(name)}; {hint}")


def _take_over(values: dict, section: str, key: str, taken: tuple[str, ...], layer_keys: set[str]) -> None:
    """Remove ``taken`` bindings from the other actions of ``section`` not set by this layer."""
    for other, current in values[section].items():
        if other != key and other not in layer_keys and set(current) & set(taken):
            values[section][other] = tuple(b for b in current if b not in taken)


def _apply(values: dict, origin: dict, source: str, data: dict, only: tuple[str, ...] | None = None) -> None:
    """Check ``data`` (one layer) and merge it into ``values``; ``origin`` records who set what."""
    for section, table in data.items():
        if section not in SECTIONS:
            owners = [s for s in SECTIONS if section in _checks(s)]
            if owners and not isinstance(table, dict):
                raise UserError(f"{source}: {section} belongs in a section: put it under [{owners[0]}] "
                                f"as {owners[0]}.{section}")
            raise _unknown(source, None, section, SECTIONS)
        if only is not None and section not in only:
            raise UserError(f"{source}: [{section}] does not belong in the bindings file "
                            f"(only {', '.join(f'[{s}]' for s in only)}): move it to a preset")
        if not isinstance(table, dict):
            raise UserError(f"{source}: {section} must be a table ([{section}] with keys under it), "
                            f"got {_show(table)}")
        checks = _checks(section)
        checked: dict[str, Any] = {}
        for key, raw in table.items():
            if key not in checks:
                raise _unknown(source, section, key, checks)
            if section == "controls" and isinstance(raw, (str, list)):
                for item in ([raw] if isinstance(raw, str) else raw):
                    Binding.parse(item, f"{source}: controls.{key}")
            try:
                checked[key] = checks[key](raw)
            except Invalid as err:
                raise UserError(f"{source}: {section}.{key} must be {err.args[0]}, got {_show(raw)}") from None
        if section in _BINDING_SECTIONS:
            owner: dict[str, str] = {}
            for key, bound in checked.items():
                for b in bound:
                    if owner.setdefault(b, key) != key:
                        raise UserError(f"{source}: {section}.{key} and {section}.{owner[b]} both use {_show(b)}: "
                                        "keep it on one action")
            for key, bound in checked.items():
                _take_over(values, section, key, bound, set(checked))
        for key, value in checked.items():
            values[section][key] = value
            origin[f"{section}.{key}"] = source


def _cross_check(values: dict, origin: dict) -> None:
    """Checks that involve two keys; the error names the layer that set the later of them."""
    def source(*keys: str) -> str:
        return next((origin[k] for k in reversed(list(origin)) if k in keys), "defaults")

    s, p = values["suggest"], values["ports"]
    if s["register_low"] >= s["register_high"]:
        where = source("suggest.register_low", "suggest.register_high")
        raise UserError(f"{where}: suggest.register_low ({s['register_low']}) must be below "
                        f"suggest.register_high ({s['register_high']}): lower one or raise the other")
    h = values["harmony"]
    if h["register_high"] - h["register_low"] < 12:
        where = source("harmony.register_low", "harmony.register_high")
        raise UserError(f"{where}: the harmony register {h['register_low']}..{h['register_high']} is narrower "
                        "than an octave: lower harmony.register_low or raise harmony.register_high")
    shared_accepted = p["accepted"] in ("", p["output"])
    if shared_accepted and s["accepted_channel"] == s["channel"]:
        where = source("ports.accepted", "suggest.accepted_channel", "suggest.channel")
        raise UserError(f"{where}: accepted material shares the output port, so suggest.accepted_channel "
                        f"must differ from suggest.channel ({s['channel']}): choose another channel, "
                        "or name ports.accepted")
    if p["harmony"] in ("", p["output"]):
        taken = {s["channel"]: "suggest.channel"}
        if shared_accepted:
            taken[s["accepted_channel"]] = "suggest.accepted_channel"
        if s["harmony_channel"] in taken:
            other = taken[s["harmony_channel"]]
            where = source("ports.harmony", "suggest.harmony_channel", other)
            raise UserError(f"{where}: harmony shares the output port, so suggest.harmony_channel must differ "
                            f"from {other} ({s['harmony_channel']}): choose another channel, or name ports.harmony")


def _nest(overrides: dict) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        if isinstance(value, dict):
            out.setdefault(str(key), {}).update(value)
        elif isinstance(key, str) and "." in key:
            section, name = key.split(".", 1)
            out.setdefault(section, {})[name] = value
        else:
            raise UserError(f"command line: override {key!r} must name a section and key, "
                            "e.g. suggest.temperature=1.2")
    return out


def _plain(value):
    """Tuples (from a Config) become lists, as TOML would give them."""
    return list(value) if isinstance(value, tuple) else value


def parse_override(text: str) -> tuple[str, Any]:
    """``"suggest.temperature=1.2"`` -> ``("suggest.temperature", 1.2)``.

    The value is read as TOML (numbers, true/false, ``"strings"``, ``[lists]``);
    anything else is taken as a plain string, so ``ports.input=My Port`` works.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or "." not in key:
        raise UserError(f"command line: override {text!r} must be SECTION.KEY=VALUE, e.g. suggest.temperature=1.2")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key, value


def parse_overrides(items) -> dict[str, Any]:
    """Many ``KEY=VALUE`` strings (``--set`` options) as a dict for :func:`load_config`."""
    return dict(parse_override(t) for t in items or ())


def load_config(path: str | os.PathLike | None = None, overrides: dict | None = None, *,
                bindings_path: str | os.PathLike | None = None) -> Config:
    """Defaults, then the preset ``path``, then the user's bindings file, then ``overrides``.

    ``bindings_path`` replaces the default bindings file (``bindings.toml`` in
    :func:`config_dir`); a missing bindings file is fine.
    """
    defaults = Config()
    values = {s: section_values(getattr(defaults, s)) for s in SECTIONS}
    origin: dict[str, str] = {}
    if path is not None:
        preset = resolve_preset(path)
        _apply(values, origin, display_path(preset), read_toml(preset))
    bindings = Path(bindings_path) if bindings_path is not None else config_dir() / BINDINGS_FILE
    if bindings.exists():
        shown = display_path(bindings)
        data = read_toml(bindings, fix="fix it or delete it and learn the controls again")
        _apply(values, origin, shown, data, only=_BINDING_SECTIONS)
    if overrides:
        nested = _nest(overrides)
        _apply(values, origin, "command line", {s: {k: _plain(v) for k, v in t.items()} if isinstance(t, dict)
                                                else t for s, t in nested.items()})
    _cross_check(values, origin)
    return Config(**{s: SECTIONS[s](**values[s]) for s in SECTIONS})


