"""Controls: MIDI CCs/notes and terminal keys mapped to actions, plus MIDI learn.

A binding is a string: ``"cc:20"`` (controller 20 on any channel), ``"cc:20@10"``
(only on channel 10, 1-based as musicians count), ``"note:36"``, ``"note:36@10"``.
``[controls]`` in the config binds each action in :data:`ACTIONS` to one binding or
a list of them; ``[keys]`` binds terminal keys.

Triggering (:meth:`ControlMap.action_for`): every CC message with a value > 0
triggers its action once (a button sends 127 on press: one trigger); a CC value
of 0 is the release and triggers nothing. A continuous knob triggers on every
value it sends, so bind buttons or pads, not knobs. A note-on with velocity > 0
triggers; its note-off triggers nothing. A binding with a channel wins over one
without for the same controller or note.

Bound control messages never reach melody capture: the engine asks
:meth:`ControlMap.consumes` first (a CC release and a bound note's note-off are
consumed too, so capture never sees half a control gesture).

MIDI learn: :func:`learn_binding` turns the next CC (value > 0) or note-on into a
:class:`Binding` on that channel; :func:`save_learned` writes it to the user's
bindings file (``bindings.toml`` in :func:`assistant.userfiles.config_dir`), atomically,
keeping the other bindings. A binding saved there takes its control away from
whatever action the preset gave it to (see :mod:`assistant.app.config`).

Threading contract: a :class:`ControlMap` is immutable once built;
:meth:`~ControlMap.action_for`, :meth:`~ControlMap.consumes` and
:meth:`~ControlMap.action_for_key` are pure dictionary lookups that never block,
called from the engine thread (keys: from the UI thread, which may call them at the
same time: nothing is shared that changes). :func:`save_learned` does file I/O: main
thread only, never the engine thread. The ``learn`` command is
:mod:`assistant.commands.learn`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..userfiles import BINDINGS_FILE, config_dir, dump_toml, read_toml, write_atomically

ACTIONS: tuple[str, ...] = (
    "accept", "next", "previous", "regenerate", "clear",
    "temperature_up", "temperature_down", "bars_up", "bars_down",
    "mode", "audition", "end_phrase", "panic", "quit", "scale_lock", "tap_tempo", "harmony",
)
"""Every action a control can trigger, in the order the UI lists them."""

BINDING_HELP = 'a binding like "cc:20", "cc:20@10", "note:36" or "note:36@10" (number 0..127, channel 1..16)'

_BINDING_RE = re.compile(r"^\s*(cc|note)\s*:\s*(\d{1,3})\s*(?:@\s*(\d{1,2}))?\s*$", re.IGNORECASE)

KEY_NAMES: frozenset[str] = frozenset(
    ["space", "enter", "tab", "escape", "backspace", "delete", "insert", "home", "end",
     "pageup", "pagedown", "up", "down", "left", "right"] + [f"f{i}" for i in range(1, 13)]
)
"""Names of terminal keys that are not one printable character."""

_KEY_ALIASES = {" ": "space", "\n": "enter", "\r": "enter", "return": "enter", "\t": "tab",
                "\x1b": "escape", "esc": "escape", "\x7f": "backspace", "del": "delete",
                "pgup": "pageup", "pgdn": "pagedown"}

KEY_HELP = ("a key or a list of keys: one printable character, or space, enter, tab, escape, backspace, "
            "delete, insert, home, end, pageup, pagedown, up, down, left, right, f1..f12")


@dataclass(frozen=True, slots=True)
class Binding:
    """One control: ``kind`` 'cc' or 'note', ``number`` 0..127, ``channel`` 1..16 or None (any)."""

    kind: str
    number: int
    channel: int | None = None

    @classmethod
    def parse(cls, text, key: str = "binding") -> "Binding":
        """Parse ``"cc:20@10"`` and friends; ``UserError`` naming ``key`` for anything else."""
        found = _BINDING_RE.match(text) if isinstance(text, str) else None
        if found:
            number = int(found.group(2))
            channel = None if found.group(3) is None else int(found.group(3))
            if number <= 127 and (channel is None or 1 <= channel <= 16):
                return cls(found.group(1).lower(), number, channel)
        raise UserError(f"{key} must be {BINDING_HELP}, got {_show(text)}")

    def __str__(self) -> str:
        return f"{self.kind}:{self.number}" + ("" if self.channel is None else f"@{self.channel}")

    def matches(self, msg) -> bool:
        """Whether ``msg`` (any value or velocity) comes from this control."""
        address = _address(msg)
        return (address is not None and address[:2] == (self.kind, self.number)
                and (self.channel is None or address[2] == self.channel - 1))

    @property
    def _key(self) -> tuple[str, int, int | None]:
        return (self.kind, self.number, None if self.channel is None else self.channel - 1)


def _show(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _address(msg) -> tuple[str, int, int] | None:
    """(kind, number, channel index 0..15) of a CC or note message, else None."""
    kind = getattr(msg, "type", None)
    if kind == "control_change":
        return ("cc", msg.control, msg.channel)
    if kind in ("note_on", "note_off"):
        return ("note", msg.note, msg.channel)
    return None


def normalise_key(key) -> str | None:
    """A terminal key as the config names it ('space', 'n', 'f5'), or None if it is no key."""
    if not isinstance(key, str) or not key:
        return None
    key = _KEY_ALIASES.get(key, key)
    if len(key) == 1:
        return key if key.isprintable() else None
    low = key.strip().lower()
    low = _KEY_ALIASES.get(low, low)
    return low if low in KEY_NAMES else None


def check_action(action: str) -> str:
    """``action`` if it is one of :data:`ACTIONS`, else a ``UserError`` with the closest one."""
    if action in ACTIONS:
        return action
    close = difflib.get_close_matches(str(action), ACTIONS, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]}?" if close else f"use one of {', '.join(ACTIONS)}"
    raise UserError(f"unknown action {action!r}: {hint}")


class ControlMap:
    """Lookup tables from control messages and terminal keys to actions.

    Build it with :meth:`from_config` (or from ``(binding, action)`` and
    ``(key, action)`` pairs); it never changes afterwards (build a new one to
    rebind), so any thread may read it.
    """

    def __init__(self, midi=(), keys=()):
        self._midi: dict[tuple[str, int, int | None], str] = {}
        self._keys: dict[str, str] = {}
        self.bindings: dict[str, tuple[Binding, ...]] = {a: () for a in ACTIONS}
        self.keys: dict[str, tuple[str, ...]] = {a: () for a in ACTIONS}
        for binding, action in midi:
            check_action(action)
            if isinstance(binding, str):
                binding = Binding.parse(binding, f"controls.{action}")
            other = self._midi.setdefault(binding._key, action)
            if other != action:
                raise UserError(f"controls.{action}: {binding} is also bound to controls.{other}: "
                                "keep it on one action")
            if binding not in self.bindings[action]:
                self.bindings[action] += (binding,)
        for key, action in keys:
            check_action(action)
            name = normalise_key(key)
            if name is None:
                raise UserError(f"keys.{action} must be {KEY_HELP}, got {_show(key)}")
            other = self._keys.setdefault(name, action)
            if other != action:
                raise UserError(f"keys.{action}: key {_show(name)} is also bound to keys.{other}: "
                                "keep it on one action")
            if name not in self.keys[action]:
                self.keys[action] += (name,)

    @classmethod
    def from_config(cls, config) -> "ControlMap":
        """From ``config.controls`` and ``config.keys`` (an :class:`assistant.app.config.Config`)."""
        midi = [(text, a) for a in ACTIONS for text in getattr(config.controls, a)]
        keys = [(key, a) for a in ACTIONS for key in getattr(config.keys, a)]
        return cls(midi, keys)

    # -- engine thread: pure lookups ------------------------------------------------------
    def _lookup(self, address: tuple[str, int, int]) -> str | None:
        kind, number, channel = address
        found = self._midi.get(address)
        return found if found is not None else self._midi.get((kind, number, None))

    def action_for(self, msg) -> str | None:
        """The action ``msg`` triggers: a bound CC with value > 0 or a bound note-on with velocity > 0."""
        kind = getattr(msg, "type", None)
        if kind == "control_change":
            if msg.value <= 0:
                return None
        elif kind != "note_on" or msg.velocity <= 0:
            return None
        return self._lookup(_address(msg))

    def consumes(self, msg) -> bool:
        """Whether ``msg`` belongs to a bound control (any value), so capture must not see it."""
        address = _address(msg)
        return address is not None and self._lookup(address) is not None

    def action_for_key(self, key: str) -> str | None:
        """The action of a terminal key ('n', ' ' or 'space', 'f5'...), or None."""
        name = normalise_key(key)
        return None if name is None else self._keys.get(name)

    def describe(self, action: str) -> str:
        """Human-readable bindings of ``action`` for the UI, e.g. ``"cc:20, space"``."""
        parts = [str(b) for b in self.bindings.get(action, ())] + list(self.keys.get(action, ()))
        return ", ".join(parts) or "unbound"


# -- MIDI learn ------------------------------------------------------------------------------
def learn_binding(msg) -> Binding | None:
    """The binding for ``msg`` if it can be learned (a CC with value > 0 or a note-on), else None.

    The channel is kept: a pad learned on channel 10 binds only channel 10.
    """
    kind = getattr(msg, "type", None)
    if kind == "control_change" and msg.value > 0:
        return Binding("cc", msg.control, msg.channel + 1)
    if kind == "note_on" and msg.velocity > 0:
        return Binding("note", msg.note, msg.channel + 1)
    return None


def bindings_path(path: str | Path | None = None) -> Path:
    """The user's bindings file: ``path``, else ``bindings.toml`` in the config folder."""
    return Path(path) if path is not None else config_dir() / BINDINGS_FILE


