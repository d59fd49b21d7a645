"""The real-time engine: ports -> capture -> generator -> planner -> scheduler, clock beside.

Threads (see DESIGN.md section 2):

* MIDI input callback (in `assistant.midi.ports`): stamps and enqueues, nothing else.
* Engine thread (``Engine._loop``, this module): drains the inbox; feeds clock
  messages to the clock follower, control messages to the actions, notes to the
  capture; feeds each completed melody note to the generator and the session;
  detects phrase ends (call mode) and bar lines (ghost mode) and posts
  generation requests. It never waits for the generator.
* The lanes, called here on the engine thread with what the player does: the
  melody (`assistant.live.melody_lane`: answers, continuations, the answer
  prepared early, accept) and the accompaniment (`assistant.live.harmony_lane`).
* Generator worker (`assistant.live.generator`): model steps; hands each note to
  the melody lane, which humanises it and puts it on the scheduler's heap.
* Scheduler thread (`assistant.live.scheduler`): sends on time; silences on stop.
* UI or main thread: reads ``snapshot()`` and calls ``post(action)``.

Actions posted from any thread go through the same inbox as MIDI, so the engine
thread is the only one that changes engine state; what the melody lane shares with
the generator worker it guards itself.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from dataclasses import replace

from ..clock import floor_tick
from ..music.harmony import NO_CHORD, KeyTracker, chord_name
from .alignment import DawAlignment
from .capture import Capture, MelodyNote, NoteEnded, NoteStarted, PhraseEnd
from .harmony_lane import HarmonyLane
from .inbox import ActionRequest, PlannedMelody
from .melody_lane import MelodyLane
from .actions import PERFORM
from .planner import Planner
from .state import EngineSettings, Snapshot

log = logging.getLogger(__name__)

CLOCK_TYPES = {"clock", "start", "stop", "continue", "songpos"}
POLL_S = 0.005  # while a phrase may end or a bar line may need a ghost refresh
IDLE_POLL_S = 0.25  # otherwise (nothing held, no phrase in progress): inbox items still wake at once
PLAYED_TYPES = frozenset({"note_on", "note_off", "pitchwheel", "control_change"})  # what input_monitor hears
_STOP = (object(), 0)  # the inbox item that ends the engine loop


class Engine:
    """Owns the engine thread and wires the parts; see the module docstring."""

    def __init__(self, *, clock, ports, model, scheduler, controls, session=None, settings=None,
                 capture: Capture | None = None, planner: Planner | None = None,
                 suggestion_channel: int = 0, accepted_channel: int = 0, accepted_output: str = "accepted",
                 clock_follower=None, play_when_stopped: bool = False, seed: int | None = None,
                 accompanist=None, harmony_channel: int = 1, harmony_output: str = "out",
                 accepted_harmony_channel: int = 1, key_tracker: KeyTracker | None = None,
                 harmony_velocity: int | str = "follow", alignment: DawAlignment | None = None,
                 input_monitor=None):
        self.clock = clock
        # the DAW's constant offset between its notes and its clock (default: none learnt)
        self.alignment = alignment or DawAlignment(learn=False)
        self.follower = clock_follower  # a MidiClockFollower fed from the inbox, or None
        # ``input_monitor(msg, ns)``: also hears the player's notes (audio); must not block
        self.input_monitor = input_monitor
        self.ports = ports
        self.scheduler = scheduler
        self.controls = controls
        self.session = session
        self.settings = settings or EngineSettings()
        self.capture = capture or Capture(clock)
        self.planner = planner or Planner()
        self.play_when_stopped = play_when_stopped
        # the accompaniment (its accompanist None: no chord model loaded)
        self.harmony = HarmonyLane(accompanist, clock, scheduler, self.planner, channel=harmony_channel,
                                   output=harmony_output, accepted_channel=accepted_harmony_channel,
                                   velocity=harmony_velocity)
        self.key_tracker = key_tracker or KeyTracker()
        self._key_estimate = self.key_tracker.estimate
        self._held_chord: str | None = None
        self.inbox = ports.inbox
        self.messages: deque[str] = deque(maxlen=6)  # status lines for the UI (any thread appends)
        self.messages_received = 0  # MIDI messages taken from the inbox (engine thread)
        self.errors = 0  # exceptions caught in the engine loop (each logged or counted, never fatal)
        self.inbox_high = 0  # the most items waiting in the inbox behind the one taken
        # the melody suggestions: answers, continuations, the answer prepared early
        self.melody = MelodyLane(self, model, suggestion_channel=suggestion_channel,
                                 accepted_channel=accepted_channel, accepted_output=accepted_output, seed=seed)
        self.generator = self.melody.generator
        if self.settings.harmony and not self.harmony.available:
            self.settings.harmony = False
            self.note("harmony needs the chord model (see the log): accompaniment is off")
        self._thread = threading.Thread(target=self._loop, name="engine", daemon=True)
        self._stopped = threading.Event()
        self.error: BaseException | None = None

    # -- lifecycle (main thread) ---------------------------------------------------
    def start(self) -> "Engine":
        self.generator.start()
        self.scheduler.start()
        self._thread.start()
        return self

    def post(self, action: str) -> None:
        """Ask the engine thread to perform ``action`` (any thread; never blocks)."""
        self.inbox.put((ActionRequest(action), self.clock.now()))

    def stop(self, timeout: float = 3.0) -> None:
        """Stop every thread and silence every output; idempotent. Main thread."""
        if self._thread.is_alive():
            self.inbox.put(_STOP)
            self._thread.join(timeout)
        self.generator.close()
        self.scheduler.close()
        close_clock = getattr(self.clock, "close", None)  # a clock with a thread of its own (Link)
        if callable(close_clock):
            close_clock()
        if self.session is not None:
            self.session.close()
        self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the engine thread ends (quit action or error); True if it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def note(self, text: str, level: int = logging.INFO) -> None:
        """A status line for the UI and the log (any thread)."""
        log.log(level, text)
        self.messages.append(text)

    # -- engine thread -------------------------------------------------------------
    def _loop(self) -> None:
        try:
            while True:
                try:
                    item = self.inbox.get(timeout=self._poll_interval())
                except queue.Empty:
                    item = None
                if item is _STOP:
                    return
                backlog = self.inbox.qsize()
                if backlog > self.inbox_high:
                    self.inbox_high = backlog
                if item is not None and not self._guarded(item, lambda: self._handle(*item)):
                    return
                self._guarded(None, lambda: self._tick(self.clock.now()))
        except BaseException as err:  # silence first, then let the main thread know
            self.error = err
            log.exception("engine thread failed")
            self.scheduler.panic()
        finally:
            self._stopped.set()

    ERROR_LINES = 5  # failures logged with their traceback; after that only counted

    def _guarded(self, item, step) -> bool:
        """Run one step of the loop; an exception in it is logged (the first few in full)
        and counted, and the loop goes on: one bad message or one fault in a lane must
        not make the assistant deaf. Returns False only when the step asks to stop."""
        try:
            return step() is not False
        except Exception as err:
            self.errors += 1
            what = f"while handling {item[0]!r}" if item is not None else "in the engine's periodic work"
            if self.errors <= self.ERROR_LINES:
                log.error("engine: %s %s (%s); it goes on%s", type(err).__name__, what, err,
                          "; later errors are only counted" if self.errors == self.ERROR_LINES else "",
                          exc_info=True)
            self.messages.append(f"error {what}: {type(err).__name__}: {err}" if self.errors <= self.ERROR_LINES
                                  else f"{self.errors} errors so far (see the log)")
            return True

    def _poll_interval(self) -> float:
        """Short while a phrase end or a bar line may be due; long when idle (CPU)."""
        busy = (self.capture.in_phrase or self.settings.mode == "ghost"
                or (self.settings.harmony and self.harmony.active))
        return POLL_S if busy else IDLE_POLL_S

    def _handle(self, msg, ns: int) -> bool:
        """One inbox item (a MIDI message, an ActionRequest or a PlannedMelody, with its
        arrival stamp); returns False to stop the engine."""
        if isinstance(msg, ActionRequest):
            return self.perform(msg.name)
        if isinstance(msg, PlannedMelody):
            self.harmony.hear_plan(msg.notes, msg.replace_from)
            return True
        self.messages_received += 1
        if msg.type in CLOCK_TYPES:
            if self.follower is not None:
                was_running = self.follower.running
                self.follower.feed(msg, ns)
                if was_running and not self.follower.running:
                    self.melody.drop("transport stopped")
                    self.harmony.reset()
            return True
        if msg.type == "sysex":
            return True
        action = self.controls.action_for(msg) if self.controls is not None else None
        if action is not None:
            return self.perform(action)
        if self.controls is not None and self.controls.consumes(msg):
            return True
        if self.input_monitor is not None and msg.type in PLAYED_TYPES:
            self.input_monitor(msg, ns)
        for event in self.capture.feed(msg, ns):
            self.hear(event, ns)
        return True

    def _tick(self, ns: int) -> None:
        for event in self.capture.poll(ns):
            self.hear(event, ns)
        self.melody.tick(ns)
        if self.settings.harmony and self.transport_ok():
            self.harmony.tick(ns)
        if self.session is not None:
            self.session.flush(min_interval_s=2.0)

    def transport_ok(self) -> bool:
        """The DAW's transport runs (or we play while it is stopped)."""
        return self.clock.running or self.play_when_stopped

    def hear(self, event, ns: int) -> None:
        """One event of the capture (a note struck or ended, a melody note, a phrase end). Engine thread."""
        if not self.transport_ok() and not isinstance(event, PhraseEnd):
            # the DAW is stopped: its clock does not move, so these notes have no
            # musical time; the model and the capture file do not take them
            return
        if isinstance(event, (NoteStarted, NoteEnded)):
            self._hear_held(event, ns)
        if isinstance(event, MelodyNote):
            self.melody.hear(event.note)
            self.planner.observe_player(event.note.pitch, event.note.velocity)
            self._key_estimate = self.key_tracker.update(event.note)
            self.harmony.hear_melody_note(event.note)
        elif isinstance(event, NoteEnded):
            self.planner.observe_timing(event.played.onset_offset_ns)
            self.alignment.observe(event.played.onset_offset_ns)
            self.scheduler.placement_ns = self.alignment.placement_ns()
            if self.session is not None:
                self.session.add_player_note(event.played.note)
        elif isinstance(event, PhraseEnd):
            self.melody.phrase_ended(ns)

    def _hear_held(self, event, ns: int) -> None:
        """A note struck or let go: the melody note on the beat, then the chord now held,
        for the harmony lane (in that order: the player's chord has the last word)."""
        held = [pitch for _, pitch in self.capture.held]
        if isinstance(event, NoteStarted):
            self.melody.player_goes_on()
            self.harmony.hear_struck(event.tick, event.pitch, max(held, default=0), ns)
        chord = self.harmony.hear_held(held, ns)
        self._held_chord = chord_name(chord) if chord != NO_CHORD else None

    def key(self):
        """The tracked key (``keys.Key``) or None; the config's fixed key if one is set."""
        est = self._key_estimate
        return est.key if est is not None else None

    def guard_ns(self, base_ns: int, output: str = "out") -> int:
        """``base_ns`` plus how early the scheduler lets events for ``output`` go (the
        output's lead and, for our native JACK ports, the hand-over): an answer must
        start at least that far ahead to be on time (long JACK periods make it large)."""
        return base_ns + self.scheduler.send_lead_ns(output)

    # -- actions (engine thread) ------------------------------------------------------
    def perform(self, action: str) -> bool:
        """Do ``action`` (see :mod:`assistant.live.actions`); False for ``quit``. Engine thread."""
        if action == "quit":
            return False
        act = PERFORM.get(action)
        if act is None:
            self.note(f"unknown action {action!r}")
        else:
            act(self)
        return True

    def now_tick(self) -> int:
        return floor_tick(self.clock.tick_at(self.clock.now()))

    # -- UI (any thread) ----------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        alts, start, selected, accepted, latencies = self.melody.view()
        lat = sorted(latencies)
        est = self._key_estimate
        chord, chord_state, upcoming = self.harmony.view
        return Snapshot(
            settings=replace(self.settings), running=self.clock.running, tempo_bpm=self.clock.tempo_bpm,
            tick=self.clock.tick_at(self.clock.now()), key=est.name if est else None, selected=selected,
            alternatives=alts, suggestion_start=start, accepted_count=accepted,
            last_latency_ms=latencies[-1] if latencies else None,
            p99_latency_ms=lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None,
            messages=list(self.messages), phrase_notes=len(self.capture.phrase_notes),
            key_confidence=est.confidence if est else None, held_chord=self._held_chord,
            chord=chord if self.settings.harmony else None, chord_state=chord_state if self.settings.harmony else None,
            upcoming=upcoming if self.settings.harmony else [],
            health=self.health())

    def health(self) -> dict[str, int]:
        """Counters that tell whether the input is sound (any thread): messages in, junk
        and repeats dropped, clock pulses taken for repeats or inferred lost, errors."""
        counts = self.ports.counters() if hasattr(self.ports, "counters") else {}
        out = {"messages_in": counts.get("messages_in", self.messages_received),
               "junk_dropped": counts.get("junk_dropped", 0),
               "repeats_dropped": counts.get("jack_repeated", 0), "ring_overflow": counts.get("jack_dropped", 0),
               "errors": self.errors + self.scheduler.send_errors}
        if self.follower is not None:
            out.update(pulses_repeated=self.follower.repeated_pulses, pulses_lost=self.follower.missed_pulses)
        # where what we send is placed (us): the DAW's learnt alignment, the out port's own offset
        out.update(placement_us=self.scheduler.placement_ns // 1000,
                   port_offset_us=self.scheduler.port_offsets_ns.get("out", 0) // 1000)
        return out

    @property
    def accompanist(self):
        """The harmony lane's accompanist; None without a chord model."""
        return self.harmony.accompanist

    @property
    def latencies_ms(self) -> list[float]:
        return list(self.melody._latencies)

    @property
    def suggestions_made(self) -> int:
        return self.melody.suggestions_made
