"""Sends planned MIDI on time: one thread, a heap of events in ticks, named lanes.

Events are planned in integer ticks and turned into monotonic ns through the
clock only when the next one is due, so tempo changes are followed. The thread
sleeps with ``Condition.wait`` until about ``spin_ns`` before the deadline (in
slices of at most ``max_sleep_s``, so a tempo change is noticed), then spins to
it and sends everything that is due.

Events belong to a *lane* ("suggestion", "accepted", "harmony", ...).
:meth:`Scheduler.replace` swaps a lane's future for a new plan; a note of that
lane which would be left without its note-off (already sounding, or starting
before the new plan) gets one at the new plan's start (now, if that is past).
Every sounding note is tracked per (output, channel, pitch); stop, panic,
transport stop, close and the crash path send a note-off for each of them and CC
123 (All Notes Off) on every channel used, so no note is left hanging.

Outputs are sinks: a callable ``sink(msg)`` or an object with ``send(msg)`` (a
mido output port, :class:`assistant.midi.fakeports.FakeOutput`), keyed by name;
``Event.output`` picks one ("out" by default). A sink with ``timed = True``
(:class:`assistant.midi.jackmidi.JackOutput`) takes ``send(msg, at_ns)`` and places the
message at that time itself (to the audio frame, on JACK): its events must reach
it at least ``timed_ahead_ns`` early (its commit time), and they go with their time.
A timed sink that is also ``withdrawable`` takes ``send(msg, at_ns, event_id)`` and
``withdraw(from_ns)`` (which returns the ids it took back, or None if it could
not): its events are handed over ``hold_ahead_ns`` early (tens of ms), so a late
scheduler thread on a busy machine is not heard; a plan change (``replace``,
``panic``, transport) first takes back what was handed over and not yet
committed, and puts it back in the heap (the record of what was handed over is
:mod:`assistant.live.handover`'s). Messages without a time (panic, orphan
note-offs) go to a timed sink with ``at_ns=0``: at once, but never before what it
already holds, so a note-off never overtakes its note-on.

One module of about 600 lines, on purpose: the heap, the dispatch, the count of
sounding notes and the silencing share one lock and one order of events, and each of
the guarantees above (in time, never hanging, taken back before a plan changes) spans
all four; the record of what was handed over is :mod:`assistant.live.handover`.

Threading contract:

* ``schedule``/``replace``/``clear``/``panic``/``all_notes_off``/``close`` may be
  called from any thread; they take the scheduler lock for a few microseconds
  (plus the sends of a panic) and never wait for the scheduler thread.
* Sinks are called with the scheduler lock held, from the scheduler thread, or
  from the thread that calls ``panic``/``all_notes_off``/``replace`` (orphan
  note-offs due now are sent by the dispatcher, not by ``replace``) or that
  drives the clock (transport stop). Never two sends at once. A sink must not
  block and must not call back into the scheduler.
* ``start()`` sets ``sys.setswitchinterval`` (process-wide!) to
  ``switch_interval_s`` if it is longer, so a pure-Python thread elsewhere holds
  the GIL for at most that long; and the thread tries SCHED_FIFO at
  ``rt_priority`` (keep it below JACK's, 10 by default), silently staying
  normal without the permission (``realtime`` tells which).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import operator
import os
import statistics
import sys
import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import mido

from ..clock import NS_PER_S, TransportListener, now_ns
from ..music import Note
from .handover import Handed, HandOver

log = logging.getLogger(__name__)

DEFAULT_OUTPUT = "out"
ALL_NOTES_OFF = 123

Sink = Callable[[mido.Message], None] | Any


@dataclass(frozen=True, slots=True)
class Event:
    """One message to send at ``tick`` on output ``output``."""

    tick: int
    msg: mido.Message
    output: str = DEFAULT_OUTPUT
    offset_ns: int = 0  # micro-timing: sent this much after (or, negative, before) the tick


def note_events(notes: Iterable[Note], channel: int = 0, output: str = DEFAULT_OUTPUT,
                offsets_ns: Iterable[int] | None = None) -> list[Event]:
    """Note-on/note-off event pairs for ``notes`` on ``channel`` (0..15).

    ``offsets_ns`` (one per note) shifts both events of a note by the same amount.
    """
    out = []
    offsets = iter(offsets_ns) if offsets_ns is not None else None
    for n in notes:
        off = next(offsets) if offsets is not None else 0
        out.append(Event(n.onset, mido.Message("note_on", channel=channel, note=n.pitch, velocity=n.velocity),
                         output, off))
        out.append(Event(n.end, mido.Message("note_off", channel=channel, note=n.pitch, velocity=0), output, off))
    return out


class SchedulerDied(RuntimeError):
    """The scheduler thread stopped on an exception; its notes were silenced."""


# heap items: (tick, order, seq, _Item); order sends note-offs first at a tick
_OFF, _OTHER, _ON = 0, 1, 2


@dataclass(slots=True)
class _Item:
    lane: str
    output: str
    msg: mido.Message | None  # None: the stop sentinel
    closer: bool = False  # an orphan note-off: sent only if the note still sounds
    offset_ns: int = 0


def _order(msg: mido.Message) -> int:
    if msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0):
        return _OFF
    return _ON if msg.type == "note_on" else _OTHER


def _sink_send(sink: Sink) -> Callable[[mido.Message, int, int], None]:
    """``send(msg, at_ns, event_id)`` for ``sink``: its own for a withdrawable sink, its
    ``send(msg, at_ns)`` for a timed one, else one that drops the time and id."""
    send = getattr(sink, "send", None)
    if not callable(send):
        send = sink if callable(sink) else None
    if send is None:
        raise TypeError(f"output sink {sink!r} is neither callable nor has send(msg)")
    if getattr(sink, "timed", False):
        if getattr(sink, "withdrawable", False):
            return send
        return lambda msg, at_ns, _id: send(msg, at_ns)
    return lambda msg, _at_ns, _id: send(msg)


class Scheduler:
    """Dispatches timed MIDI events from one thread (see the module docstring).

    Without :meth:`start` nothing runs on its own: tests call
    :meth:`dispatch_due` with a fake clock's time and get exact results.
    """

    def __init__(
        self,
        clock,
        outputs: Mapping[str, Sink] | Sink,
        *,
        spin_ns: int = 500_000,
        max_sleep_s: float = 0.01,
        silence_on_stop: bool = True,
        switch_interval_s: float | None = 0.0005,
        rt_priority: int | None = 5,
        name: str = "scheduler",
        lead_ns: int = 0,
        timed_ahead_ns: int = 2_000_000,
        hold_ahead_ns: int = 40_000_000,
        port_offsets_ns: Mapping[str, int] | None = None,
        time_base_shift: Callable[[int], int] | None = None,
    ):
        self.clock = clock
        if not isinstance(outputs, Mapping):
            outputs = {DEFAULT_OUTPUT: outputs}
        self._send = {name_: _sink_send(s) for name_, s in outputs.items()}  # send(msg, at_ns, event_id)
        # how early (before its lead-corrected time) an event must reach each output, and
        # how early it is handed over: much earlier where the output can take it back
        self._commit = {name_: timed_ahead_ns if getattr(s, "timed", False) else 0 for name_, s in outputs.items()}
        self._withdrawable = {name_: s for name_, s in outputs.items()
                              if getattr(s, "timed", False) and getattr(s, "withdrawable", False)}
        self._ahead = {name_: max(self._commit[name_], hold_ahead_ns) if name_ in self._withdrawable
                       else self._commit[name_] for name_ in outputs}
        # each note's last placed time on a timed output, and what a withdrawable one holds
        self._handover = HandOver([name_ for name_, ahead in self._commit.items() if ahead], self._withdrawable)
        self.late_events = 0  # events that reached their output after its commit time (may sound late)
        self.withdrawn = 0  # events taken back from outputs (and planned again or dropped)
        self.send_errors = 0  # events an output refused (its port gone): dropped, never fatal
        self.heap_high = 0  # the most events planned at once
        # the last note-ons handed over: (tick, time, handed at, output, channel, pitch, how far
        # the outputs' time base had moved for that time), for the benchmarks to explain any
        # note off its time (``time_base_shift``: our JACK client's base_shift_ns)
        self.handed_notes: deque[tuple[float, int, int, str, int, int, int]] = deque(maxlen=1024)
        self._time_base_shift = time_base_shift or (lambda _ns: 0)
        self._failing: set[str] = set()  # outputs whose last send failed (logged once)
        self.spin_ns = spin_ns
        self.lead_ns = lead_ns  # send this much before each event's time (the output's latency)
        # each output's own offset (config; > 0: later), and the DAW's learnt alignment for all
        # (set by the engine thread, read here: a plain int; see assistant.live.alignment)
        self.port_offsets_ns = {name_: int((port_offsets_ns or {}).get(name_, 0)) for name_ in outputs}
        self.placement_ns = 0
        self.max_sleep_ns = int(max_sleep_s * NS_PER_S)
        self.switch_interval_s = switch_interval_s
        self.rt_priority = rt_priority
        self.name = name
        self.realtime = False
        self.error: BaseException | None = None

        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, int, _Item]] = []
        self._seq = itertools.count()
        self._sounding: Counter[tuple[str, str, int, int]] = Counter()  # (lane, output, ch, pitch)
        self._channels: set[tuple[str, int]] = set()  # (output, channel) ever sent on
        self._thread: threading.Thread | None = None
        self._closed = False
        self.lateness_ns: deque[int] = deque(maxlen=2048)  # hand-over time minus commit time (< 0: in time)

        self._listener: TransportListener | None = None
        if silence_on_stop and hasattr(clock, "add_listener"):
            self._listener = self._on_transport
            clock.add_listener(self._listener)

    # -- public API (any thread) -------------------------------------------------
    def start(self) -> "Scheduler":
        """Start the dispatch thread (once)."""
        if self._thread is not None:
            return self
        if self.switch_interval_s and sys.getswitchinterval() > self.switch_interval_s:
            sys.setswitchinterval(self.switch_interval_s)
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def schedule(self, events: Iterable[Event], lane: str = "default") -> None:
        """Add ``events`` to ``lane`` without touching what is already planned."""
        with self._cond:
            self._check_alive()
            self._add_locked(events, lane)
            self._cond.notify()

    def replace(self, lane: str, events: Iterable[Event], from_tick: int) -> None:
        """Replace ``lane``'s events at ticks >= ``from_tick`` with ``events``.

        A note of the lane that would be orphaned (its note-on sent or still
        planned before ``from_tick``, its note-off among the replaced events)
        gets a note-off at ``from_tick``, before any new note-on there; if
        ``from_tick`` is past it goes out at once.
        """
        from_tick = operator.index(from_tick)
        events = list(events)
        with self._cond:
            self._check_alive()
            self._withdraw_matching_locked(lambda h: h.item.lane == lane and h.tick >= from_tick)
            keep, removed = [], []
            for entry in self._heap:
                item = entry[3]
                (removed if item.lane == lane and item.msg is not None and entry[0] >= from_tick else keep).append(entry)
            balance: Counter[tuple[str, int, int]] = Counter()
            for _, order, _, item in removed:
                if item.closer or item.msg.type not in ("note_on", "note_off"):
                    continue
                key = (item.output, item.msg.channel, item.msg.note)
                balance[key] += 1 if order == _OFF else -1
            if removed:
                heapq.heapify(keep)
                self._heap = keep
            for (output, channel, pitch), n in balance.items():
                # not before the latest note-on of that note the output committed (it plays anyway)
                tick, offset = from_tick, 0
                committed = self._last_committed_on(lane, output, channel, pitch)
                if committed is not None and committed.tick > from_tick:
                    tick, offset = committed.tick, committed.item.offset_ns
                for _ in range(max(n, 0)):
                    msg = mido.Message("note_off", channel=channel, note=pitch, velocity=0)
                    item = _Item(lane, output, msg, True, offset_ns=offset)
                    heapq.heappush(self._heap, (tick, _OFF, next(self._seq), item))
            self._add_locked(events, lane)
            self._cond.notify()

    def clear(self, lane: str | None = None, from_tick: int | None = None) -> None:
        """Drop planned events (of ``lane``, or all lanes) and close their notes.

        ``from_tick`` None means everything planned; orphaned notes then stop now.
        """
        with self._cond:
            lanes = {e[3].lane for e in self._heap if e[3].msg is not None} | {k[0] for k in self._sounding}
        if lane is not None:
            lanes = {lane}
        tick = from_tick if from_tick is not None else -(2**62)
        for name in lanes:
            self.replace(name, [], tick)

    def all_notes_off(self) -> None:
        """Note-off for every sounding note and CC 123 on every channel used; the plan stays
        (what was handed over and not committed is taken back and handed over again)."""
        with self._cond:
            self._withdraw_all_locked()
            self._silence_locked()
            self._cond.notify()

    def panic(self) -> None:
        """Drop the whole plan and silence everything (stop, transport stop)."""
        with self._cond:
            self._withdraw_all_locked()
            self._heap = [e for e in self._heap if e[3].msg is None]
            self._silence_locked()
            self._cond.notify()

    def close(self, timeout: float | None = 2.0) -> None:
        """Stop the thread (via a sentinel), silence everything; idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            heapq.heappush(self._heap, (float("-inf"), 0, next(self._seq), _Item("", "", None)))
            self._cond.notify()
        if self._listener is not None and hasattr(self.clock, "remove_listener"):
            self.clock.remove_listener(self._listener)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self.panic()  # no-op if the thread already did it; covers a stuck or unstarted thread

    def __enter__(self) -> "Scheduler":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- inspection (any thread) ---------------------------------------------------
    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def pending(self, lane: str | None = None) -> list[Event]:
        """The planned events (of ``lane``) in dispatch order."""
        with self._cond:
            entries = sorted(e for e in self._heap if e[3].msg is not None and (lane is None or e[3].lane == lane))
        return [Event(int(t), it.msg, it.output, it.offset_ns) for t, _, _, it in entries]

    def sounding(self) -> set[tuple[str, int, int]]:
        """(output, channel, pitch) of every note sounding now."""
        with self._cond:
            return {(o, c, p) for (_, o, c, p), n in self._sounding.items() if n > 0}

    def next_deadline_ns(self) -> int | None:
        with self._cond:
            if self._heap and self._heap[0][3].msg is not None:
                return self._deadline(self._heap[0][0], self._heap[0][3])
        return None

    def send_lead_ns(self, output: str) -> int:
        """How long before its time an event for ``output`` must leave the scheduler at the
        latest (its lead and commit time) to be on time."""
        return self.lead_ns + self._commit[output] + max(0, -(self.port_offsets_ns[output] + self.placement_ns))

    def _deadline(self, tick: float, item: _Item) -> int:
        """When an event is sent: its tick's time plus its micro-timing, its output's offset
        and the DAW's alignment, less the output latency; for a timed output,
        ``timed_ahead_ns`` before that (the time goes with it)."""
        return (self.clock.ns_at(tick) + item.offset_ns + self.port_offsets_ns[item.output] + self.placement_ns
                - self.lead_ns - self._ahead[item.output])

    def lateness_us(self) -> dict[str, float]:
        """p50/p99/max of hand-over time minus commit time over the recent dispatches, in us
        (negative: that much in time; for a non-timed output, send time minus deadline)."""
        data = sorted(self.lateness_ns)
        return _percentiles_us(data)

    # -- dispatch ----------------------------------------------------------------------
    def dispatch_due(self, now: int | None = None) -> int:
        """Send every event whose deadline is at or before ``now``; returns how many.

        Called by the scheduler thread; tests call it directly with a fake clock.
        """
        now = self.clock.now() if now is None else now
        with self._cond:
            return self._dispatch_locked(now)

    def _dispatch_locked(self, now: int) -> int:
        heap = self._heap
        clock = self.clock
        sent = 0
        if not clock.running:
            return 0
        while heap and heap[0][3].msg is not None:
            deadline = self._deadline(heap[0][0], heap[0][3])
            if deadline > now:
                break
            tick, order, seq, item = heapq.heappop(heap)
            at_ns = self._handover.in_note_order(item.output, item.msg, deadline + self._ahead[item.output])
            if self._send_locked(tick, order, seq, item, at_ns):
                sent += 1
                msg = item.msg
                if msg.type == "note_on" and msg.velocity > 0:
                    self.handed_notes.append((tick, at_ns, now, item.output, msg.channel, msg.note,
                                              self._time_base_shift(at_ns)))
                late = now - (at_ns - self._commit[item.output])
                self.lateness_ns.append(late)
                if late > 0 and self._commit[item.output]:
                    self.late_events += 1
        return sent

    def _send_locked(self, tick: float, order: int, seq: int, item: _Item, at_ns: int) -> bool:
        """Send ``item`` (``at_ns``: its time, for a timed output); False if it was dropped."""
        msg = item.msg
        delta = 0
        if msg.type in ("note_on", "note_off"):
            key = (item.lane, item.output, msg.channel, msg.note)
            if order == _OFF:
                if item.closer and self._sounding[key] <= 0:
                    return False
                delta = -1 if self._sounding[key] > 0 else 0
            else:
                delta = 1
            self._count_sounding(key, delta)
        if hasattr(msg, "channel"):
            self._channels.add((item.output, msg.channel))
        event_id = self._handover.record(item.output, tick, order, seq, item, at_ns, delta)
        try:
            self._send[item.output](msg, at_ns, event_id)
        except OSError as err:  # the port is gone (a JACK server that stopped): the event is lost
            self._handover.refused(item.output, event_id)
            if delta:
                self._count_sounding((item.lane, item.output, msg.channel, msg.note), -delta)
            self.send_errors += 1
            if item.output not in self._failing:
                self._failing.add(item.output)
                log.warning("scheduler: cannot send on %r (%s); dropping its events until it works again",
                            item.output, err)
            return False
        self._failing.discard(item.output)
        return True

    def _count_sounding(self, key: tuple[str, str, int, int], delta: int) -> None:
        """Add ``delta`` to a note's sounding count (lock held); a count that reaches 0 goes."""
        if not delta:
            return
        count = self._sounding[key] + delta
        if count > 0:
            self._sounding[key] = count
        else:
            self._sounding.pop(key, None)

    # -- taking back what was handed over (withdrawable outputs; lock held) -------------
    def _withdraw_matching_locked(self, wanted: Callable[[Handed], bool]) -> None:
        """Take back, from each output, everything handed over from the earliest event
        that ``wanted`` picks: those not committed go back to the heap. Where every such
        event is due within the output's commit time, none can come back and the output
        is not asked (its answer waits for its next cycle: a period, on JACK)."""
        now = self.clock.now()
        for output, earliest, latest in list(self._handover.earliest_matching(wanted)):
            if latest >= now + self._commit[output]:
                self._withdraw_locked(output, earliest)

    def _withdraw_all_locked(self) -> None:
        for output in self._handover.holding():
            self._withdraw_locked(output, 0)

    def _withdraw_locked(self, output: str, from_ns: int) -> None:
        """Take back ``output``'s uncommitted events at or after ``from_ns`` into the heap,
        undoing what handing them over did to the sounding notes."""
        for h in self._handover.withdraw(output, from_ns):
            self.withdrawn += 1
            msg = h.item.msg
            if h.delta:
                self._count_sounding((h.item.lane, h.item.output, msg.channel, msg.note), -h.delta)
            heapq.heappush(self._heap, (h.tick, h.order, h.seq, h.item))

    def _last_committed_on(self, lane: str, output: str, channel: int, pitch: int) -> Handed | None:
        """The latest note-on of that note that the output holds and will play, or None."""
        ons = [h for h in self._handover.handed(output) if h.order == _ON and h.item.lane == lane
               and h.item.msg.channel == channel and h.item.msg.note == pitch]
        return max(ons, key=lambda h: h.at_ns, default=None)

    def _silence_locked(self) -> None:
        """Best effort: every send is tried even if some raise; the first error is logged."""
        notes = sorted({(o, c, p) for (_, o, c, p), n in self._sounding.items() if n > 0})
        self._sounding.clear()
        failures = 0
        for output, channel, pitch in notes:
            failures += self._try_send(output, mido.Message("note_off", channel=channel, note=pitch, velocity=0))
        for output, channel in sorted(self._channels):
            failures += self._try_send(
                output, mido.Message("control_change", channel=channel, control=ALL_NOTES_OFF, value=0))
        self._channels.clear()
        if failures:
            log.warning("scheduler: %d note-off/all-notes-off messages could not be sent", failures)

    def _try_send(self, output: str, msg: mido.Message) -> int:
        try:
            self._send[output](msg, 0, 0)
            return 0
        except Exception:  # a dead port must not stop us silencing the others
            log.debug("scheduler: send %s on %s failed", msg, output, exc_info=True)
            return 1

    def _add_locked(self, events: Iterable[Event], lane: str) -> None:
        try:
            self._add_events_locked(events, lane)
        finally:
            if len(self._heap) > self.heap_high:
                self.heap_high = len(self._heap)

    def _add_events_locked(self, events: Iterable[Event], lane: str) -> None:
        for ev in events:
            if ev.output not in self._send:
                raise ValueError(f"event for unknown output {ev.output!r}; outputs: {sorted(self._send)}")
            tick = operator.index(ev.tick)
            item = _Item(lane, ev.output, ev.msg, offset_ns=ev.offset_ns)
            heapq.heappush(self._heap, (tick, _order(ev.msg), next(self._seq), item))

    def _check_alive(self) -> None:
        if self.error is not None:
            raise SchedulerDied(f"the scheduler thread died: {self.error!r}") from self.error
        if self._closed:
            raise SchedulerDied("the scheduler is closed")

    def _on_transport(self, event: str, tick: float, ns: int) -> None:
        # runs on the clock's driving thread: Stop silences; Start/locate void the plan;
        # a corrected pulse count (regrid) moves every tick's time: what was handed over
        # and not yet committed is planned again
        if event in ("stop", "start", "locate"):
            self.panic()
        elif event == "regrid":
            with self._cond:
                self._withdraw_all_locked()
                self._cond.notify()
        else:
            with self._cond:
                self._cond.notify()

    # -- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        self.realtime = _try_realtime(self.rt_priority)
        try:
            while True:
                with self._cond:
                    deadline = self._wait_locked()
                if deadline is None:
                    break
                while now_ns() < deadline:  # the last ~0.5 ms: spin
                    pass
                with self._cond:
                    self._dispatch_locked(now_ns())
        except BaseException as exc:
            self.error = exc
            log.error("scheduler thread died; silencing all notes", exc_info=True)
            raise
        finally:
            with self._cond:
                self._withdraw_all_locked()
                self._heap = []
                self._silence_locked()

    def _wait_locked(self) -> int | None:
        """Wait (lock held, released while waiting) until an event is within
        ``spin_ns`` of its deadline; return that deadline, or None on the sentinel."""
        heap = self._heap
        while True:
            heap = self._heap
            if heap and heap[0][3].msg is None:
                return None
            if not heap:  # nothing planned: schedule/replace/close notify us
                self._cond.wait(0.5)
                continue
            if not self.clock.running:
                self._cond.wait(self.max_sleep_ns / NS_PER_S)
                continue
            deadline = self._deadline(heap[0][0], heap[0][3])
            remaining = deadline - now_ns()
            if remaining <= self.spin_ns:
                return deadline
            self._cond.wait(min(remaining - self.spin_ns, self.max_sleep_ns) / NS_PER_S)


def _try_realtime(priority: int | None) -> bool:
    """SCHED_FIFO for the calling thread; False (and nothing changed) if not allowed."""
    if not priority or not hasattr(os, "sched_setscheduler"):
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        return True
    except (OSError, ValueError):
        return False


def _percentiles_us(sorted_ns: list[int]) -> dict[str, float]:
    if not sorted_ns:
        return {"n": 0}
    n = len(sorted_ns)

    def pick(q: float) -> float:
        return round(sorted_ns[min(n - 1, int(q * n))] / 1000, 1)

    return {"n": n, "p50_us": pick(0.5), "p99_us": pick(0.99), "max_us": round(sorted_ns[-1] / 1000, 1),
            "mean_us": round(statistics.fmean(sorted_ns) / 1000, 1)}
