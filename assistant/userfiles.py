"""The user's files: where they live, and reading and writing them safely.

Any thread that may block: :func:`write_atomically` waits for fsyncs (milliseconds),
so never the MIDI callback or the scheduler thread. Reading a TOML file raises
``UserError`` naming the file and the fix; writing never leaves a half-written file.
"""

from __future__ import annotations

import itertools
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from .errors import UserError

CONFIG_DIR_ENV = "MIDI_ASSISTANT_CONFIG_DIR"
BINDINGS_FILE = "bindings.toml"


def config_dir() -> Path:
    """The user's config folder (``$MIDI_ASSISTANT_CONFIG_DIR``, XDG, or ``~/.config/midi-assistant``)."""
    explicit = os.environ.get(CONFIG_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "midi-assistant"


def display_path(path: Path) -> str:
    """``path`` as short as it can be said: relative to the current folder, or with ``~``."""
    path = Path(path)
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        try:
            return prefix + str(path.resolve().relative_to(base.resolve()))
        except (ValueError, OSError, RuntimeError):
            continue
    return str(path)


def read_toml(path: Path, fix: str = "fix the file") -> dict[str, Any]:
    """Parse a TOML file; ``UserError`` naming it for anything unreadable."""
    shown = display_path(path)
    if path.is_dir():
        raise UserError(f"{shown} is a folder, not a TOML file: give the path of a .toml file")
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{shown} is not valid TOML ({err}): {fix}") from None
    except UnicodeDecodeError:
        raise UserError(f"{shown} is not UTF-8 text: save it as UTF-8") from None
    except OSError as err:
        raise UserError(f"cannot read {shown} ({err.strerror or err}): check that it exists and is readable") from None


# -- writing -----------------------------------------------------------------------------
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string, quoted and escaped."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as a TOML value")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else toml_string(key)


def dump_toml(tables: dict[str, dict[str, Any]]) -> str:
    """Flat tables of strings, numbers, booleans and lists as TOML text (no nesting)."""
    parts = []
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise TypeError(f"top-level {name!r} must be a table")
        lines = [f"[{_toml_key(name)}]"] + [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items()]
        parts.append("\n".join(lines) + "\n")
    text = "\n".join(parts)
    if tomllib.loads(text) != tables:  # never write what would read back differently
        raise ValueError("TOML text does not read back as written")
    return text


_tmp_names = itertools.count(1)


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Replace ``path`` by ``data`` so that a crash leaves either the old or the new file.

    Writes a temporary file in the same folder, flushes and fsyncs it, renames it
    over ``path`` (``os.replace``) and fsyncs the folder. Raises ``OSError``; the
    temporary file is removed on failure. Blocks for the fsyncs (milliseconds):
    never call it on the MIDI callback or the scheduler thread.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{next(_tmp_names)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_folder(path.parent)


def fsync_folder(folder: str | os.PathLike) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def check_writable_folder(*paths: str | os.PathLike | None) -> None:
    """UserError naming the first of ``paths`` (None: skipped) whose folder does not exist,
    before a command spends its time on what it would write there."""
    for path in paths:
        if path and not Path(path).resolve().parent.is_dir():
            raise UserError(f"cannot write {path}: folder {Path(path).resolve().parent} does not exist")
