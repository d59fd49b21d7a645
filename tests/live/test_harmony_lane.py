"""The harmony lane alone: how early it decides, and that it is quiet without a chord model."""

from assistant.live.harmony_lane import HarmonyLane
from assistant.music import Note


class _Clock:
    NS_PER_TICK = 41_666_667  # 120 BPM, 12 ticks a quarter

    meters = []

    def ns_at(self, tick):
        return round(tick * self.NS_PER_TICK)


class _Scheduler:
    def __init__(self, lead_ns):
        self.lead_ns = lead_ns

    def send_lead_ns(self, output):
        return self.lead_ns


def test_the_decision_comes_as_many_ticks_early_as_the_harmony_output_needs():
    quick = HarmonyLane(None, _Clock(), _Scheduler(2_000_000), planner=None)
    assert quick._decision_ticks(100.0) == 1  # 2 ms lead + 10 ms to decide: within a tick
    slow = HarmonyLane(None, _Clock(), _Scheduler(64_000_000), planner=None)
    assert slow._decision_ticks(100.0) == 2  # 64 + 10 ms: two ticks of 41.7 ms


def test_without_a_chord_model_the_lane_hears_and_plays_nothing():
    lane = HarmonyLane(None, _Clock(), _Scheduler(0), planner=None)
    lane.hear_struck(0, 60, 60)
    lane.hear_held([48, 52, 55, 60], 0)
    lane.hear_melody_note(Note(0, 12, 60))
    lane.hear_plan((Note(12, 12, 62),), None)
    lane.tick(0)
    assert not lane.available and not lane.active
    assert lane.chord_tones(0, 1) is None and lane.accepted_chords([Note(0, 12, 60)], 0) == []
    assert lane.view == (None, None, [])


# -- the reaction window, on exact times (a fake clock, the shipped chord model) -----------

import pytest  # noqa: E402

from assistant.clock import FakeClock  # noqa: E402
from assistant.live.accompanist import Accompanist  # noqa: E402
from assistant.live.chord_model import ChordModel  # noqa: E402
from assistant.live.planner import Planner  # noqa: E402
from assistant.live.scheduler import Scheduler  # noqa: E402
from assistant.midi.fakeports import FakeOutput  # noqa: E402
from assistant.music.harmony import chord_pitch_classes  # noqa: E402
from assistant.bench.judge import sounding_notes  # noqa: E402

MS = 1_000_000
BEAT = 48  # the beat under test: the fifth, after four quarter notes of C major
LINE = [60, 64, 67, 65]


class ReactRig:
    def __init__(self):
        self.clock = FakeClock(tempo_bpm=120)
        self.out = FakeOutput("out", now=self.clock.now)
        self.scheduler = Scheduler(self.clock, {"out": self.out})
        self.acc = Accompanist(ChordModel.load(), pattern="beat", react_ms=30)
        self.lane = HarmonyLane(self.acc, self.clock, self.scheduler, Planner(), channel=1, velocity=64)

    def advance(self, ns):
        """Step to ``ns`` a millisecond (or the next deadline) at a time, as the engine polls."""
        while self.clock.now() < ns:
            nxt = min(ns, self.clock.now() + MS)
            deadline = self.scheduler.next_deadline_ns()
            if deadline is not None and self.clock.now() < deadline < nxt:
                nxt = deadline
            self.clock.set_time(nxt)
            self.lane.tick(nxt)
            self.scheduler.dispatch_due(nxt)

    def strike(self, tick, pitch, ns=None):
        ns = self.clock.ns_at(tick) if ns is None else ns
        self.advance(ns)
        self.lane.hear_struck(tick, pitch, pitch, ns)
        self.scheduler.dispatch_due(ns)

    def play_line(self):
        """Four quarter notes, each struck on its beat and completed at the next."""
        for i, pitch in enumerate(LINE):
            self.strike(12 * i, pitch)
            self.advance(self.clock.ns_at(12 * i + 12) - 1)
            self.acc.add_note(Note(12 * i, 12, pitch))

    def chord_ons(self, after_ns):
        return [(m.note, ns) for m, ns in self.out.sent
                if m.type == "note_on" and m.velocity > 0 and m.channel == 1 and ns >= after_ns]


