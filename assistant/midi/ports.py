"""MIDI ports: open our virtual ports (or attach to existing ones) through mido/python-rtmidi.

Backends (``backend`` argument): 'alsa', 'jack', 'coremidi', 'windows', or None
for the platform default (Linux: ALSA if it starts, else JACK; macOS: CoreMIDI;
Windows: Windows MM). Selection goes through ``mido.Backend('mido.backends.rtmidi/API')``.

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
import gc
import logging
import os
import queue
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterator

import mido

from ..clock import now_ns
from ..errors import UserError
from .wire import WireDecoder

log = logging.getLogger(__name__)

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
class PortNames:
    """Names of our ports. ``accepted`` None: accepted material shares ``output``."""

    input: str = "MIDI Assistant In"
    output: str = "MIDI Assistant Out"
    accepted: str | None = "MIDI Assistant Accepted"
    client: str = "MIDI Assistant"
    harmony: str | None = None  # None: chords share ``output`` (on their own channel)


@dataclass(frozen=True, slots=True)
class PortList:
    backend: str
    inputs: list[str] = field(default_factory=list)  # ports we can read from
    outputs: list[str] = field(default_factory=list)  # ports we can write to


def _stamper(inbox: queue.SimpleQueue, decode: WireDecoder) -> Callable:
    """The input callback (runs on the MIDI thread, holding the GIL): stamp first,
    then decode the bytes into a mido Message (junk is counted and dropped) and
    enqueue ``(msg, ns)``. Nothing else; it never raises."""
    put, stamp = inbox.put, now_ns

    def on_midi(event, _data=None) -> None:
        ns = stamp()
        try:
            msg = decode(event[0])
        except Exception:  # a malformed event tuple from the backend: junk, never a dead thread
            msg = decode(b"")
        if msg is not None:
            put((msg, ns))

    return on_midi


def poll_interval(fast_s: float, idle_s: float, quiet_ns: int, hold_s: float) -> float:
    """The reader's next wait: ``fast_s`` until input has been quiet for ``hold_s``."""
    return fast_s if quiet_ns < hold_s * 1e9 else idle_s


class ArrivalStamps:
    """Rebuilds arrival times (:func:`now_ns` scale) from RtMidi's delta times.

    RtMidi timestamps each message in the backend's thread (on JACK with
    ``jack_get_time()`` in the process cycle) and hands out only the delta to
    the previous message. The deltas, summed in whole microseconds, give each
    message's time up to one unknown offset; every poll that finds messages
    bounds that offset from above (they arrived before the poll returned), and
    the smallest bound over a sliding window is the estimate. It converges to
    within a few microseconds of the poll that came soonest after an arrival,
    and the window lets it follow a slow drift between the two clocks. Used by
    one reader thread only.
    """

    def __init__(self, window_ns: int = 10 * 1_000_000_000):
        self.window_ns = window_ns
        self._chain_ns = 0
        self._started = False
        self._bounds: deque[tuple[int, int]] = deque()  # (poll_ns, bound), bounds increasing

    def stamp_batch(self, deltas_s: list[float], poll_ns: int) -> list[int]:
        """Stamps for messages with these deltas, all read before ``poll_ns``."""
        chains = []
        for delta in deltas_s:
            if self._started:
                self._chain_ns += round(delta * 1_000_000) * 1000
            self._started = True
            chains.append(self._chain_ns)
        bound = poll_ns - chains[-1]
        bounds = self._bounds
        while bounds and bounds[-1][1] >= bound:
            bounds.pop()
        bounds.append((poll_ns, bound))
        while bounds[0][0] < poll_ns - self.window_ns:
            bounds.popleft()
        offset = bounds[0][1]
        return [offset + c for c in chains]


