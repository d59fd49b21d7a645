"""The real-time engine: ports -> capture -> generator -> planner -> scheduler, clock beside.

Threads (see DESIGN.md section 2):

* MIDI input callback (in `assistant.midi.ports`): stamps and enqueues, nothing else.
* Engine thread (``Engine._loop``, this module): drains the inbox; feeds clock
  messages to the clock follower, control messages to the actions, notes to the
  capture; feeds each completed melody note to the generator and the session;
  detects phrase ends (call mode) and bar lines (ghost mode) and posts
  generation requests. It never waits for the generator.
* Generator worker (`assistant.live.generator`): model steps; hands each note to
  ``_on_note`` here, which humanises it and puts it on the scheduler's heap.
* Scheduler thread (`assistant.live.scheduler`): sends on time; silences on stop.
* The accompaniment is a lane of its own (`assistant.live.harmony_lane`), called here on
  the engine thread with what the player and the melody do.
* UI or main thread: reads ``snapshot()`` and calls ``post(action)``.

Actions posted from any thread go through the same inbox as MIDI, so the engine
thread is the only one that changes engine state. The suggestion currently on
offer is shared with the generator worker's callbacks under ``_lock``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace

from .capture import Capture, MelodyNote, NoteEnded, NoteStarted, PhraseEnd
from ..clock import floor_tick
from .generator import GenerationRequest, GeneratorWorker, SuggestionSet
from ..music.harmony import KeyTracker, beat_ticks, chord_name, chord_of_pitches
from .harmony_lane import IN_TIME_NS, HarmonyLane
from ..music import Note, bar_start, meter_at, next_bar_start
from .alignment import DawAlignment
from .planner import LATE_GUARD_NS, Planner, next_start_tick, shift_until_in_time
from .scheduler import note_events

log = logging.getLogger(__name__)

CLOCK_TYPES = {"clock", "start", "stop", "continue", "songpos"}
ANSWER_GUARD_NS = 8_000_000  # an answer starts on the first beat/bar at least this far ahead
POLL_S = 0.005  # while a phrase may end or a bar line may need a ghost refresh
IDLE_POLL_S = 0.25  # otherwise (nothing held, no phrase in progress): inbox items still wake at once
SPECULATE_BEFORE_TICKS = 6  # prepare the answer half a beat before the expected phrase end
SUGGESTION_LANE, ACCEPTED_LANE = "suggestion", "accepted"
MELODY_MODES = ("call", "ghost", "none")
_STOP = (object(), 0)  # the inbox item that ends the engine loop


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """Inbox item: perform the action ``name`` (posted by a hotkey, the UI or a script)."""

    name: str


@dataclass(frozen=True, slots=True)
class PlannedMelody:
    """Inbox item: the assistant's own melody as planned (posted from the generator's
    thread), from note ``replace_from`` on if it replaces a plan; the accompaniment hears
    it ahead of time."""

    notes: tuple[Note, ...]
    replace_from: int | None


@dataclass
class EngineSettings:
    """What the player changes at run time (controls) on top of the config."""

    mode: str = "call"  # melody suggestions: "call", "ghost" or "none"
    harmony: bool = False  # live accompaniment on the harmony channel
    alternatives: int = 4
    bars: int = 2
    temperature: float = 0.9
    top_p: float = 0.95
    audition: bool = True
    scale_lock: str = "off"
    answer_on: str = "bar"
    stm_weight: float = 3.0

    @property
    def mode_name(self) -> str:
        """As the config writes it: "call", "ghost+harmony", "harmony"..."""
        if self.mode == "none":
            return "harmony" if self.harmony else "none"
        return f"{self.mode}+harmony" if self.harmony else self.mode


def parse_mode(text: str) -> tuple[str, bool]:
    """``(melody mode, harmony on)`` of a config mode: call, ghost, harmony, call+harmony, ghost+harmony."""
    parts = [p.strip() for p in text.split("+")]
    harmony = "harmony" in parts
    melody = [p for p in parts if p != "harmony"]
    if len(melody) > 1 or (melody and melody[0] not in ("call", "ghost")) or not (melody or harmony):
        raise ValueError(f"unknown mode {text!r}: use call, ghost, harmony, call+harmony or ghost+harmony")
    return (melody[0] if melody else "none"), harmony


@dataclass
class Snapshot:
    """A copy of the engine state for the UI (read-only, any thread)."""

    settings: EngineSettings
    running: bool
    tempo_bpm: float
    tick: float
    key: str | None
    selected: int
    alternatives: list[list[Note]]
    suggestion_start: int | None
    accepted_count: int
    last_latency_ms: float | None
    p99_latency_ms: float | None
    messages: list[str] = field(default_factory=list)
    phrase_notes: int = 0
    key_confidence: float | None = None
    held_chord: str | None = None  # what the player holds now, e.g. "G7"
    chord: str | None = None  # the accompaniment's chord on the current beat
    upcoming: list[tuple[int, str]] = field(default_factory=list)  # (beat tick, chord name), next two bars
    health: dict[str, int] = field(default_factory=dict)  # input and clock counters, errors (see Engine.health)


def timed_events(placed: list[tuple[Note, int]], channel: int, output: str = "out"):
    """Scheduler events for ``(note, micro-timing ns)`` pairs."""
    return note_events([n for n, _ in placed], channel, output, [off for _, off in placed])


class Engine:
    """Owns the engine thread and wires the parts; see the module docstring."""

    def __init__(self, *, clock, ports, model, scheduler, controls, session=None, settings=None,
                 capture: Capture | None = None, planner: Planner | None = None,
                 suggestion_channel: int = 0, accepted_channel: int = 0, accepted_output: str = "accepted",
                 clock_follower=None, play_when_stopped: bool = False, seed: int | None = None,
                 accompanist=None, harmony_channel: int = 1, harmony_output: str = "out",
                 accepted_harmony_channel: int = 1, key_tracker: KeyTracker | None = None,
                 harmony_velocity: int | str = "follow", alignment: DawAlignment | None = None):
        self.clock = clock
        # the DAW's constant offset between its notes and its clock (default: none learnt)
        self.alignment = alignment or DawAlignment(learn=False)
        self.follower = clock_follower  # a MidiClockFollower fed from the inbox, or None
        self.ports = ports
        self.scheduler = scheduler
        self.controls = controls
        self.session = session
        self.settings = settings or EngineSettings()
        self.capture = capture or Capture(clock)
        self.planner = planner or Planner()
        self.suggestion_channel = suggestion_channel
        self.accepted_channel = accepted_channel
        self.accepted_output = accepted_output
        self.play_when_stopped = play_when_stopped
        self.seed = seed
        # the accompaniment (its accompanist None: no chord model loaded)
        self.harmony = HarmonyLane(accompanist, clock, scheduler, self.planner, channel=harmony_channel,
                                   output=harmony_output, accepted_channel=accepted_harmony_channel,
                                   velocity=harmony_velocity)
        self.key_tracker = key_tracker or KeyTracker()
        self._key_estimate = self.key_tracker.estimate
        self._held_chord: str | None = None
        self.inbox = ports.inbox
        self.generator = GeneratorWorker(model, self._on_note, self._on_done, self._on_error)
        self._lock = threading.Lock()
        self._current: SuggestionSet | None = None
        self._shift = 0  # whole beats added to the current suggestion to keep it in time
        self._selected = 0
        self._request_ids = 0
        self._melody: deque[Note] = deque(maxlen=64)
        self._latencies: deque[float] = deque(maxlen=2000)
        self.messages_received = 0  # MIDI messages taken from the inbox (engine thread)
        self.errors = 0  # exceptions caught in the engine loop (each logged or counted, never fatal)
        self.inbox_high = 0  # the most items waiting in the inbox behind the one taken
        self.suggestions_made = 0
        self._messages: deque[str] = deque(maxlen=6)
        if self.settings.harmony and not self.harmony.available:
            self.settings.harmony = False
            self.note("harmony needs the chord model (see the log): accompaniment is off")
        self._accepted = 0
        self._chord_lock_noted = False
        self._speculation: GenerationRequest | None = None  # the answer being prepared early
        self._spec_result: SuggestionSet | None = None
        self._promoted_id = -1
        self._scheduled = 0
        self._last_bar: int | None = None
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
        self._messages.append(text)

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
            self._messages.append(f"error {what}: {type(err).__name__}: {err}" if self.errors <= self.ERROR_LINES
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
                    self._drop_suggestion("transport stopped")
                    self.harmony.reset()
            return True
        if msg.type == "sysex":
            return True
        action = self.controls.action_for(msg) if self.controls is not None else None
        if action is not None:
            return self.perform(action)
        if self.controls is not None and self.controls.consumes(msg):
            return True
        for event in self.capture.feed(msg, ns):
            self._on_capture_event(event, ns)
        return True

    def _tick(self, ns: int) -> None:
        for event in self.capture.poll(ns):
            self._on_capture_event(event, ns)
        self._maybe_speculate(ns)
        if self.settings.harmony and self._transport_ok():
            self.harmony.tick(ns)
        if self.settings.mode == "ghost" and self._transport_ok():
            tick = self.clock.tick_at(ns)
            bar = bar_start(self.clock.meters, floor_tick(tick))
            if bar != self._last_bar:
                self._last_bar = bar
                if self._melody:
                    self._request("ghost", next_bar_start(self.clock.meters, floor_tick(tick)), ns)
        if self.session is not None:
            self.session.flush(min_interval_s=2.0)

    def _transport_ok(self) -> bool:
        return self.clock.running or self.play_when_stopped

    def _on_capture_event(self, event, ns: int) -> None:
        if not self._transport_ok() and not isinstance(event, PhraseEnd):
            # the DAW is stopped: its clock does not move, so these notes have no
            # musical time; the model and the capture file do not take them
            return
        if isinstance(event, (NoteStarted, NoteEnded)):
            held = [pitch for _, pitch in self.capture.held]
            self._held_chord = chord_name(chord_of_pitches(held)) if len(set(p % 12 for p in held)) >= 3 else None
        if isinstance(event, NoteStarted):
            self._cancel_speculation()  # the player goes on: the prepared answer is stale
            self.harmony.hear_struck(event.tick, event.pitch, max((p for _, p in self.capture.held), default=0))
        elif isinstance(event, MelodyNote):
            self._melody.append(event.note)
            self.generator.feed(event.note)
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
            if self.settings.mode == "call" and self._transport_ok():
                start = next_start_tick(self.clock, self.clock.meters, self.settings.answer_on, self._guard_ns(ANSWER_GUARD_NS), ns)
                if not self._promote_speculation(start, ns):
                    self._request("call", start, ns)
            else:
                self._cancel_speculation()

    def _request(self, purpose: str, start_tick: int, trigger_ns: int) -> GenerationRequest:
        self._request_ids += 1
        s = self.settings
        key = self.key() if s.scale_lock != "off" else None
        pcs = key.pitch_classes() if (s.scale_lock != "off" and key is not None) else None
        strong = None
        if s.scale_lock == "chord":
            tones = self.harmony.chord_tones(start_tick, s.bars)
            if tones is None:
                if not self._chord_lock_noted:
                    self._chord_lock_noted = True
                    self.note("scale lock 'chord' follows the accompaniment's chords: locking to the key "
                              "until chords play (mode +harmony)")
            else:
                strong = {t: pc for t, pc in tones.items() if t >= start_tick and self._strong_beat(t)}
        req = GenerationRequest(
            id=self._request_ids, start_tick=start_tick, bars=s.bars, n=s.alternatives,
            temperature=s.temperature, top_p=s.top_p, constraints=self.planner.constraints(pcs, strong),
            stm_weight=s.stm_weight, seed=None if self.seed is None else self.seed + self._request_ids,
            trigger_ns=trigger_ns, purpose=purpose)
        self.generator.request(req)
        return req

    def key(self):
        """The tracked key (``keys.Key``) or None; the config's fixed key if one is set."""
        est = self._key_estimate
        return est.key if est is not None else None

    def _strong_beat(self, tick: int) -> bool:
        """The downbeat, and the middle of the bar in 4/4, 2/2 and other even meters of 4+ beats."""
        meters = self.clock.meters
        m = meter_at(meters, tick)
        position = (tick - m.start) % m.bar_ticks
        beats = m.bar_ticks // beat_ticks(m)
        return position == 0 or (beats >= 4 and beats % 2 == 0 and position == m.bar_ticks // 2)

    def _guard_ns(self, base_ns: int, output: str = "out") -> int:
        """``base_ns`` plus how early the scheduler lets events for ``output`` go (the
        output's lead and, for our native JACK ports, the hand-over): an answer must
        start at least that far ahead to be on time (long JACK periods make it large)."""
        return base_ns + self.scheduler.send_lead_ns(output)

    # -- actions (engine thread) ------------------------------------------------------
    def perform(self, action: str) -> bool:
        s = self.settings
        if action == "quit":
            return False
        if action == "accept":
            self._accept()
        elif action in ("next", "previous"):
            self._select(1 if action == "next" else -1)
        elif action == "regenerate":
            current = self._current
            guard = self._guard_ns(ANSWER_GUARD_NS)
            start = next_start_tick(self.clock, self.clock.meters, s.answer_on, guard, self.clock.now())
            if current is not None and current.request.start_tick > self.clock.tick_at(self.clock.now() + guard):
                start = current.request.start_tick
            self._request("regenerate", start, self.clock.now())
        elif action == "clear":
            self._drop_suggestion("cleared")
        elif action in ("temperature_up", "temperature_down"):
            step = 0.1 if action.endswith("up") else -0.1
            s.temperature = round(min(5.0, max(0.1, s.temperature + step)), 2)
            self.note(f"temperature {s.temperature}")
        elif action in ("bars_up", "bars_down"):
            s.bars = min(16, max(1, s.bars + (1 if action.endswith("up") else -1)))
            self.note(f"bars {s.bars}")
        elif action == "mode":
            s.mode = "ghost" if s.mode == "call" else "call"
            self._last_bar = None
            self.note(f"mode {s.mode_name}")
        elif action == "harmony":
            if not self.harmony.available:
                self.note("harmony needs the chord model (models/harmony.onnx)")
            else:
                s.harmony = not s.harmony
                if not s.harmony:
                    self.harmony.silence_from(self._now_tick())
                self.harmony.reset()
                self.note(f"mode {s.mode_name}")
        elif action == "audition":
            s.audition = not s.audition
            if not s.audition:
                self._plan_suggestion([], self._now_tick())
            self.note(f"audition {'on' if s.audition else 'off'}")
        elif action == "end_phrase":
            for event in self.capture.end_phrase():
                self._on_capture_event(event, self.clock.now())
        elif action == "panic":
            self._drop_suggestion("panic")
            self.scheduler.panic()
        elif action == "tap_tempo":
            if self.follower is not None or not hasattr(self.clock, "tap"):
                self.note("tap tempo: the tempo follows the DAW's MIDI clock")
            else:
                bpm = self.clock.tap(self.clock.now())
                if bpm is not None:
                    self.note(f"tempo {bpm:.1f} BPM (tap)")
        elif action == "scale_lock":
            s.scale_lock = {"off": "key", "key": "chord", "chord": "off"}[s.scale_lock]
            self.note(f"scale lock {s.scale_lock}")
        else:
            self.note(f"unknown action {action!r}")
        return True

    def _now_tick(self) -> int:
        return floor_tick(self.clock.tick_at(self.clock.now()))

    def _audible(self) -> bool:
        return self._transport_ok() and (self.settings.audition or self.settings.mode == "call")

    def _drop_suggestion(self, why: str) -> None:
        with self._lock:
            self._current = None
        self._plan_suggestion([], self._now_tick())
        self.note(why)

    def _select(self, step: int) -> None:
        with self._lock:
            current = self._current
            if current is None or not current.complete:
                return
            self._selected = (self._selected + step) % len(current.alternatives)
            placed = [self.planner.humanise(n, self._shift) for n in current.alternatives[self._selected]]
        now = self._now_tick()
        if self._audible():
            future = [(n, off) for n, off in placed if n.onset > now]
            self._plan_suggestion(future, now)
        self.note(f"alternative {self._selected + 1}/{len(current.alternatives)}")

    def _accept(self) -> None:
        with self._lock:
            current = self._current
            if current is None or not current.alternatives[self._selected]:
                self.note("nothing to accept")
                return
            notes = list(current.alternatives[self._selected])
            shift = self._shift
        now = self._now_tick()
        meters = self.clock.meters
        first_bar = bar_start(meters, notes[0].onset + shift)
        guard = self._guard_ns(ANSWER_GUARD_NS, self.accepted_output)
        target = next_bar_start(meters, floor_tick(self.clock.tick_at(self.clock.now() + guard)))
        offset = target - first_bar + shift
        placed = [self.planner.humanise(n, offset) for n in notes]
        self._plan_suggestion([], now)
        self.scheduler.schedule(timed_events(placed, self.accepted_channel, self.accepted_output), ACCEPTED_LANE)
        label = f"request {current.request.id} alternative {self._selected + 1}"
        chords = self.harmony.accepted_chords([n for n, _ in placed], target) if self.settings.harmony else []
        if chords:
            self.scheduler.schedule(note_events(chords, self.harmony.accepted_channel, self.accepted_output),
                                    ACCEPTED_LANE)
        if self.session is not None:
            if chords:
                self.session.accept(chords, label=label + " chords", track="harmony")
            self.session.accept([n for n, _ in placed], label=label)
        self._accepted += 1
        with self._lock:
            self._current = None
        self.note(f"accepted {len(placed)} notes from bar tick {target}")

    # -- generator worker callbacks ------------------------------------------------------
    def _on_note(self, result: SuggestionSet, alt: int, note: Note, index: int) -> None:
        req = result.request
        with self._lock:
            if req.purpose == "speculative" and req.id != self._promoted_id:
                if self._speculation is not None and self._speculation.id == req.id:
                    self._spec_result = result  # held until the phrase really ends
                return
            if self._current is not result:
                if self._current is not None and self._current.request.id > req.id:
                    return
                self._adopt_locked(result)
            if alt != self._selected or index < self._scheduled:
                return
            plan = self._plan_locked([note], index)
        self._send_plan(plan)

    def _adopt_locked(self, result: SuggestionSet) -> None:
        self._current = result
        self._selected = 0
        self._shift = 0
        self._scheduled = 0  # notes of the selected alternative already handed to the scheduler

    def _plan_locked(self, notes: list[Note], first_index: int):
        """``(placed notes, replace_from)`` for the selected alternative's notes from
        ``first_index`` on (see ``_plan_suggestion``); None if not audible.

        The first note of a suggestion fixes the shift (whole beats, if it would
        be late) and replaces the lane's future; later notes are appended, or
        skipped if generation fell behind playback. Lock held.
        """
        self._scheduled = first_index + len(notes)
        if not notes or not self._audible():
            return None
        now = self.clock.now()
        if first_index == 0:
            self._shift = shift_until_in_time(self.clock, notes[0].onset, self._guard_ns(LATE_GUARD_NS), now=now)
        placed = [self.planner.humanise(n, self._shift) for n in notes]
        if first_index > 0:
            in_time = now + self._guard_ns(IN_TIME_NS)
            placed = [(n, off) for n, off in placed if self.clock.ns_at(n.onset) + off >= in_time]
        replace_from = min(placed[0][0].onset, self._now_tick()) if first_index == 0 else None
        return placed, replace_from

    def _send_plan(self, plan) -> None:
        if plan is not None:
            self._plan_suggestion(*plan)

    def _plan_suggestion(self, placed: list[tuple[Note, int]], replace_from: int | None) -> None:
        """The one way the audible suggestion changes (engine thread or generator worker).

        ``placed`` (notes with micro-timing) replace the suggestion lane's future
        from ``replace_from``, or are appended when it is None; ``[]`` with a tick
        clears from there. With harmony on, the accompanist hears of every change
        (through the inbox: it belongs to the engine thread), so its chords follow
        what will really sound, never a suggestion that was dropped or switched.
        """
        events = timed_events(placed, self.suggestion_channel)
        if replace_from is not None:
            self.scheduler.replace(SUGGESTION_LANE, events, replace_from)
        elif events:
            self.scheduler.schedule(events, SUGGESTION_LANE)
        if self.settings.harmony and self.harmony.available:
            notes = tuple(Note(n.onset, n.duration, n.pitch) for n, _ in placed)
            self.inbox.put((PlannedMelody(notes, replace_from), self.clock.now()))

    # -- speculation (engine thread) -------------------------------------------------------
    def _maybe_speculate(self, ns: int) -> None:
        """In call mode, half a beat before the expected phrase end, prepare the answer.

        Not at every note-off: most silences between notes end with the next note,
        and a generation per note would cost a good share of a core while the
        musician plays. Half a beat leaves ample time (a whole answer takes ~50 ms).
        """
        if self.settings.mode != "call" or not self._transport_ok():
            return
        end = self.capture.expected_end_tick()
        if end is None or end - self.clock.tick_at(ns) > SPECULATE_BEFORE_TICKS:
            return
        start = next_start_tick(self.clock, self.clock.meters, self.settings.answer_on, self._guard_ns(ANSWER_GUARD_NS),
                                self.clock.ns_at(end))
        spec = self._speculation
        if spec is not None and spec.start_tick == start:
            return
        self._speculation = self._request("speculative", start, ns)

    def _cancel_speculation(self) -> None:
        if self._speculation is not None:
            if self._speculation.id == self._request_ids:
                self.generator.cancel()
            with self._lock:
                self._speculation = None
                self._spec_result = None

    def _promote_speculation(self, start_tick: int, trigger_ns: int) -> bool:
        """Use the prepared answer if it is for this start; True if it was promoted."""
        spec = self._speculation
        self._speculation = None
        if spec is None or spec.start_tick != start_tick or spec.id != self._request_ids:
            return False
        with self._lock:
            self._promoted_id = spec.id
            spec.trigger_ns = trigger_ns
            result, self._spec_result = self._spec_result, None
            plan = None
            if result is not None:
                self._adopt_locked(result)
                plan = self._plan_locked(list(result.alternatives[0]), 0)
        self._send_plan(plan)
        if result is not None and result.first_notes_ready_ns is not None:
            result.latency_recorded = True
            self._latencies.append((time.perf_counter_ns() - trigger_ns) / 1e6)
        if result is not None and result.complete:  # its _on_done may have come before the promotion
            self._count(result)
        return True

    def _count(self, result: SuggestionSet) -> None:
        with self._lock:
            if not result.counted:
                result.counted = True
                self.suggestions_made += 1

    def _on_done(self, result: SuggestionSet) -> None:
        req = result.request
        with self._lock:
            unused = req.purpose == "speculative" and req.id != self._promoted_id
        if unused:
            return
        self._count(result)
        latency = None
        if not result.latency_recorded and result.first_notes_ready_ns is not None:
            latency = max(0.0, (result.first_notes_ready_ns - req.trigger_ns) / 1e6)
            self._latencies.append(latency)
        log.info("suggestion %d (%s) done: %d notes%s", req.id, req.purpose, sum(map(len, result.alternatives)),
                 "" if latency is None else f", trigger to first notes {latency:.2f} ms")

    def _on_error(self, text: str) -> None:
        self._messages.append(text)

    # -- UI (any thread) ----------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        with self._lock:
            current = self._current
            alts = [list(a) for a in current.alternatives] if current else []
            start = current.request.start_tick + self._shift if current else None
            selected = self._selected
        lat = sorted(self._latencies)
        est = self._key_estimate
        chord, upcoming = self.harmony.view
        return Snapshot(
            settings=replace(self.settings), running=self.clock.running, tempo_bpm=self.clock.tempo_bpm,
            tick=self.clock.tick_at(self.clock.now()), key=est.name if est else None, selected=selected,
            alternatives=alts, suggestion_start=start, accepted_count=self._accepted,
            last_latency_ms=self._latencies[-1] if self._latencies else None,
            p99_latency_ms=lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None,
            messages=list(self._messages), phrase_notes=len(self.capture.phrase_notes),
            key_confidence=est.confidence if est else None, held_chord=self._held_chord,
            chord=chord if self.settings.harmony else None, upcoming=upcoming if self.settings.harmony else [],
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
        return list(self._latencies)
