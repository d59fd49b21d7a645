"""The accompaniment lane: what the engine does for the chords, beside the melody.

It hears the player (notes struck, melody notes completed) and the assistant's own planned
melody, decides each beat's chord a few ticks before the beat (as many as the harmony
output needs to have its events early enough), hands the chord's notes to the scheduler
on the harmony lane, and renders the chords that go with an accepted phrase. A beat the
player may still put a note on waits for it: the chord chosen with that note known
(prepared at the decision, a lookup now) replaces the planned one when they differ. A
chord the player holds (``harmony.players_chord``) is the accompaniment's chord while
they hold it, from the moment it is struck (on the beat when struck in the beat's
window); when they let go the model decides again from the next beat.

Thread: the engine thread, every method; nothing here blocks (a decision is one model
step and the voicing, about 3 ms). ``view`` is read by the UI snapshot on any thread (a
tuple replaced whole).
"""

from __future__ import annotations

from .accompanist import chord_tones_by_beat, chord_velocity
from .chord_model import DECISION_TICKS
from ..music.harmony import NO_CHORD, chord_name, players_chord
from ..music import Note, meter_at, next_bar_start
from .scheduler import note_events

HARMONY_LANE = "harmony"
DECIDED, WAITING, FOLLOWING = "decided", "waiting", "following"  # how an upcoming chord is chosen
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
        # for the UI: (the current chord, how it was chosen, [(beat tick, chord, how it will
        # be chosen)] for the two bars after it); how: DECIDED, WAITING or FOLLOWING
        self.view: tuple[str | None, str | None, list[tuple[int, str, str]]] = (None, None, [])

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
            self._send_now(decision, beat.tick)
            acc.refresh_forecast()  # after the chord has gone
            self._show()

    def hear_held(self, pitches, ns: int) -> int:
        """What the player holds changed (a note struck or let go, stamped ``ns``); returns
        the chord they hold (``harmony.players_chord``, N.C. for none). A chord in the chord
        hand becomes the accompaniment's chord at once: on the current beat when struck at
        most the reaction window after it (the planned chord is taken back, or closed if it
        sounds), else from now to the beat's end. Letting go hands back to the model at the
        next beat's decision."""
        acc = self.accompanist
        chord = players_chord(pitches, acc.split if acc is not None else None)
        if acc is None or not acc.follow_chords or chord == acc.players_chord:
            return chord
        current = acc.current
        on_beat = current is not None and ns <= self.clock.ns_at(current.beat.tick) + acc.react_ns
        decision = acc.follow(chord, self.clock.tick_at(ns), on_beat)
        if decision is not None:
            self._send_now(decision, decision.beat.tick)
        acc.refresh_forecast()  # after the chord has gone
        self._show()
        return chord

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

    def _send_now(self, decision, from_tick: int) -> None:
        """The chord replaces the lane's plan from ``from_tick`` (a beat already begun: at once)."""
        self.scheduler.replace(HARMONY_LANE, note_events(decision.notes, self.channel, self.output),
                               from_tick=from_tick)

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
        acc.refresh_forecast()  # after the chords are scheduled
        self._show()

    def _show(self) -> None:
        acc = self.accompanist
        cur = acc.current
        if cur is None:
            self.view = (None, None, [])
            return
        following = acc.players_chord != NO_CHORD
        state = FOLLOWING if cur.followed else WAITING if acc.waiting_beat == cur.beat else DECIDED
        rows = []
        for t, c in acc.forecast:
            # a beat under our own planned melody is decided ahead; one the player plays waits
            ahead = (FOLLOWING if following else DECIDED if acc.react_ns <= 0 or acc.planned_at(t)
                     else WAITING)
            rows.append((t, chord_name(c), ahead))
        self.view = (chord_name(cur.chord), state, rows)

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
