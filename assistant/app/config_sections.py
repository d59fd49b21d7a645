"""The sections of the configuration: one frozen dataclass each, with every key's default
and the check of its values (see :mod:`assistant.app.config_checks`), and :class:`Config`
holding them all. :mod:`assistant.app.config` reads TOML layers into these. Immutable;
any thread.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..clock import MAX_BPM, MIN_BPM
from ..music import Meter
from . import config_checks as check
from .config_checks import Check

BACKENDS = ("", "alsa", "jack", "coremidi", "windows")




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
        return {s: {k: list(v) if isinstance(v, tuple) else v for k, v in section_values(getattr(self, s)).items()}
                for s in SECTIONS}


SECTIONS: dict[str, type] = {f.name: f.default_factory for f in dataclasses.fields(Config)}
"""Section name -> its dataclass, in file order."""


def section_values(section) -> dict[str, Any]:
    """``{key: value}`` of one section."""
    return {f.name: getattr(section, f.name) for f in dataclasses.fields(section)}
