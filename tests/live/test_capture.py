"""Capture: notes in ticks from timestamped messages, melody line, phrase ends (fake clock)."""

import mido
import pytest

from assistant.live.capture import Capture, MelodyNote, NoteEnded, NoteStarted, PhraseEnd
from assistant.clock import FakeClock
from assistant.errors import UserError
from assistant.music import Meter, Note

MS = 1_000_000


def on(p, v=90, ch=0):
    return mido.Message("note_on", channel=ch, note=p, velocity=v)


def off(p, ch=0):
    return mido.Message("note_off", channel=ch, note=p)


class Player:
    """Feeds messages at tick positions (plus an offset in ms) through a Capture."""

    def __init__(self, **kw):
        self.clock = FakeClock(tempo_bpm=120, meters=kw.pop("meters", None))
        self.cap = Capture(self.clock, **kw)
        self.events = []

    def at(self, tick, msg, ms=0.0):
        ns = self.clock.ns_at(tick) + round(ms * MS)
        self.clock.set_time(max(ns, self.clock.ns))
        self.events += self.cap.feed(msg, ns)

    def poll_to(self, tick):
        """Poll every tick up to ``tick``, as the engine would."""
        t = self.clock.now_tick()
        while t < tick:
            t += 1
            self.clock.set_time(self.clock.ns_at(t))
            self.events += self.cap.poll(self.clock.ns)

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]

    def notes(self):
        return [e.played.note for e in self.of(NoteEnded)]

    def melody(self):
        return [e.note for e in self.of(MelodyNote)]


def test_notes_round_to_nearest_tick_and_keep_offsets():
    p = Player()
    p.at(0, on(60), ms=5)  # 5 ms late -> tick 0
    p.at(12, off(60), ms=-15)  # 15 ms early -> tick 12
    p.at(12, on(62), ms=25)  # 25 ms late is more than half a tick -> tick 13
    p.at(24, on(62, v=0))  # velocity 0 is a note-off
    assert p.notes() == [Note(0, 12, 60, 90), Note(13, 11, 62, 90)]
    played = p.of(NoteEnded)[0].played
    assert played.onset_offset_ns == 5 * MS and played.end_offset_ns == -15 * MS
    assert played.onset_offset_ms == 5.0
    starts = p.of(NoteStarted)
    late = p.clock.ns_at(12) + 25 * MS - p.clock.ns_at(13)  # -16.7 ms: early for tick 13
    assert [(s.tick, s.pitch, s.offset_ns) for s in starts] == [(0, 60, 5 * MS), (13, 62, late)]


def test_drum_channel_ignored_and_channel_choice():
    p = Player()
    p.at(0, on(36, ch=9))
    p.at(6, off(36, ch=9))
    assert p.events == []
    p2 = Player(channels=[1])
    p2.at(0, on(60, ch=0))
    p2.at(0, on(64, ch=1))
    p2.at(6, off(64, ch=1))
    assert p2.notes() == [Note(0, 6, 64, 90)]
    with pytest.raises(UserError, match="capture channel 16 is out of range: use channel indexes 0..15"):
        Capture(FakeClock(), channels=[16])


def test_repeated_note_on_ends_the_first():
    p = Player()
    p.at(0, on(60))
    p.at(6, on(60, v=70))
    p.at(9, off(60))
    p.at(10, off(60))  # stray note-off: ignored
    assert p.notes() == [Note(0, 6, 60, 90), Note(6, 3, 60, 70)]


def test_melody_is_the_highest_note_and_cuts_lower_ones():
    p = Player()
    p.at(0, on(48))  # bass
    p.at(0, on(60))  # chord on the same tick: the top note is melody
    p.at(0, on(55))  # under the melody: not melody
    p.at(6, on(67))  # higher: cuts 60's melody duration at 6
    p.at(9, off(67))
    p.at(12, off(60))
    p.at(12, on(64))  # new onset after the top was released
    p.at(18, off(64))
    p.at(24, off(48))
    p.at(24, off(55))
    assert p.melody() == [Note(0, 6, 60, 90), Note(6, 3, 67, 90), Note(12, 6, 64, 90)]
    # completed notes, in the order they ended
    assert p.notes() == [Note(6, 3, 67, 90), Note(0, 12, 60, 90), Note(12, 6, 64, 90),
                         Note(0, 24, 48, 90), Note(0, 24, 55, 90)]


