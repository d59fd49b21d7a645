"""MIDI ports: open our virtual ports (or attach to existing ones) and the port contract
the engine uses (:class:`MidiPorts`: one inbox, named outputs, counters, reopen).

Which backend and which ports a name means is :mod:`assistant.midi.backends`; an
input through python-rtmidi is :mod:`assistant.midi.rtmidi_input`; our native JACK
client (``ports.jack_client = "native"``, the default on JACK) is
:mod:`assistant.midi.jackmidi`.

By default we create virtual ports "MIDI Assistant In", "MIDI Assistant Out" and
"MIDI Assistant Accepted" (:class:`PortNames`). Windows has no virtual ports:
there (or with ``attach=True``) each name is looked up among the existing ports
by exact name or unique substring (loopMIDI ports, say).

Threading contract: input arrives on a MIDI thread that only stamps the arrival
(:func:`assistant.clock.now_ns`), parses the bytes into a mido Message and
``put((msg, ns))`` on a ``queue.SimpleQueue`` (:attr:`MidiPorts.inbox`), which
never blocks; nothing else. On ALSA/CoreMIDI/Windows that thread is
python-rtmidi's callback thread; on JACK it is our ``midi-in`` reader thread,
because no Python may run on JACK's realtime thread (see :class:`RtInput`).
Everything else happens on the engine thread that reads the inbox.

Outputs are mido ports behind :class:`SafeOutput` (a send after close raises
instead of crashing); any thread may send, one at a time. Open and close ports
from the main thread, and close them before exit: JACK keeps a killed client's
name and loses messages for a reused one. ``MidiPorts.close`` closes the input
first, so no MIDI thread can be waiting for the GIL while an output closes.

A backend that cannot start, an unknown or ambiguous port name, or a platform
without virtual ports is a ``UserError`` naming the problem and the fix.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from dataclasses import dataclass
from typing import Callable

import mido

from ..errors import UserError
from .backends import BACKEND_APIS, backend_error, probe, quiet_stderr, resolve_backend, resolve_port
from .rtmidi_input import RtInput

log = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class PortNames:
    """Names of our ports. ``accepted`` None: accepted material shares ``output``."""

    input: str = "MIDI Assistant In"
    output: str = "MIDI Assistant Out"
    accepted: str | None = "MIDI Assistant Accepted"
    client: str = "MIDI Assistant"
    harmony: str | None = None  # None: chords share ``output`` (on their own channel)


class SafeOutput:
    """A mido output port whose ``send`` after ``close`` raises OSError instead of crashing.

    (python-rtmidi segfaults on a send to a deleted port, and a scheduler thread
    may still send while the main thread closes.) ``send`` and ``close`` share a
    lock, so a send never overlaps the close.
    """

    def __init__(self, port):
        self._port = port
        self.name = port.name
        self.closed = False
        self._lock = threading.Lock()

    def send(self, msg: mido.Message) -> None:
        with self._lock:
            if self.closed:
                raise OSError(f"MIDI output {self.name!r} is closed")
            self._port.send(msg)

    def reattach(self, port) -> None:
        """Send to ``port`` from now on (the device came back; the port watch's thread)."""
        with self._lock:
            if self.closed:
                old = port
            else:
                old, self._port, self.name = self._port, port, port.name
        with contextlib.suppress(Exception):
            old.close()

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self._port.close()


class MidiPorts:
    """Our open ports: ``inbox`` of (msg, arrival_ns) from the input, and named outputs.

    ``outputs`` maps "out", "accepted" and "harmony" to ports with ``send(msg)``;
    "accepted" and "harmony" are the same port as "out" when they have no port of
    their own. Usable as a
    context manager; :meth:`close` is idempotent and closes the input first.
    """

    def __init__(self, backend: str, inbox: queue.SimpleQueue, input_port, outputs: dict,
                 jack_client: str | None = None, jack_period_ms: float | None = None, native=None,
                 attached: dict[str, str] | None = None, opener=None):
        self.backend = backend
        # python-rtmidi ports attached to devices: role ("in", "out"...) -> the name the user
        # gave (a device's port may come back under another full name, e.g. a new ALSA
        # client number); ``opener(name)`` opens a mido output port by its full name
        self.attached = dict(attached or {}) if native is None else {}
        self._opener = opener
        self._lister = None  # python-rtmidi (MidiIn, MidiOut) kept for listing ports
        self.jack_client = jack_client  # JACK: "native" (one client of ours) or "rtmidi"; else None
        self.jack_period_ms = jack_period_ms  # native JACK: the server's period (its outputs are timed)
        self.native = native  # our native JACK client, if the ports are on one
        # native JACK: ``timing_unsure(ns)`` is True for input stamps taken around a server stall
        self.timing_unsure: Callable[[int], bool] | None = native.timing_unsure if native is not None else None
        # ...and ``base_shift(ns)`` how far the time base of its stamps had moved (see jackmidi)
        self.base_shift: Callable[[int], int] | None = native.base_shift_ns if native is not None else None
        self.inbox = inbox
        self.input = input_port
        self.outputs = outputs
        self.closed = False

    @property
    def output(self):
        return self.outputs["out"]

    @property
    def accepted(self):
        return self.outputs["accepted"]

    def names(self) -> dict[str, str]:
        out = {"in": self.input.name}
        out.update({k: p.name for k, p in self.outputs.items()})
        return out

    def counters(self) -> dict[str, int]:
        """What reached our input (any thread): messages decoded, junk dropped, and on our
        native JACK client its own counters, prefixed ``jack_`` (input lost to a full
        ring, cycles that jumped, repeated cycles dropped, the ring's high-water mark...)."""
        decoder = getattr(self.input, "decoder", None)
        out = decoder.counters() if decoder is not None else {}
        if self.native is not None:
            out.update({f"jack_{k}": v for k, v in self.native.counters().items()})
        return out

    # -- health (the port watch's thread) ---------------------------------------------
    @property
    def watched(self) -> str:
        """What the port watch looks after: "jack" (our native client's server), "devices"
        (device ports we attached to through python-rtmidi) or "" (our own virtual ports,
        which live as long as we do)."""
        return "jack" if self.native is not None else "devices" if self.attached else ""

    def healthy(self) -> bool:
        """False while the ports cannot carry MIDI: the JACK server went away, or a device
        port we attached to is no longer listed (unplugged)."""
        if self.closed:
            return True
        if self.native is not None:
            return self.native.alive
        return not self.missing()

    def missing(self) -> list[str]:
        """The attached device ports (as the user named them) not listed now; all of them
        if listing fails."""
        if not self.attached:
            return []
        try:
            listed = self._listed()
        except Exception:  # the backend cannot list now: nothing can be told to be there
            return sorted(set(self.attached.values()))
        return sorted({wanted for role, wanted in self.attached.items()
                       if self._find(wanted, listed["in" if role == "in" else "out"]) is None})

    def _listed(self) -> dict[str, list[str]]:
        if self._lister is None:
            import rtmidi

            api = getattr(rtmidi, f"API_{BACKEND_APIS[self.backend]}")
            self._lister = (rtmidi.MidiIn(api, name="midi-assistant-watch"),
                            rtmidi.MidiOut(api, name="midi-assistant-watch"))
        return {"in": self._lister[0].get_ports(), "out": self._lister[1].get_ports()}

    @staticmethod
    def _find(wanted: str, listed: list[str]) -> str | None:
        try:
            return resolve_port(wanted, listed, "", "")
        except UserError:
            return None

    def remember(self) -> None:
        """Note what is connected to our ports, for :meth:`reopen` (attached device ports:
        the attachment is the connection)."""
        if self.native is not None:
            self.native.remember_connections()

    def reopen(self) -> bool:
        """Bring the ports back: on a JACK server that is back, same names, same connections;
        attached device ports, once every one is listed again, attached again by name."""
        if self.closed:
            return False
        if self.native is not None:
            return self.native.reopen()
        if not self.attached or self.missing():
            return False
        listed = self._listed()
        try:
            for role, wanted in self.attached.items():
                if role == "in":
                    self.input.reattach(self._find(wanted, listed["in"]))
                else:
                    self.outputs[role].reattach(self._opener(self._find(wanted, listed["out"])))
        except (OSError, ValueError, RuntimeError) as err:
            log.warning("MIDI device ports listed again but not attached yet (%s): trying again", err)
            return False
        return True

    def restore_connections(self) -> tuple[int, int]:
        """Connections made again now, and still missing (their other end is not back)."""
        return self.native.restore_connections() if self.native is not None else (0, 0)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._lister is not None:
            for rt in self._lister:
                with contextlib.suppress(Exception):
                    rt.delete()
        seen = set()
        for port in [self.input, *self.outputs.values()]:
            if port is None or id(port) in seen:
                continue
            seen.add(id(port))
            with contextlib.suppress(Exception):
                port.close()

    def __enter__(self) -> "MidiPorts":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


JACK_CLIENTS = ("native", "rtmidi")


def open_ports(
    backend: str | None = None,
    names: PortNames = PortNames(),
    *,
    attach: bool | None = None,
    inbox: queue.SimpleQueue | None = None,
    jack_client: str = "native",
) -> MidiPorts:
    """Open (virtual) or attach to our input and outputs on ``backend``.

    ``attach`` None: virtual ports, except on Windows where it must attach.
    ``jack_client`` (JACK only): "native" puts every port on one JACK client of
    our own (:mod:`assistant.midi.jackmidi`; falls back to "rtmidi", with a warning,
    where the native module is not built); "rtmidi" opens one python-rtmidi
    client per port. Call from the main thread. Raises ``UserError`` with the fix
    on any failure, after closing what it had opened.
    """
    name = resolve_backend(backend)
    if jack_client not in JACK_CLIENTS:
        raise ValueError(f"jack_client must be one of {JACK_CLIENTS}, not {jack_client!r}")
    if attach is None:
        attach = name == "windows"
    if not attach and name == "windows":
        raise UserError("the windows backend has no virtual MIDI ports: create ports with loopMIDI "
                        "and attach to them by name (--attach)")
    be, inputs, outputs = probe(name)
    wanted = [("input", names.input), ("output", names.output)]
    if names.accepted:
        wanted.append(("output", names.accepted))
    if names.harmony:
        wanted.append(("output", names.harmony))
    if attach:  # resolve every name before opening anything
        wanted = [(kind, resolve_port(n, inputs if kind == "input" else outputs, kind, name)) for kind, n in wanted]
    inbox = queue.SimpleQueue() if inbox is None else inbox
    opened: list = []
    native = _native_jack_client(names.client) if name == "jack" and jack_client == "native" else None

    def open_one(kind: str, port_name: str):
        options = {} if attach else {"virtual": True, "client_name": names.client}
        try:
            with quiet_stderr():
                if native is not None:
                    own = _own_port_name(port_name) if attach else port_name
                    if kind == "input":
                        port = native.add_input(own, inbox, connect_from=port_name if attach else None)
                    else:
                        port = native.add_output(own, connect_to=port_name if attach else None)
                    port.name = port_name  # as python-rtmidi names it: the port we attached to
                elif kind == "input":
                    port = RtInput(BACKEND_APIS[name], inbox, port_name, virtual=not attach,
                                   client_name=names.client)
                else:
                    port = SafeOutput(be.open_output(port_name, **options))
        except (OSError, ValueError, RuntimeError) as err:
            how = "attach to" if attach else "create virtual"
            raise UserError(f"cannot {how} MIDI {kind} {port_name!r} on {name}: {err}: "
                            f"check the name with `midi-assistant ports --backend {name}`") from err
        opened.append(port)
        return port

    try:
        ports_ = [open_one(kind, n) for kind, n in wanted]
    except BaseException:
        for port in reversed(opened):
            with contextlib.suppress(Exception):
                port.close()
        if native is not None:
            native.close()
        raise
    in_port, out_port = ports_[0], ports_[1]
    rest = iter(ports_[2:])
    acc_port = next(rest) if names.accepted else out_port
    harmony_port = next(rest) if names.harmony else out_port
    used = ("native" if native is not None else "rtmidi") if name == "jack" else None
    attached = None
    if attach:  # role -> the name as given, for reattaching after an unplug
        roles = ["in", "out"] + (["accepted"] if names.accepted else []) + (["harmony"] if names.harmony else [])
        given = [names.input, names.output] + ([names.accepted] if names.accepted else []) + \
            ([names.harmony] if names.harmony else [])
        attached = dict(zip(roles, given))
    return MidiPorts(name, inbox, in_port, {"out": out_port, "accepted": acc_port, "harmony": harmony_port},
                     jack_client=used, jack_period_ms=native.period_ms() if native is not None else None,
                     native=native, attached=attached, opener=be.open_output)


def _native_jack_client(client_name: str):
    """Our one JACK client for every port, or None (logged) to use python-rtmidi's."""
    from . import jackmidi

    reason = jackmidi.available()
    if reason is not None:
        log.warning("JACK: %s; using python-rtmidi (one JACK client per port, more idle CPU)", reason)
        return None
    try:
        with quiet_stderr():
            return jackmidi.JackClient(client_name)
    except OSError as err:
        raise backend_error("jack", err) from err


def _own_port_name(target: str) -> str:
    """The name of our own port that is connected to the existing port ``target``."""
    return target.replace(":", " ")[:200]


def jack_period_ms(timeout_s: float = 2.0) -> float | None:
    """The running JACK server's period in ms (from jack_bufsize and jack_samplerate), or None.

    Main thread, at start-up only: it runs two small programs of the jackd2 package.
    """
    import re
    import shutil
    import subprocess

    values = []
    for tool in ("jack_bufsize", "jack_samplerate"):
        path = shutil.which(tool)
        if path is None:
            return None
        try:
            out = subprocess.run([path], capture_output=True, text=True, timeout=timeout_s).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        found = re.search(r"(\d+)", out)
        if found is None:
            return None
        values.append(int(found.group(1)))
    frames, rate = values
    return 1000.0 * frames / rate if rate else None

