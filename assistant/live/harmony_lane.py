"""The accompaniment lane: what the engine does for the chords, beside the melody.

It hears the player (notes struck, melody notes completed) and the assistant's own planned
melody, decides each beat's chord a few ticks before the beat (as many as the harmony
output needs to have its events early enough), hands the chord's notes to the scheduler
on the harmony lane, and renders the chords that go with an accepted phrase. A beat the
player may still put a note on waits for it: the chord chosen with that note known
(prepared at the decision, a lookup now) replaces the planned one when they differ.

Thread: the engine thread, every method; nothing here blocks (a decision is one model
step and the voicing, about 3 ms). ``view`` is read by the UI snapshot on any thread (a
tuple replaced whole).
"""

from __future__ import annotations

from .accompanist import chord_tones_by_beat, chord_velocity
from .chord_model import DECISION_TICKS
from ..music.harmony import chord_name
from ..music import Note, meter_at, next_bar_start
from .scheduler import note_events

HARMONY_LANE = "harmony"
IN_TIME_NS = 1_000_000  # a chord is played only if it can leave this early for its beat
CHORD_DECIDE_NS = 10_000_000  # time allowed for deciding a beat's chord (about 3 ms measured)


class HarmonyLane:
    """The accompanist (None: no chord model loaded) wired to the clock and the scheduler."""

    def __init__(self, accompanist, clock, scheduler, planner, *, channel: int = 1, output: str = "out",
                 accepted_channel: int = 1, velocity: int | str = "follow"):
        self.accompanist = accompanist
        self.clock = clock
        self.scheduler = scheduler
        self.planner = planner  # the player's velocity, for "follow"
        self.channel = channel
        self.output = output
        self.accepted_channel = accepted_channel
        self.velocity = velocity
        # (the chord sounding, [(beat tick, chord) ahead]) for the UI
        self.view: tuple[str | None, list[tuple[int, str]]] = (None, [])

    @property
    def available(self) -> bool:
        return self.accompanist is not None

    @property
    def active(self) -> bool:
        """A chord is sounding or due: the engine polls often."""
        return self.accompanist is not None and self.accompanist.active

    # -- hearing (engine thread) -----------------------------------------------------------
    def hear_struck(self, tick: int, pitch: int, highest_held: int, ns: int | None = None) -> None:
        """The player struck ``pitch`` (stamped ``ns``); the melody is its highest note held.
        A melody note struck after a beat's decision tick and at most the accompanist's
        ``react_ns`` after the beat chooses that beat's chord: if the chord changes, the
        planned one is taken back (or, already sounding, closed) and the new one goes on the
        beat, or at once when the beat has passed (the chord follows the player's timing)."""
        acc = self.accompanist
        if acc is None or pitch < highest_held:
            return
        acc.hold(tick, pitch)
        beat = acc.waiting_beat
        if beat is None:
            return
        if ns is not None and ns > self.clock.ns_at(beat.tick) + acc.react_ns:
            acc.stop_waiting()
            return
        decision = acc.react(pitch)
        if decision is not None:
            self.scheduler.replace(HARMONY_LANE, note_events(decision.notes, self.channel, self.output),
                                   from_tick=beat.tick)
            acc.refresh_forecast()  # after the chord is on its way
            self._show()

    def hear_melody_note(self, note: Note) -> None:
        if self.accompanist is not None:
            self.accompanist.add_note(note)

    def hear_plan(self, notes: tuple[Note, ...], replace_from: int | None) -> None:
        """The assistant's own melody as planned: the chords know it ahead."""
        if self.accompanist is not None:
            self.accompanist.plan(notes, replace_from)

    def reset(self) -> None:
        if self.accompanist is not None:
            self.accompanist.reset()

    def silence_from(self, tick: int) -> None:
        """Take back every chord note planned from ``tick`` on (harmony switched off)."""
        self.scheduler.clear(HARMONY_LANE, tick)

    # -- playing (engine thread) -----------------------------------------------------------
    def tick(self, ns: int) -> None:
        """Decide the chords whose decision tick has come and schedule the ones still ahead."""
        acc = self.accompanist
        if acc is None:
            return
        meters = self.clock.meters
        tick = self.clock.tick_at(ns)
        acc.decision_ticks = self._decision_ticks(tick)
        waiting = acc.waiting_beat
        if waiting is not None and ns > self.clock.ns_at(waiting.tick) + acc.react_ns:
            acc.stop_waiting()  # no note came: the chord decided ahead stands
        if not acc.due(tick, meters):  # most polls: no beat is a tick away
            return
        earliest = self.clock.now() + IN_TIME_NS + self.scheduler.send_lead_ns(self.output)
        for decision in acc.decide(tick, meters, self._velocity()):
            # a chord that cannot go out on its beat is not played
            if decision.notes and self.clock.ns_at(decision.beat.tick) >= earliest:
                self.scheduler.schedule(note_events(decision.notes, self.channel, self.output), HARMONY_LANE)
        self._show()

    def _show(self) -> None:
        acc = self.accompanist
        current = chord_name(acc.current.chord) if acc.current is not None else None
        self.view = (current, [(t, chord_name(c)) for t, c in acc.forecast])

    def _decision_ticks(self, tick: float) -> int:
        """A tick before the beat (what the chord model was trained on), or as many more as
        the harmony output needs to have its events early enough (its lead and hand-over,
        plus CHORD_DECIDE_NS for the decision itself): at long JACK periods a tick is not
        enough (at 1024 frames our native port wants them 3 periods, 64 ms, early)."""
        need = self.scheduler.send_lead_ns(self.output) + CHORD_DECIDE_NS
        tick_ns = max(1, self.clock.ns_at(tick + 1) - self.clock.ns_at(tick))
        return max(DECISION_TICKS, -(-need // tick_ns))

    def _velocity(self) -> int:
        """``harmony.velocity``, or a little softer than the player ("follow")."""
        if isinstance(self.velocity, int):
            return self.velocity
        return chord_velocity(self.planner.velocity())

    # -- for the melody (engine thread) ----------------------------------------------------
    def chord_tones(self, start_tick: int, bars: int) -> dict[int, frozenset[int]] | None:
        """Chord tones per beat for a suggestion from ``start_tick`` (the chord scale lock);
        None while no chord plays."""
        acc = self.accompanist
        if acc is None or acc.current is None:
            return None
        end = start_tick + bars * meter_at(self.clock.meters, start_tick).bar_ticks
        return chord_tones_by_beat(acc.chords_for([], self.clock.meters, acc.current.beat.tick + 1, end))

    def accepted_chords(self, notes: list[Note], start: int) -> list[Note]:
        """The chords that go with accepted ``notes`` from bar ``start``, voiced."""
        acc = self.accompanist
        if acc is None or not notes:
            return []
        meters = self.clock.meters
        end = next_bar_start(meters, max(n.end for n in notes) - 1)
        return acc.render_chords(acc.chords_for(notes, meters, start, end), meters, self._velocity())