def save_learned(action: str, binding: Binding | str, path: str | Path | None = None) -> Path:
    """Bind ``action`` to ``binding`` in the user's bindings file, atomically; returns its path.

    The action's previous learned binding is replaced; the same control is removed
    from any other action in that file; every other line of data is kept (comments
    are not: the file is rewritten). A file that cannot be read is left untouched
    and reported (``UserError``), so nothing is lost.
    """
    action = check_action(action)
    if isinstance(binding, str):
        binding = Binding.parse(binding)
    target = bindings_path(path)
    data: dict = {}
    if target.exists():
        data = read_toml(target, fix="fix or delete it, then learn again")
    controls = data.get("controls", {})
    if not isinstance(controls, dict):
        raise UserError(f"{target}: [controls] must be a table: fix or delete the file, then learn again")
    text = str(binding)
    updated: dict = {}
    for name, value in controls.items():
        if name == action:
            continue
        values = [value] if isinstance(value, str) else value
        if isinstance(values, list):
            kept = [v for v in values if not (isinstance(v, str) and _same(v, binding))]
            if kept != values:
                value = kept[0] if len(kept) == 1 else kept
        updated[name] = value
    updated[action] = text
    data["controls"] = dict(sorted(updated.items(), key=lambda kv: _order(kv[0])))
    header = "# Controls learned with `midi-assistant learn ACTION`; loaded after the preset.\n"
    payload = header + dump_toml(data)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, payload.encode("utf-8"))
    except OSError as err:
        raise UserError(f"cannot write {target} ({err.strerror or err}): check the folder's permissions "
                        "or set MIDI_ASSISTANT_CONFIG_DIR to a writable folder") from None
    return target


def _same(text: str, binding: Binding) -> bool:
    try:
        return Binding.parse(text) == binding
    except UserError:
        return False


def _order(action: str) -> tuple[int, str]:
    return (ACTIONS.index(action) if action in ACTIONS else len(ACTIONS), action)