def _at_the_decision(r):
    """The rig just after BEAT's decision tick: the default chord and a pitch whose chord differs."""
    r.play_line()
    r.advance(r.clock.ns_at(BEAT - 1) + MS)
    assert r.acc.waiting_beat is not None and r.acc.waiting_beat.tick == BEAT
    planned = r.acc.current.chord
    other = next(p for p in range(60, 72) if r.acc._waiting.chords[p % 12] != planned)
    return planned, other, r.acc._waiting.chords[other % 12]


def sounding_at(sent, ns):
    return sounding_notes(sent, ns, channel=1)


@pytest.mark.parametrize("when_ms", [-15.0, 0.0, 20.0])
def test_a_note_on_the_beat_chooses_its_chord_on_the_beat_or_at_once_when_late(when_ms):
    """Early (after the decision tick), on the beat, or late within the 30 ms window: the
    beat gets the chord chosen with that note, on the beat when the note came before it,
    at the note's own time when it came at or after it (the planned chord, already out, is
    closed then)."""
    r = ReactRig()
    planned, pitch, reacted = _at_the_decision(r)
    beat_ns = r.clock.ns_at(BEAT)
    r.strike(BEAT, pitch, beat_ns + int(when_ms * MS))
    r.advance(beat_ns + 40 * MS)
    ons = r.chord_ons(beat_ns)
    heard_ns = beat_ns + max(0, int(when_ms * MS))
    assert all(ns in (beat_ns, heard_ns) for _, ns in ons)
    assert {p % 12 for p in sounding_at(r.out.sent, heard_ns)} == set(chord_pitch_classes(reacted))
    assert len(sounding_at(r.out.sent, heard_ns)) >= 3
    if when_ms < 0:  # heard before the beat: only the reacted chord is ever struck
        assert all(ns == beat_ns for _, ns in ons)
        assert {p % 12 for p, _ in ons} == set(chord_pitch_classes(reacted))
    elif when_ms > 0:  # the planned chord sounded from the beat until the note came
        assert {p % 12 for p in sounding_at(r.out.sent, heard_ns - 1)} == set(chord_pitch_classes(planned))
    assert r.acc.current.chord == reacted and r.acc.current.reacted


def test_a_note_after_the_window_and_a_note_held_across_the_beat_leave_the_planned_chord():
    for late in (True, False):
        r = ReactRig()
        planned, pitch, _ = _at_the_decision(r)
        beat_ns = r.clock.ns_at(BEAT)
        if late:
            r.strike(BEAT + 1, pitch, beat_ns + 35 * MS)  # 35 ms after the beat: too late
        r.advance(beat_ns + 60 * MS)
        ons = r.chord_ons(beat_ns)
        assert ons and all(ns == beat_ns for _, ns in ons), (late, ons)
        assert {p % 12 for p, _ in ons} == set(chord_pitch_classes(planned))
        assert r.acc.current.chord == planned and not r.acc.current.reacted
        assert r.acc.waiting_beat is None


# -- the player's own chords, on exact times ------------------------------------------------

from assistant.live.harmony_lane import FOLLOWING, WAITING  # noqa: E402
from assistant.music.harmony import NO_CHORD, chord_index, chord_name  # noqa: E402

F_MAJOR = chord_index(5, "maj")
F_HAND = [53, 57, 60]  # F3 A3 C4


def _hold(r, pitches, ns, held=()):
    """The player strikes ``pitches`` together at ``ns`` (beside ``held``, already down)."""
    r.advance(ns)
    tick = r.clock.tick_at(ns)
    for i, p in enumerate(pitches):
        down = list(held) + list(pitches[:i + 1])
        r.lane.hear_struck(tick, p, max(down), ns)
        r.lane.hear_held(down, ns)
    r.scheduler.dispatch_due(ns)