class RtInput:
    """An input port on python-rtmidi with mido's ``name``/``close()``; feeds ``inbox``.

    ``mode`` 'callback': python-rtmidi calls :func:`_stamper` on the backend's
    MIDI thread. Right for ALSA, CoreMIDI and Windows, where that thread is the
    library's own.

    ``mode`` 'poll' (the default on JACK): no Python ever runs on JACK's
    realtime process thread. A Python callback there must take the GIL, and
    while any thread of ours holds the GIL longer than a period (1.33 ms) the
    whole JACK graph - the user's DAW included - misses its deadline: we
    measured xruns ("client ... was not finished") for the full length of a
    GIL hold. Instead a reader thread (``midi-in``) drains RtMidi's queue every
    ``poll_s`` and stamps with :class:`ArrivalStamps`, so stamps keep
    sub-period precision; the messages reach the inbox up to ``poll_s`` later.
    After ``FAST_HOLD_S`` without input it polls every ``idle_poll_s`` instead
    (idle CPU). The stamps' bounds are kept for 10 s (RtMidi's deltas drift
    against our clock: we measured about 300 ppm through the dummy driver), so
    the first message after a longer silence may be stamped up to
    ``idle_poll_s`` late. (The native JACK client of :mod:`assistant.midi.jackmidi`
    needs no polling and stamps every event with its frame's time.)

    Closing: python-rtmidi 1.5's ``cancel_callback()`` frees the callback's
    data while a callback may already be waiting for the GIL on the MIDI
    thread (a use-after-free: we saw heap corruption), and ``close_port()`` /
    ``delete()`` wait for that thread while holding the GIL (we saw hangs).
    mido's ``close()`` does both. Here, in callback mode, ``close()`` keeps the
    callback data alive, cancels, sleeps ``CLOSE_GRACE_S`` with the GIL released
    so an in-flight call can finish, and only then closes; in poll mode it
    stops the reader thread first.
    """

    CLOSE_GRACE_S = 0.01
    FAST_HOLD_S = 2.0
    IDLE_POLL_S = 0.01

    def __init__(self, api: str, inbox: queue.SimpleQueue, name: str, *, virtual: bool,
                 client_name: str | None, mode: str | None = None, poll_s: float = 0.001,
                 idle_poll_s: float | None = None):
        import rtmidi

        self.name = name
        self.mode = mode or ("poll" if api == "UNIX_JACK" else "callback")
        if self.mode not in ("poll", "callback"):
            raise ValueError(f"mode must be 'poll' or 'callback', not {mode!r}")
        self.closed = True
        self.decoder = WireDecoder(name)
        self.restarts = 0  # times the poll reader's loop failed and was restarted
        self._pinned: list = []
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None
        self._inbox = inbox
        self._polls = (poll_s, idle_poll_s or self.IDLE_POLL_S)
        self._rt = rtmidi.MidiIn(getattr(rtmidi, f"API_{api}"), name=client_name or "midi-assistant",
                                 queue_size_limit=4096)
        try:
            self._rt.ignore_types(sysex=False, timing=False, active_sense=True)
            if virtual:
                self._rt.open_virtual_port(name)
            else:
                self._open_named(name)
            self._start_reading()
        except BaseException:
            self._rt.delete()
            raise
        self.closed = False

    def _open_named(self, name: str) -> None:
        ports = self._rt.get_ports()
        if name not in ports:
            raise OSError(f"no input port {name!r}")
        self._rt.open_port(ports.index(name), "in")

    def _start_reading(self) -> None:
        if self.mode == "callback":
            self._rt.set_callback(_stamper(self._inbox, self.decoder))
            # python-rtmidi holds the callback data only in a private slot: keep it alive ourselves
            self._pinned += [r for r in gc.get_referents(self._rt) if isinstance(r, tuple)]
        else:
            self._stop = threading.Event()
            self._reader = threading.Thread(target=self._read, args=(self._inbox, *self._polls),
                                            name="midi-in", daemon=True)
            self._reader.start()

    def _stop_reading(self) -> None:
        if self._reader is not None:
            self._stop.set()
            self._reader.join()
            self._reader = None
        else:
            self._rt.cancel_callback()
            time.sleep(self.CLOSE_GRACE_S)

    def reattach(self, name: str) -> None:
        """Open the device port ``name`` again after it went away (an attached input; the
        port watch's thread). The counters go on; raises OSError if it is not there."""
        if self.closed:
            raise OSError(f"MIDI input {self.name!r} is closed")
        self._stop_reading()
        self._rt.close_port()
        try:
            self._open_named(name)
        finally:
            self._start_reading()
        self.name = name

    def _read(self, inbox: queue.SimpleQueue, poll_s: float, idle_poll_s: float) -> None:
        """The reader thread: drain, stamp, decode, enqueue; restarts its loop if anything
        in it ever raises (logged), so input never stops while the port is open."""
        while not self._stop.is_set():
            try:
                self._read_loop(inbox, poll_s, idle_poll_s)
            except Exception:
                self.restarts += 1
                log.exception("MIDI input %r: the reader failed and was restarted", self.name)
                self._stop.wait(0.01)

    def _read_loop(self, inbox: queue.SimpleQueue, poll_s: float, idle_poll_s: float) -> None:
        get, put, wait, decode = self._rt.get_message, inbox.put, self._stop.wait, self.decoder
        stamps = ArrivalStamps()
        interval, last_input = poll_s, now_ns()
        while not wait(interval):
            batch = []
            while (item := get()) is not None:
                batch.append(item)
            if not batch:
                interval = poll_interval(poll_s, idle_poll_s, now_ns() - last_input, self.FAST_HOLD_S)
                continue
            interval, last_input = poll_s, now_ns()
            for (data, _), ns in zip(batch, stamps.stamp_batch([d for _, d in batch], last_input)):
                msg = decode(data)
                if msg is not None:
                    put((msg, ns))

    def close(self) -> None:
        """Stop input without racing the MIDI thread (see the class docstring); idempotent."""
        if self.closed:
            return
        self.closed = True
        self._stop_reading()
        self._rt.close_port()
        self._rt.delete()


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


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
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


