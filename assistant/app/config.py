"""Typed configuration from TOML presets, the user's learned bindings and the command line.

:func:`load_config` builds a :class:`Config` from four layers, each overriding the
one before:

1. the defaults of the dataclasses below (``configs/default.toml`` documents every
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..clock import MAX_BPM, MIN_BPM
from .controls import Binding
from ..errors import UserError
from ..music import Meter
from ..resources import PRESETS_DIR
from ..userfiles import BINDINGS_FILE, config_dir, display_path, read_toml, toml_string


BACKENDS = ("", "alsa", "jack", "coremidi", "windows")


from . import config_checks as check
from .config_checks import Check, Invalid


def _opt(default, check: Check):
    """A config field: its (immutable) default and the check of its values."""
    return field(default=default, metadata={"check": check})


# -- the sections --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PortsConfig:
    backend: str = _opt("", check.choice(*BACKENDS))
    input: str = _opt("MIDI Assistant In", check.name)
    output: str = _opt("MIDI Assistant Out", check.name)
    accepted: str = _opt("MIDI Assistant Accepted", check.text)
    harmony: str = _opt("", check.text)
    attach: bool | str = _opt("auto", check.attach)
    input_channels: tuple[int, ...] = _opt((), check.channels)
    ignore_drums: bool = _opt(True, check.boolean)
    output_lead_ms: float | str = _opt("auto", check.lead)
    hold_ahead_ms: float = _opt(40.0, check.number(0, 500))
    learn_offset: bool = _opt(True, check.boolean)
    output_offset_ms: float = _opt(0.0, check.number(-50, 50))
    accepted_offset_ms: float = _opt(0.0, check.number(-50, 50))
    harmony_offset_ms: float = _opt(0.0, check.number(-50, 50))
    jack_client: str = _opt("native", check.choice("native", "rtmidi"))

    @property
    def attach_flag(self) -> bool | None:
        """``attach`` as :func:`assistant.midi.ports.open_ports` takes it (None: platform decides)."""
        return None if self.attach == "auto" else bool(self.attach)

    @property
    def channel_indexes(self) -> set[int]:
        """Input channels to capture as 0-based indexes, drums removed if ignored."""
        chosen = set(range(16)) if not self.input_channels else {c - 1 for c in self.input_channels}
        return chosen - {9} if self.ignore_drums else chosen


@dataclass(frozen=True, slots=True)
class ClockConfig:
    source: str = _opt("midi", check.choice("midi", "internal", "link"))
    bpm: float = _opt(120.0, check.number(MIN_BPM, MAX_BPM))
    time_signature: str = _opt("4/4", check.time_signature)
    play_when_stopped: bool = _opt(False, check.boolean)
    link_start_stop: bool = _opt(False, check.boolean)

    @property
    def meter(self) -> Meter:
        numerator, denominator = self.time_signature.split("/")
        return Meter(0, int(numerator), int(denominator))


@dataclass(frozen=True, slots=True)
class ModelConfig:
    melody: str = _opt("", check.text)
    harmony: str = _opt("", check.text)
    stm_weight: float = _opt(1.5, check.number(0, 10))


@dataclass(frozen=True, slots=True)
class SuggestConfig:
    mode: str = _opt("call", check.choice("call", "ghost", "harmony", "call+harmony", "ghost+harmony"))
    alternatives: int = _opt(4, check.integer(1, 8))
    bars: int = _opt(2, check.integer(1, 16))
    temperature: float = _opt(0.9, check.number(0.05, 5))
    top_p: float = _opt(0.95, check.number(0.01, 1))
    answer_on: str = _opt("bar", check.choice("bar", "beat"))
    phrase_end_beats: float = _opt(2.0, check.number(0.25, 64))
    phrase_end_on_bar: bool = _opt(True, check.boolean)
    audition: bool = _opt(True, check.boolean)
    register: str = _opt("follow", check.choice("follow", "fixed"))
    register_low: int = _opt(48, check.integer(0, 127))
    register_high: int = _opt(84, check.integer(0, 127))
    channel: int = _opt(1, check.integer(1, 16))
    accepted_channel: int = _opt(1, check.integer(1, 16))
    harmony_channel: int = _opt(2, check.integer(1, 16))
    scale_lock: str = _opt("off", check.choice("off", "key", "chord"))


@dataclass(frozen=True, slots=True)
class HarmonyConfig:
    pattern: str = _opt("bar", check.choice("bar", "beat", "arpeggio"))
    register_low: int = _opt(48, check.integer(0, 127))
    register_high: int = _opt(72, check.integer(0, 127))
    voices: int = _opt(4, check.integer(3, 4))
    velocity: int | str = _opt("follow", check.velocity)
    accepted_channel: int = _opt(2, check.integer(1, 16))
    key: str = _opt("", check.key)
    react_ms: float = _opt(30.0, check.number(0, 100))
    follow_chords: bool = _opt(True, check.boolean)
    split: int | str = _opt("auto", check.split_point)

    @property
    def split_note(self) -> int | None:
        """The chord hand plays below this MIDI note; None: told apart by ear (``auto``)."""
        return None if self.split == "auto" else self.split


@dataclass(frozen=True, slots=True)
class HumaniseConfig:
    velocity: int | str = _opt("follow", check.velocity)
    velocity_spread: int = _opt(8, check.integer(0, 64))
    timing_ms: float = _opt(10.0, check.number(0, 50))


@dataclass(frozen=True, slots=True)
class SessionConfig:
    folder: str = _opt("sessions", check.name)
    capture_player: bool = _opt(True, check.boolean)


@dataclass(frozen=True, slots=True)
class HotkeysConfig:
    enabled: bool = _opt(False, check.boolean)
    accept: str = _opt("<ctrl>+<alt>+a", check.hotkey)
    next: str = _opt("<ctrl>+<alt>+n", check.hotkey)
    previous: str = _opt("<ctrl>+<alt>+p", check.hotkey)


@dataclass(frozen=True, slots=True)
class AudioConfig:
    play: bool = _opt(False, check.boolean)
    soundfont: str = _opt("", check.text)
    device: str = _opt("", check.text)
    play_input: bool = _opt(False, check.boolean)


def _controls_field(default) -> Any:
    return _opt(tuple([default] if isinstance(default, str) else default), check.bindings)


@dataclass(frozen=True, slots=True)
class ControlsConfig:
    """MIDI controls per action (general-purpose CCs 20-31 and undefined 102-103; notes unbound)."""

    accept: tuple[str, ...] = _controls_field("cc:20")
    next: tuple[str, ...] = _controls_field("cc:21")
    previous: tuple[str, ...] = _controls_field("cc:22")
    regenerate: tuple[str, ...] = _controls_field("cc:23")
    clear: tuple[str, ...] = _controls_field("cc:24")
    temperature_up: tuple[str, ...] = _controls_field("cc:25")
    temperature_down: tuple[str, ...] = _controls_field("cc:26")
    bars_up: tuple[str, ...] = _controls_field("cc:27")
    bars_down: tuple[str, ...] = _controls_field("cc:28")
    mode: tuple[str, ...] = _controls_field("cc:29")
    audition: tuple[str, ...] = _controls_field("cc:30")
    end_phrase: tuple[str, ...] = _controls_field("cc:31")
    panic: tuple[str, ...] = _controls_field("cc:102")
    quit: tuple[str, ...] = _controls_field(())
    scale_lock: tuple[str, ...] = _controls_field("cc:103")
    tap_tempo: tuple[str, ...] = _controls_field(())
    harmony: tuple[str, ...] = _controls_field("cc:104")


def _keys_field(default: str) -> Any:
    return _opt((default,), check.keys)


@dataclass(frozen=True, slots=True)
class KeysConfig:
    accept: tuple[str, ...] = _keys_field("space")
    next: tuple[str, ...] = _keys_field("n")
    previous: tuple[str, ...] = _keys_field("p")
    regenerate: tuple[str, ...] = _keys_field("r")
    clear: tuple[str, ...] = _keys_field("c")
    temperature_up: tuple[str, ...] = _keys_field("+")
    temperature_down: tuple[str, ...] = _keys_field("-")
    bars_up: tuple[str, ...] = _keys_field("]")
    bars_down: tuple[str, ...] = _keys_field("[")
    mode: tuple[str, ...] = _keys_field("m")
    audition: tuple[str, ...] = _keys_field("a")
    end_phrase: tuple[str, ...] = _keys_field("e")
    panic: tuple[str, ...] = _keys_field("!")
    quit: tuple[str, ...] = _keys_field("q")
    scale_lock: tuple[str, ...] = _keys_field("s")
    tap_tempo: tuple[str, ...] = _keys_field("t")
    harmony: tuple[str, ...] = _keys_field("h")


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration; every section is a frozen dataclass."""

    ports: PortsConfig = field(default_factory=PortsConfig)
    clock: ClockConfig = field(default_factory=ClockConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    suggest: SuggestConfig = field(default_factory=SuggestConfig)
    harmony: HarmonyConfig = field(default_factory=HarmonyConfig)
    humanise: HumaniseConfig = field(default_factory=HumaniseConfig)
    session: SessionConfig = field(default_factory=SessionConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    hotkeys: HotkeysConfig = field(default_factory=HotkeysConfig)
    controls: ControlsConfig = field(default_factory=ControlsConfig)
    keys: KeysConfig = field(default_factory=KeysConfig)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """``{section: {key: value}}`` with lists for tuples: what a TOML file would hold."""
        return {s: {k: list(v) if isinstance(v, tuple) else v for k, v in _section_values(getattr(self, s)).items()}
                for s in SECTIONS}


SECTIONS: dict[str, type] = {f.name: f.default_factory for f in dataclasses.fields(Config)}
"""Section name -> its dataclass, in file order."""

_BINDING_SECTIONS = ("controls", "keys")


def _section_values(section) -> dict[str, Any]:
    return {f.name: getattr(section, f.name) for f in dataclasses.fields(section)}


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
    values = {s: _section_values(getattr(defaults, s)) for s in SECTIONS}
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