@pytest.mark.parametrize("when_ms", [-20.0, 10.0])
def test_a_chord_the_player_holds_is_the_beats_chord_on_the_beat(when_ms):
    """Struck in the beat's window (before the beat, or late within 30 ms), the player's
    chord replaces the model's on that beat, and is every later beat's chord while held."""
    r = ReactRig()
    planned, _, _ = _at_the_decision(r)
    assert planned != F_MAJOR  # the shipped model plans another chord after C E G F
    beat_ns = r.clock.ns_at(BEAT)
    struck_ns = beat_ns + int(when_ms * MS)
    _hold(r, F_HAND, struck_ns)
    heard_ns = max(beat_ns, struck_ns)
    r.advance(r.clock.ns_at(BEAT + 36) + MS)  # three more beats, the chord still held
    assert {p % 12 for p in sounding_at(r.out.sent, heard_ns + MS)} == {5, 9, 0}
    for beat in (BEAT + 12, BEAT + 24, BEAT + 36):  # pattern "beat": struck on each beat, as F
        assert {p % 12 for p in sounding_at(r.out.sent, r.clock.ns_at(beat) + MS)} == {5, 9, 0}
    assert r.acc.current.followed and r.acc.current.chord == F_MAJOR
    chord, how, upcoming = r.lane.view
    assert chord == "F" and how == FOLLOWING
    assert upcoming and all(name == "F" and mark == FOLLOWING for _, name, mark in upcoming)


def test_the_model_takes_over_again_when_the_player_lets_go():
    r = ReactRig()
    _at_the_decision(r)
    _hold(r, F_HAND, r.clock.ns_at(BEAT))
    r.advance(r.clock.ns_at(BEAT + 6))
    r.lane.hear_held([], r.clock.now())  # let go in the middle of the beat
    assert r.acc.current.chord == F_MAJOR  # what sounds stays until the next beat
    r.advance(r.clock.ns_at(BEAT + 12) + MS)
    assert not r.acc.current.followed
    assert r.acc.players_chord == NO_CHORD
    chord, how, upcoming = r.lane.view
    assert how != FOLLOWING and all(mark == WAITING for _, _, mark in upcoming)


def test_a_chord_struck_between_beats_sounds_at_once():
    r = ReactRig()
    planned, _, _ = _at_the_decision(r)
    assert planned != F_MAJOR
    r.advance(r.clock.ns_at(BEAT + 1))
    struck_ns = r.clock.ns_at(BEAT + 5)  # 208 ms after the beat: outside its window
    before = {p % 12 for p in sounding_at(r.out.sent, struck_ns - MS)}
    assert before == set(chord_pitch_classes(planned))
    _hold(r, F_HAND, struck_ns)
    r.advance(struck_ns + 5 * MS)
    assert {p % 12 for p in sounding_at(r.out.sent, struck_ns + MS)} == {5, 9, 0}
    ons = [ns for p, ns in r.chord_ons(struck_ns) if p % 12 in (5, 9, 0)]
    assert ons and min(ons) - struck_ns < MS  # at once, not at the next beat


def test_a_melody_note_over_a_held_chord_and_the_split_point():
    r = ReactRig()
    _at_the_decision(r)
    _hold(r, F_HAND, r.clock.ns_at(BEAT))
    _hold(r, [72], r.clock.ns_at(BEAT + 3), held=F_HAND)  # a melody C5 over the chord
    assert r.acc.players_chord == F_MAJOR
    _hold(r, [74], r.clock.ns_at(BEAT + 6), held=F_HAND)  # D5: still the F chord, not Dm7
    assert r.acc.players_chord == F_MAJOR and chord_name(r.acc.current.chord) == "F"
    off = ReactRig()
    off.acc.follow_chords = False
    _at_the_decision(off)
    _hold(off, F_HAND, off.clock.ns_at(BEAT))
    assert off.acc.players_chord != F_MAJOR and not off.acc.current.followed