def test_phrase_end_after_silence():
    p = Player(silence_beats=2.0, bar_line=False)
    p.at(0, on(60))
    p.at(6, off(60))
    p.at(12, on(62))
    p.at(18, off(62))
    p.poll_to(41)
    assert p.of(PhraseEnd) == []
    p.poll_to(42)  # 18 + 2 beats (24 ticks)
    (end,) = p.of(PhraseEnd)
    ph = end.phrase
    assert (ph.reason, ph.start, ph.end, ph.detected_at) == ("silence", 0, 18, 42)
    assert [n.note for n in ph.notes] == [Note(0, 6, 60, 90), Note(12, 6, 62, 90)]
    assert ph.melody == (Note(0, 6, 60, 90), Note(12, 6, 62, 90))
    p.poll_to(100)
    assert len(p.of(PhraseEnd)) == 1  # one end per phrase
    assert p.cap.phrase_notes == []


def test_phrase_end_at_bar_line_after_silence():
    p = Player(silence_beats=8.0, bar_line=True, bar_min_silence_beats=1.0, bar_grace_ticks=2)
    p.at(0, on(60))
    p.at(30, off(60))  # silence from 30; a beat of silence by 42; next downbeat 48
    p.poll_to(49)
    assert p.of(PhraseEnd) == []
    p.poll_to(50)  # confirmed 2 ticks after the downbeat
    (end,) = p.of(PhraseEnd)
    assert (end.phrase.reason, end.phrase.detected_at, end.phrase.end) == ("bar", 50, 30)


def test_no_bar_end_when_the_downbeat_note_is_just_late():
    p = Player(silence_beats=8.0, bar_min_silence_beats=0.5, bar_grace_ticks=2)
    p.at(0, on(60))
    p.at(40, off(60))  # 8 ticks of silence before the downbeat at 48: more than half a beat
    p.poll_to(48)
    p.at(48, on(62), ms=30)  # 30 ms late: tick 49, before the grace ran out
    p.at(60, off(62))
    assert p.of(PhraseEnd) == []
    p2 = Player(silence_beats=8.0, bar_min_silence_beats=1.0)
    p2.at(0, on(60))
    p2.at(40, off(60))  # only 8 ticks of silence before 48: the bar line at 48 does not count
    p2.poll_to(60)
    assert p2.of(PhraseEnd) == []
    p2.poll_to(98)  # the next one (96) does, 2 ticks later
    assert [e.phrase.detected_at for e in p2.of(PhraseEnd)] == [98]


def test_bar_lines_follow_the_meter():
    p = Player(meters=[Meter(0, 3, 4)], silence_beats=None, bar_min_silence_beats=0.5, bar_grace_ticks=0)
    p.at(0, on(60))
    p.at(20, off(60))  # silence from 20; half a beat by 26; 3/4 downbeat at 36
    p.poll_to(36)
    assert [e.phrase.detected_at for e in p.of(PhraseEnd)] == [36]


def test_explicit_end_cuts_held_notes():
    p = Player()
    p.at(0, on(60))
    p.at(6, off(60))
    p.at(12, on(64))
    p.clock.set_time(p.clock.ns_at(20))
    p.events += p.cap.end_phrase()
    (end,) = p.of(PhraseEnd)
    assert end.phrase.reason == "explicit" and end.phrase.detected_at == 20
    assert [n.note for n in end.phrase.notes] == [Note(0, 6, 60, 90), Note(12, 8, 64, 90)]
    assert end.phrase.melody == (Note(0, 6, 60, 90), Note(12, 8, 64, 90))
    p.at(30, off(64))  # the cut note's note-off is ignored
    p.poll_to(200)
    assert len(p.of(PhraseEnd)) == 1 and len(p.of(NoteEnded)) == 2
    assert p.cap.end_phrase() == []  # nothing to end


def test_non_note_messages_are_ignored():
    p = Player()
    p.at(0, mido.Message("control_change", control=64, value=127))
    p.at(0, mido.Message("clock"))
    assert p.events == []
