"""The melody lane: the answers (call mode) and continuations (ghost mode) on offer,
prepared early, switched, dropped and accepted.

It asks the generator worker for suggestions, places each note it gets back
(humanised, shifted by whole beats if it would be late) on the scheduler's
suggestion lane, and tells the harmony lane (through the engine's inbox) what will
sound. The answer to a phrase is prepared half a beat before the phrase is expected
to end, and promoted if the phrase really ends there.

Threads: everything but the generator callbacks runs on the engine thread;
``_on_note``, ``_on_done`` and ``_on_error`` run on the generator worker. The
suggestion on offer (``_current``, ``_selected``, ``_shift``, ``_scheduled``) and the
prepared answer's result are shared between the two under ``_lock``, held for
microseconds; ``view`` reads them from any thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from ..clock import floor_tick
from ..music import Note, bar_start, meter_at, next_bar_start
from ..music.harmony import beat_ticks
from .generator import GenerationRequest, GeneratorWorker, SuggestionSet
from .harmony_lane import IN_TIME_NS
from .inbox import PlannedMelody
from .planner import LATE_GUARD_NS, next_start_tick, shift_until_in_time
from .scheduler import note_events

log = logging.getLogger(__name__)

ANSWER_GUARD_NS = 8_000_000  # an answer starts on the first beat/bar at least this far ahead
SPECULATE_BEFORE_TICKS = 6  # prepare the answer half a beat before the expected phrase end
SUGGESTION_LANE, ACCEPTED_LANE = "suggestion", "accepted"


def timed_events(placed: list[tuple[Note, int]], channel: int, output: str = "out"):
    """Scheduler events for notes placed with their micro-timing offsets (ns)."""
    return note_events([n for n, _ in placed], channel, output, offsets_ns=[off for _, off in placed])


class MelodyLane:
    """The melody suggestions of one engine; ``host`` is the engine, whose shared parts
    (clock, scheduler, planner, settings, capture, session, harmony lane, inbox) and
    helpers (``note``, ``key``, ``guard_ns``, ``transport_ok``) it uses."""

    def __init__(self, host, model, *, suggestion_channel: int = 0, accepted_channel: int = 0,
                 accepted_output: str = "accepted", seed: int | None = None):
        self.clock = host.clock
        self.scheduler = host.scheduler
        self.planner = host.planner
        self.settings = host.settings
        self.capture = host.capture
        self.session = host.session
        self.harmony = host.harmony
        self.inbox = host.inbox
        self.note = host.note
        self.key = host.key
        self._guard_ns = host.guard_ns
        self._transport_ok = host.transport_ok
        self.suggestion_channel = suggestion_channel
        self.accepted_channel = accepted_channel
        self.accepted_output = accepted_output
        self.seed = seed
        self.generator = GeneratorWorker(model, self._on_note, self._on_done, self._on_error)
        self._errors = host.messages  # the generator's error lines go to the status lines
        self._lock = threading.Lock()
        self._current: SuggestionSet | None = None
        self._shift = 0  # whole beats added to the current suggestion to keep it in time
        self._selected = 0
        self._request_ids = 0
        self._melody: deque[Note] = deque(maxlen=64)
        self._latencies: deque[float] = deque(maxlen=2000)
        self.suggestions_made = 0
        self._accepted = 0
        self._chord_lock_noted = False
        self._speculation: GenerationRequest | None = None  # the answer being prepared early
        self._spec_result: SuggestionSet | None = None
        self._promoted_id = -1
        self._scheduled = 0
        self._last_bar: int | None = None

    # -- what the engine tells the lane (engine thread) -----------------------------
    def hear(self, note: Note) -> None:
        """A completed melody note of the player's."""
        self._melody.append(note)
        self.generator.feed(note)

    def player_goes_on(self) -> None:
        """A note was struck: an answer prepared for the phrase's end is stale."""
        self._cancel_speculation()

    def phrase_ended(self, ns: int) -> None:
        """The player's phrase ended (stamped ``ns``): in call mode, answer it on the next
        bar or beat (the prepared answer if it was for that start)."""
        if self.settings.mode == "call" and self._transport_ok():
            start = next_start_tick(self.clock, self.clock.meters, self.settings.answer_on,
                                    self._guard_ns(ANSWER_GUARD_NS), ns)
            if not self._promote_speculation(start, ns):
                self._request("call", start, ns)
        else:
            self._cancel_speculation()

    def tick(self, ns: int) -> None:
        """Periodic work: prepare the answer early (call mode), refresh the continuation
        at each bar line (ghost mode)."""
        self._maybe_speculate(ns)
        if self.settings.mode == "ghost" and self._transport_ok():
            tick = self.clock.tick_at(ns)
            bar = bar_start(self.clock.meters, floor_tick(tick))
            if bar != self._last_bar:
                self._last_bar = bar
                if self._melody:
                    self._request("ghost", next_bar_start(self.clock.meters, floor_tick(tick)), ns)

    # -- actions (engine thread) --------------------------------------------------------
    def accept(self) -> None:
        self._accept()

    def select(self, step: int) -> None:
        self._select(step)

    def drop(self, why: str) -> None:
        """Silence and forget the suggestion on offer, with a status line."""
        self._drop_suggestion(why)

    def regenerate(self) -> None:
        """A new suggestion for the same start if that is still ahead, else the next one."""
        s, current = self.settings, self._current
        guard = self._guard_ns(ANSWER_GUARD_NS)
        start = next_start_tick(self.clock, self.clock.meters, s.answer_on, guard, self.clock.now())
        if current is not None and current.request.start_tick > self.clock.tick_at(self.clock.now() + guard):
            start = current.request.start_tick
        self._request("regenerate", start, self.clock.now())

    def mode_changed(self) -> None:
        self._last_bar = None

    def silence(self) -> None:
        """Audition off: what is planned of the suggestion from now on is taken back."""
        self._plan_suggestion([], self._now_tick())

    # -- any thread -----------------------------------------------------------------------
    def view(self):
        """``(alternatives, start tick, selected, accepted count, latencies ms)`` for the UI."""
        with self._lock:
            current = self._current
            alts = [list(a) for a in current.alternatives] if current else []
            start = current.request.start_tick + self._shift if current else None
            selected = self._selected
        return alts, start, selected, self._accepted, list(self._latencies)

    @property
    def accepted_count(self) -> int:
        return self._accepted

    def _now_tick(self) -> int:
        return floor_tick(self.clock.tick_at(self.clock.now()))

    # -- internals ---------------------------------------------------------------------
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

    def _strong_beat(self, tick: int) -> bool:
        """The downbeat, and the middle of the bar in 4/4, 2/2 and other even meters of 4+ beats."""
        meters = self.clock.meters
        m = meter_at(meters, tick)
        position = (tick - m.start) % m.bar_ticks
        beats = m.bar_ticks // beat_ticks(m)
        return position == 0 or (beats >= 4 and beats % 2 == 0 and position == m.bar_ticks // 2)

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
        self._errors.append(text)
