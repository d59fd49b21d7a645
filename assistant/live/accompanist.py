"""Live accompaniment: each beat's chord decided a tick ahead, changed by the player's note
on the beat or by the chord the player holds, voiced, and rendered as a pattern.

The accompanist keeps the melody it has heard (the player's melody line and the
assistant's own audible suggestion notes), the note held right now, the chord the player
holds, and the chord model's recurrent state. ``decide`` is called by the engine thread
every few milliseconds; when the clock has reached a beat's decision tick (one tick before
the beat, ``chord_model.DECISION_TICKS``) it steps the model with the features of what is
known at that tick, takes the chord by the choice rule and returns it with the notes to
play. The same step is taken once for each of the 12 pitch classes the player might strike
on the beat (one batched run), so that ``react`` turns a note struck within ``react_ms`` of
the beat into that beat's chord by a lookup; ``follow`` plays the player's own held chord
(three notes or more) in the pattern instead, until the player goes back to single notes.
A beat whose moment has already passed is not played (never late), though the model still
takes it, so that the chord history stays true.

The notes come from the pattern (:mod:`.chord_patterns`: ``bar``, ``beat``,
``arpeggio``); voicings from ``harmony.Voicer`` (fewest semitones moved). One concern over
about 400 lines: the beat's decision and its two ways of being changed share the model
state, the forecast and the current chord, so they stay together.

Threading: engine thread only (state is not shared); nothing blocks. ``midi-assistant
bench`` measures a model step, a beat's decision, a reaction and the forecast.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace

import numpy as np

from ..clock import TICK_EPS
from .chord_model import (
    AHEAD, AHEAD_KNOWN, BOS_CHORD, DECISION_TICKS, ChordModel, choose_chord, choose_chords, sounding_at,
    step_features,
)
from ..music.harmony import NO_CHORD, Voicer, beat_grid, chord_pitch_classes
from .chord_patterns import PATTERNS, Beat, render
from ..music import Meter, Note, bar_start, meter_at

MEMORY_NOTES = 64


@dataclass(frozen=True, slots=True)
class ChordDecision:
    beat: Beat
    chord: int
    notes: tuple[Note, ...]  # what to play for this beat (may be empty)
    probability: float
    reacted: bool = False  # chosen when the player's note on the beat was heard
    followed: bool = False  # the chord the player holds (see Accompanist.follow)


@dataclass(slots=True)
class _Waiting:
    """A beat decided without the player's note on it, with the chord it would get for each
    pitch class of that note (one batched model step), ready for ``react``."""

    beat: Beat
    meters: list[Meter]
    velocity: int
    chords: list[int]  # by pitch class
    logp: np.ndarray  # [12, V]
    states: np.ndarray  # [layers, 12, hidden]
    melody: np.ndarray | None  # [12, 12]
    restrike_from: int  # the chord sounding before this beat (NO_CHORD: none)
    voicer_last: tuple[int, ...] | None  # the voicing before this beat's


class Accompanist:
    """See the module docstring. ``model`` is a loaded ``ChordModel``."""

    def __init__(self, model: ChordModel, *, pattern: str = "bar", low: int = 48, high: int = 72,
                 voices: int = 4, idle_bars: float = 1.0, react_ms: float = 30.0, follow_chords: bool = True,
                 split: int | None = None):
        if pattern not in PATTERNS:
            raise ValueError(f"unknown harmony pattern {pattern!r}; choose from {', '.join(PATTERNS)}")
        self.model = model
        self.pattern = pattern
        self.voicer = Voicer(low, high, voices)
        self.idle_bars = idle_bars
        # how many ticks before its beat a chord is decided: DECISION_TICKS (what the model
        # was trained on), more where the output must have its events earlier than that
        # (the engine sets it: long JACK periods); the features are the melody until then
        self.decision_ticks = DECISION_TICKS
        self.notes: list[Note] = []
        self.planned: list[Note] = []  # audible suggestion notes, known ahead
        self.held: Note | None = None  # the melody note sounding now (duration unknown)
        self._next: Beat | None = None
        self._previous_beat: int | None = None
        self._active = False
        self._sounding_chord = NO_CHORD
        self.current: ChordDecision | None = None
        self.forecast: list[tuple[int, int]] = []
        # how long after its beat a player's note may still choose the beat's chord (0: never)
        self.react_ns = int(react_ms * 1e6)
        self._waiting: _Waiting | None = None
        self._meters: list[Meter] = []
        self._velocity = 64  # the last decision's
        # the chord the player holds (NO_CHORD: none); while there is one it is every beat's
        # chord, and the model only listens (its history stays true for when it takes over)
        self.follow_chords = follow_chords
        self.split = split  # the chord hand plays below this MIDI note (None: see harmony.chord_hand)
        self.players_chord = NO_CHORD
        # the voicing before the current beat's, for a chord that replaces it on its beat
        self._voicing_before: tuple[int, ...] | None = None

    # -- what is heard (engine thread) ------------------------------------------------
    def add_note(self, note: Note) -> None:
        """A completed melody note (the player's, or an audible suggestion note planned ahead)."""
        bisect.insort(self.notes, note, key=lambda n: (n.onset, n.pitch))
        if len(self.notes) > MEMORY_NOTES:
            del self.notes[: len(self.notes) - MEMORY_NOTES]
        if self.held is not None and self.held.onset == note.onset and self.held.pitch == note.pitch:
            self.held = None

    def plan(self, notes, replace_from: int | None) -> None:
        """Suggestion notes that will sound (the engine's plan); ``replace_from`` not None
        drops the planned notes from that tick on first (a new plan replaced them)."""
        if replace_from is not None:
            self.planned = [n for n in self.planned if n.onset < replace_from]
        self.planned = sorted(self.planned + list(notes), key=lambda n: n.onset)[-MEMORY_NOTES:]

    def planned_at(self, tick: int) -> bool:
        """One of our own planned melody notes sounds at ``tick`` (its chord is decided ahead)."""
        return sounding_at(self.planned, tick) is not None

    @property
    def active(self) -> bool:
        """Chords are being played (a melody was heard within the last ``idle_bars``)."""
        return self._active

    def hold(self, onset: int, pitch: int) -> None:
        """A melody note has started and is still sounding."""
        self.held = Note(onset, 1, pitch)

    def release(self) -> None:
        self.held = None

    def reset(self) -> None:
        """Forget everything (transport stop, new song)."""
        self.notes.clear()
        self.planned = []
        self.held = None
        self._next = None
        self._previous_beat = None
        self._active = False
        self._sounding_chord = NO_CHORD
        self.model.reset()
        self.voicer.reset()
        self.current = None
        self.forecast = []
        self._waiting = None
        self.players_chord = NO_CHORD
        self._voicing_before = None

    # -- deciding (engine thread) --------------------------------------------------------
    def _melody(self) -> list[Note]:
        """What is heard and what is planned, by onset (planned notes win a tie)."""
        if not self.planned:
            return self.notes
        return sorted(self.notes[-32:] + self.planned, key=lambda n: n.onset)

    def _known(self, decision: int) -> list[Note]:
        notes = [n for n in self._melody()[-32:] if n.onset < decision]
        if self.held is not None and self.held.onset < decision:
            notes.append(Note(self.held.onset, max(1, decision - self.held.onset), self.held.pitch))
            notes.sort(key=lambda n: n.onset)
        return notes

    def _recent(self, tick: int, meters: list[Meter]) -> bool:
        """Whether a melody note sounds near this beat (within ``idle_bars`` before it)."""
        window = self.idle_bars * meter_at(meters, tick).bar_ticks
        if self.held is not None:
            return True
        for n in reversed(self._melody()):
            if n.end >= tick - window and n.onset <= tick + 1:
                return True
            if n.onset <= tick and n.end < tick - window:
                break
        return False

    def _beat_after(self, meters: list[Meter], tick: int) -> Beat:
        m = meter_at(meters, tick)
        t, k, length = beat_grid(meters, tick, tick + m.bar_ticks + 1)[0]
        return Beat(t, k, length)

    def due(self, now_tick: float, meters: list[Meter]) -> bool:
        if self._next is None:
            self._next = self._beat_after(meters, int(now_tick + TICK_EPS) + 1)
        return now_tick + TICK_EPS >= self._next.tick - self.decision_ticks

    def decide(self, now_tick: float, meters: list[Meter], velocity: int) -> list[ChordDecision]:
        """Chords of every beat whose decision tick has come, with the notes to play."""
        out: list[ChordDecision] = []
        while self.due(now_tick, meters):
            beat = self._next
            self._next = self._beat_after(meters, beat.tick + 1)
            decision = self._decide_beat(beat, meters, velocity)
            if decision is not None:
                out.append(decision)
        return out

    def _decide_beat(self, beat: Beat, meters: list[Meter], velocity: int) -> ChordDecision | None:
        if not self._recent(beat.tick, meters):
            if self._active:  # a long silence: the next phrase starts a new chord sequence
                self._active = False
                self.model.reset()
                self._previous_beat = None
                self._sounding_chord = NO_CHORD
                self.current = None
                self.forecast = []
            return None
        meter = meter_at(meters, beat.tick)
        previous_tick = self._previous_beat if self._previous_beat is not None else beat.tick - beat.length
        ahead = None
        if self.held is None:  # the player's notes are never known ahead; our own planned ones are
            planned = sounding_at(self.planned, beat.tick)
            ahead = planned.pitch if planned is not None else None
        feats = step_features(self._known(beat.tick - self.decision_ticks), beat.tick, previous_tick, beat.index, meter,
                              ahead)
        previous = self.model.previous if self._active else BOS_CHORD
        followed = self.players_chord != NO_CHORD
        sounding_before = self._sounding_chord if self._active else NO_CHORD
        self._waiting = None
        if self.react_ns > 0 and ahead is None and not followed:
            # the player may still start a note on this beat: the step as it is (row 0) and
            # told each pitch class of that note (the model's lookahead input), in one run
            rows = np.repeat(feats[None, :], 13, axis=0)
            rows[1:, AHEAD:AHEAD_KNOWN] = np.eye(12, dtype=rows.dtype)
            rows[1:, AHEAD_KNOWN] = 1.0
            logp_rows, states, melody = self.model.peek_batch(self.model.previous, rows, self.model.state)
            self.model.state = np.ascontiguousarray(states[:, :1])
            self.model.melody = None if melody is None else melody[0]
            logp = logp_rows[0]
            chords = self._choose_rows(logp_rows, beat.index, previous, melody)
            chord = int(chords[0])
            self._waiting = _Waiting(beat, meters, velocity, [int(c) for c in chords[1:]], logp_rows[1:],
                                     states[:, 1:], None if melody is None else melody[1:], sounding_before,
                                     self.voicer.last)
        else:
            logp = self.model.step(feats)
            chord = self.players_chord if followed else self._choose(logp, beat.index, previous, self.model.melody)
        self.model.commit(chord)
        self._previous_beat = beat.tick
        self._active = True
        self._voicing_before = self.voicer.last
        self.current = self._play(beat, meters, chord, float(np.exp(logp[chord])), velocity, sounding_before,
                                  followed=followed)
        return self.current

    def _play(self, beat: Beat, meters: list[Meter], chord: int, probability: float, velocity: int,
              sounding_before: int, reacted: bool = False, followed: bool = False) -> ChordDecision:
        """The notes of ``chord`` on ``beat`` in the pattern; it becomes the sounding chord
        (the forecast after it is left to ``refresh_forecast``, called once the chord is on
        its way: a chord must not wait for it)."""
        restrike = chord != sounding_before
        self._velocity = velocity
        notes: list[Note] = []
        if self.pattern != "bar" or restrike or beat.index == 0:
            notes = render(self.pattern, beat, self.voicer.voice(chord), velocity, meter_at(meters, beat.tick),
                           restrike)
        self._sounding_chord = chord
        self.current = ChordDecision(beat, chord, tuple(notes), probability, reacted, followed)
        self._meters = meters
        return self.current

    def refresh_forecast(self) -> None:
        """The most likely chords of the two bars after the current one (for the UI; about
        2 ms of model steps); while the player holds a chord, that chord (it stays until they
        let go)."""
        if self.current is None:
            self.forecast = []
        elif self.players_chord != NO_CHORD:
            start = self.current.beat.tick + 1
            end = start + 2 * meter_at(self._meters, start).bar_ticks
            self.forecast = [(t, self.players_chord) for t, _, _ in beat_grid(self._meters, start, end)]
        else:
            self.forecast = self.rollout(self._meters, 2)

    # -- reacting to the player's note on the beat (engine thread) -----------------------
    @property
    def waiting_beat(self) -> Beat | None:
        """The beat whose chord a player's note may still choose (see ``react``), or None."""
        return self._waiting.beat if self._waiting is not None else None

    def stop_waiting(self) -> None:
        """The beat's reaction window has closed: its chord stays."""
        self._waiting = None

    def react(self, pitch: int) -> ChordDecision | None:
        """The player started ``pitch`` on the waiting beat (after its decision tick, within
        its reaction window): the beat takes the chord chosen with that note known. Returns
        the new decision when the chord differs from the one already planned, else None
        (the model's state takes the note either way). Once per beat."""
        w, self._waiting = self._waiting, None
        if w is None or self.current is None or self.current.beat != w.beat or self.players_chord != NO_CHORD:
            return None
        k = pitch % 12
        self.model.state = np.ascontiguousarray(w.states[:, k:k + 1])
        self.model.melody = None if w.melody is None else w.melody[k]
        chord = w.chords[k]
        if chord == self.current.chord:
            return None
        self.model.commit(chord)
        self.voicer.last = w.voicer_last
        return self._play(w.beat, w.meters, chord, float(np.exp(w.logp[k, chord])), w.velocity, w.restrike_from,
                          reacted=True)

    # -- following the player's own chords (engine thread) -------------------------------
    def follow(self, chord: int, now_tick: float, on_beat: bool) -> ChordDecision | None:
        """The player now holds ``chord`` (``harmony.players_chord``; NO_CHORD: they let go,
        and the model decides again from the next beat). A new chord takes over at once:
        ``on_beat`` (struck after the current beat's decision and within its reaction
        window) it replaces the current beat's chord on that beat; otherwise it sounds from
        ``now_tick`` to the end of the beat in the pattern. Returns the decision to play
        instead of what is planned, or None (no change, not following, nothing sounding)."""
        chord = chord if self.follow_chords else NO_CHORD
        changed, self.players_chord = chord != self.players_chord, chord
        current = self.current
        if not changed or chord == NO_CHORD or current is None:
            return None
        if chord == current.chord:  # already playing: it is the player's now
            self._waiting = None
            self.current = replace(current, followed=True)
            return None
        self._waiting = None  # the player's chord, not their melody note, chooses this beat
        self.model.commit(chord)
        if on_beat:
            self.voicer.last = self._voicing_before
            beat = current.beat
        else:  # struck in the middle of a beat: from here to the beat's end
            end = current.beat.tick + current.beat.length
            start = max(current.beat.tick, min(int(now_tick), end - 1))
            beat = Beat(start, current.beat.index, end - start)
            self._voicing_before = self.voicer.last
        # struck by the player: sounded even where the pattern would hold the chord before
        return self._play(beat, self._meters, chord, 1.0, self._velocity, NO_CHORD, reacted=True, followed=True)

    def rollout(self, meters: list[Meter], bars: int, melody: list[Note] | None = None) -> list[tuple[int, int]]:
        """The most likely chords ``[(beat tick, chord)]`` of the next ``bars`` bars after the
        current beat, assuming the melody ``melody`` (default: what is known now) and no more."""
        if self.current is None:
            return []
        start = self.current.beat.tick + 1
        end = start + bars * meter_at(meters, start).bar_ticks
        beats = beat_grid(meters, start, end)
        return self._greedy(beats, meters, melody if melody is not None else self._known(start),
                            self.model.state, self.model.previous, self.current.beat.tick, self.planned)

    def _choose(self, logp: np.ndarray, index: int, previous: int, melody: np.ndarray | None = None) -> int:
        """The chord to play (``chord_model.choose_chord``, with the model's prediction of the
        beat's melody where it makes one); with the ``bar`` pattern a chord holds until the
        next downbeat."""
        if self._holds_bar(index, previous):
            return previous
        return choose_chord(logp, melody)

    def _holds_bar(self, index: int, previous: int) -> bool:
        """With the ``bar`` pattern a chord holds until the next downbeat."""
        return self.pattern == "bar" and index != 0 and previous not in (BOS_CHORD, NO_CHORD)

    def _choose_rows(self, logp: np.ndarray, index: int, previous: int, melody: np.ndarray | None) -> np.ndarray:
        """``_choose`` for each row of ``logp`` [B, V] (one beat, several melodies) at once."""
        if self._holds_bar(index, previous):
            return np.full(len(logp), previous)
        return choose_chords(logp, melody)

    def _greedy(self, beats, meters, melody, state, previous, previous_tick, known_ahead=()) -> list[tuple[int, int]]:
        """Chords of ``beats`` chosen one by one from ``state``; ``known_ahead`` are melody
        notes known in advance (planned or accepted), given to the model as lookahead."""
        out = []
        for tick, index, _ in beats:
            known = [n for n in melody if n.onset < tick - DECISION_TICKS]
            at = sounding_at(list(known_ahead), tick) if known_ahead else None
            feats = step_features(known, tick, previous_tick, index, meter_at(meters, tick),
                                  at.pitch if at is not None else None)
            logp, state, predicted = self.model.peek_full(previous, feats, state)
            previous = self._choose(logp, index, previous, predicted)
            previous_tick = tick
            out.append((tick, previous))
        return out

    def chords_for(self, melody: list[Note], meters: list[Meter], start: int, end: int) -> list[tuple[int, int]]:
        """Chords per beat in ``[start, end)`` for a planned ``melody`` (an accepted suggestion),
        continuing from the current state without changing it."""
        beats = beat_grid(meters, start, end)
        previous_tick = self._previous_beat if self._previous_beat is not None else start
        return self._greedy(beats, meters, sorted(self._melody() + list(melody), key=lambda n: n.onset),
                            self.model.state, self.model.previous if self._active else BOS_CHORD, previous_tick,
                            sorted(self.planned + list(melody), key=lambda n: n.onset))

    def harmonise(self, melody: list[Note], meters: list[Meter]) -> list[tuple[int, int]]:
        """Chords per beat for a whole known ``melody`` (offline: every note is known ahead),
        from a fresh state; the live state is not touched."""
        if not melody:
            return []
        start = bar_start(meters, melody[0].onset)
        end = max(n.end for n in melody)
        state = np.zeros_like(self.model.state)
        return self._greedy(beat_grid(meters, start, end), meters, melody, state, BOS_CHORD, start - 1, melody)

    def render_chords(self, chords: list[tuple[int, int]], meters: list[Meter], velocity: int) -> list[Note]:
        """Notes of a chord sequence ``[(beat tick, chord)]`` in this pattern, with its own voicer."""
        voicer = Voicer(self.voicer.low, self.voicer.high, self.voicer.voices)
        out: list[Note] = []
        sounding = None
        for tick, chord in chords:
            if chord == NO_CHORD:
                sounding = None
                continue
            beat = self._beat_after(meters, tick)
            restrike = chord != sounding
            if self.pattern == "bar" and beat.index != 0 and not restrike:
                continue
            out += render(self.pattern, beat, voicer.voice(chord), velocity, meter_at(meters, tick), restrike)
            sounding = chord
        return out


def chord_velocity(player_velocity: int) -> int:
    """Chords a little softer than the melody they accompany."""
    return max(1, round(player_velocity * 0.8))


def chord_tones_by_beat(chords: list[tuple[int, int]]) -> dict[int, frozenset[int]]:
    """``{beat tick: chord pitch classes}`` (N.C. beats left out), for the chord scale lock."""
    return {t: frozenset(chord_pitch_classes(c)) for t, c in chords if c != NO_CHORD}
