"""Which MIDI backends python-rtmidi has here, and what ports each one lists.

Backends: 'alsa', 'jack', 'coremidi', 'windows'; the platform default is ALSA if it
starts, else JACK on Linux, CoreMIDI on macOS, Windows MM on Windows. A backend that
cannot start, or a port name that matches none or several, is a ``UserError``
naming the fix. Main thread (opening and listing ports); nothing here keeps state.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from typing import Iterator

import mido

from ..errors import UserError

BACKEND_APIS: dict[str, str] = {
    "alsa": "LINUX_ALSA",
    "jack": "UNIX_JACK",
    "coremidi": "MACOSX_CORE",
    "windows": "WINDOWS_MM",
}

_FIX = {
    "alsa": "the ALSA sequencer is missing (no /dev/snd/seq): load the snd-seq kernel module "
            "(in a container, pass the host's /dev/snd), or use --backend jack with a running JACK server",
    "jack": "no JACK server is running{server}: start one (e.g. `jackd -d dummy -r 48000 -p 64`, "
            "or your session manager), or choose another --backend",
    "coremidi": "CoreMIDI did not start: check the macOS Audio MIDI Setup",
    "windows": "Windows MM did not start: check that a MIDI driver is installed",
}


@dataclass(frozen=True, slots=True)
class PortList:
    backend: str
    inputs: list[str] = field(default_factory=list)  # ports we can read from
    outputs: list[str] = field(default_factory=list)  # ports we can write to


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence C libraries (ALSA lib, libjack) on fd 2 while a backend starts.

    Process-wide for its duration: use it only on the main thread at start-up.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def check_backend_name(backend: str) -> str:
    if backend not in BACKEND_APIS:
        raise UserError(f"unknown MIDI backend {backend!r}: use one of {', '.join(BACKEND_APIS)}")
    return backend


def backend_error(backend: str, err: Exception) -> UserError:
    if isinstance(err, ValueError) and "not compiled" in str(err):
        have = ", ".join(b for b, api in BACKEND_APIS.items() if api in _compiled_apis()) or "none"
        return UserError(f"MIDI backend {backend!r} is not compiled into python-rtmidi here (available: {have})")
    server = os.environ.get("JACK_DEFAULT_SERVER")
    fix = _FIX[backend].format(server=f" (server {server!r} from JACK_DEFAULT_SERVER)" if server else "")
    return UserError(f"MIDI backend {backend!r} cannot start: {fix}")


def _compiled_apis() -> list[str]:
    try:
        import rtmidi
    except ImportError:
        return []
    return [_api_const_name(a) for a in rtmidi.get_compiled_api()]


def _api_const_name(api_id: int) -> str:
    import rtmidi
    for name in dir(rtmidi):
        if name.startswith("API_") and getattr(rtmidi, name) == api_id:
            return name[4:]
    return ""


def probe(backend: str) -> tuple[mido.Backend, list[str], list[str]]:
    """Start ``backend`` and list its ports, or raise a UserError with the fix."""
    try:
        be = mido.Backend(f"mido.backends.rtmidi/{BACKEND_APIS[backend]}", load=True)
        with quiet_stderr():
            return be, be.get_input_names(), be.get_output_names()
    except (ImportError, OSError, ValueError, RuntimeError) as err:
        raise backend_error(backend, err) from err


def default_backend() -> str:
    """The platform's backend; on Linux ALSA if it starts, else JACK."""
    if sys.platform == "darwin":
        return "coremidi"
    if sys.platform.startswith("win"):
        return "windows"
    try:
        probe("alsa")
        return "alsa"
    except UserError as alsa_err:
        try:
            probe("jack")
            return "jack"
        except UserError:
            raise UserError(
                "no MIDI backend can start: ALSA has no sequencer (/dev/snd/seq) and no JACK server is "
                "running: start a JACK server (e.g. `jackd -d dummy -r 48000 -p 64`) "
                "or give this machine an ALSA sequencer (/dev/snd/seq)"
            ) from alsa_err


def resolve_backend(backend: str | None) -> str:
    return default_backend() if backend is None else check_backend_name(backend)


def list_ports(backend: str | None = None) -> PortList:
    """The ports of ``backend`` we could read from (inputs) and write to (outputs)."""
    name = resolve_backend(backend)
    _, inputs, outputs = probe(name)
    return PortList(name, list(inputs), list(outputs))


def resolve_port(wanted: str, available: list[str], direction: str, backend: str) -> str:
    """``wanted`` if it is a port name, else the one port containing it (any case)."""
    if wanted in available:
        return wanted
    hits = [p for p in available if wanted.lower() in p.lower()]
    if len(hits) == 1:
        return hits[0]
    listing = f"`midi-assistant ports --backend {backend}` lists them"
    if not hits:
        have = ", ".join(repr(p) for p in available) or "none"
        raise UserError(f"no MIDI {direction} port matches {wanted!r} on {backend} (available: {have}): "
                        f"give an existing port name; {listing}")
    raise UserError(f"MIDI {direction} port name {wanted!r} is ambiguous on {backend} "
                    f"(matches {', '.join(repr(p) for p in hits)}): give more of the name")