def _check_backend_name(backend: str) -> str:
    if backend not in BACKEND_APIS:
        raise UserError(f"unknown MIDI backend {backend!r}: use one of {', '.join(BACKEND_APIS)}")
    return backend


def _backend_error(backend: str, err: Exception) -> UserError:
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


def _probe(backend: str) -> tuple[mido.Backend, list[str], list[str]]:
    """Start ``backend`` and list its ports, or raise a UserError with the fix."""
    try:
        be = mido.Backend(f"mido.backends.rtmidi/{BACKEND_APIS[backend]}", load=True)
        with _quiet_stderr():
            return be, be.get_input_names(), be.get_output_names()
    except (ImportError, OSError, ValueError, RuntimeError) as err:
        raise _backend_error(backend, err) from err


def default_backend() -> str:
    """The platform's backend; on Linux ALSA if it starts, else JACK."""
    if sys.platform == "darwin":
        return "coremidi"
    if sys.platform.startswith("win"):
        return "windows"
    try:
        _probe("alsa")
        return "alsa"
    except UserError as alsa_err:
        try:
            _probe("jack")
            return "jack"
        except UserError:
            raise UserError(
                "no MIDI backend can start: ALSA has no sequencer (/dev/snd/seq) and no JACK server is "
                "running: start a JACK server (e.g. `jackd -d dummy -r 48000 -p 64`) "
                "or give this machine an ALSA sequencer (/dev/snd/seq)"
            ) from alsa_err


def resolve_backend(backend: str | None) -> str:
    return default_backend() if backend is None else _check_backend_name(backend)


def list_ports(backend: str | None = None) -> PortList:
    """The ports of ``backend`` we could read from (inputs) and write to (outputs)."""
    name = resolve_backend(backend)
    _, inputs, outputs = _probe(name)
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
    be, inputs, outputs = _probe(name)
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
            with _quiet_stderr():
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
        with _quiet_stderr():
            return jackmidi.JackClient(client_name)
    except OSError as err:
        raise _backend_error("jack", err) from err


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

