"""End to end through a real JACK server: the real ``midi-assistant run`` process, a peer
client playing the DAW's part (MIDI clock at 120 BPM, Start, a phrase from a real MIDI
file), and checks on what comes back, when, and that nothing is left hanging."""

import math
import os
import signal
import time

import mido
import pytest

from assistant.bench.judge import (chord_timing_errors_ms, chords_by_beat, hanging_notes, note_ons, pulse_counts,
                                   timing_errors_ms, unclosed_notes)
from assistant.bench.rig import C_MAJOR_PHRASE, HARMONY_CHANNEL, MS, Rig, now
from assistant.midi.midifile import read_midi
from assistant.music import Note, TICKS_PER_QUARTER
from assistant.live.model import DEFAULT_MELODY_MODEL

pytestmark = [pytest.mark.jack, pytest.mark.slow]
pytest.importorskip("rtmidi")


def phrase_from_midi_file(tmp_path):
    """Write a real MIDI file (two bars of 4/4, a quarter-note pickup into bar 2) and read its melody back."""
    mid = mido.MidiFile(type=1, ticks_per_beat=96)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000),
                            mido.MetaMessage("time_signature", numerator=4, denominator=4)])
    for pitch, beats in [(67, 1), (69, 1), (71, 1), (72, 1), (74, 2), (72, 1), (71, 1)]:
        track.append(mido.Message("note_on", note=pitch, velocity=96, time=0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=96 * beats))
    mid.tracks.append(track)
    path = tmp_path / "phrase.mid"
    mid.save(str(path))
    notes = read_midi(path).tracks[0].notes
    assert len(notes) == 7 and notes[-1].end == 96  # two bars of 4/4 in ticks
    return notes


def c_major_phrase_from_midi_file(tmp_path):
    """The 4-bar C major phrase of quarters and eighths (``assistant.bench.rig.C_MAJOR_PHRASE``),
    written to a real MIDI file at 480 ticks per quarter and read back."""
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000),
                            mido.MetaMessage("time_signature", numerator=4, denominator=4)])
    scale = 480 // TICKS_PER_QUARTER
    now = 0
    for n in C_MAJOR_PHRASE:
        track.append(mido.Message("note_on", note=n.pitch, velocity=n.velocity, time=(n.onset - now) * scale))
        track.append(mido.Message("note_off", note=n.pitch, velocity=0, time=n.duration * scale))
        now = n.end
    mid.tracks.append(track)
    path = tmp_path / "c_major.mid"
    mid.save(str(path))
    notes = read_midi(path).tracks[0].notes
    assert notes == C_MAJOR_PHRASE and notes[-1].end == 192  # four bars of 4/4
    return notes


@pytest.fixture
def model_path():
    if not DEFAULT_MELODY_MODEL.exists():
        pytest.fail(f"{DEFAULT_MELODY_MODEL} is missing: the e2e tests run the shipped model")
    return None  # the default: the shipped, checksummed model


STALL_SLACK_MS = 5.0  # see test_a_stall_of_the_jack_server_does_not_shift_the_grid


def tolerance_ms(jack_server):
    return jack_server.period_ns / MS + 1.0  # one period plus 1 ms


def timing_context(rig, jack_server) -> str:
    """What a timing failure needs to be understood: both sides' lateness, the clock
    pulses sent and counted, and the end of jackd's log."""
    stats = rig.assistant.stats()
    pulses = pulse_counts(stats, rig)
    log = jack_server.log.read_text(errors="replace").strip().splitlines()[-5:] if jack_server.log.exists() else []
    return (f"the assistant's dispatch lateness (us): {stats.get('dispatch_lateness_us')}; this side's timed "
            f"sender (clock, notes) late by up to {max(rig.peer.sender.lateness_ns, default=0) / MS:.2f} ms; "
            f"clock pulses sent {pulses['clock_pulses_sent']}, counted {pulses['clock_pulses_counted']}, "
            f"taken for repeats {pulses['clock_pulses_repeated']}, inferred lost {pulses['clock_pulses_inferred_lost']}; "
            f"events handed over late {stats.get('late_events')}; JACK cycles that jumped "
            f"{stats.get('jack_frame_jumps')} (time base moved by a stall's lag {stats.get('jack_base_steps')}); "
            f"the follower's count changes (s after the first pulse, why, pulses): {_count_changes(rig, stats)}; "
            f"jackd's log ends: {log}")


def _count_changes(rig, stats) -> list:
    """The clock follower's changes of its count, timed from the DAW's first pulse (roughly:
    the two clients' time bases may differ by a few ms)."""
    return [(round((ns - rig.t0) / 1e9, 3), why, n) for ns, _shift, why, n in stats.get("clock_count_changes", [])]


def test_answer_on_the_bar_accept_to_accepted_port_and_capture_file(jack_server, tmp_path, model_path):
    phrase = phrase_from_midi_file(tmp_path)
    rig = Rig(jack_server.name, model=model_path, workdir=tmp_path)
    try:
        rig.start_clock(beats=32)
        rig.play(phrase, at_tick=48)  # bar 2; ends at tick 144; 1 beat of silence ends it at 156
        rig.wait_until_tick(192 + 8)  # the answer starts on the next bar line: 192
        rig.send_at_tick(204, [0xB0, 20, 127])  # CC 20 = accept, while the answer plays
        rig.wait_until_tick(288 + 60)  # accepted material plays from the next bar: 240
        log = rig.peer.collect()
    finally:
        code = rig.close()
    assert code == 0, rig.assistant.log_text()[-2000:]
    answer = note_ons(log, "out")
    assert answer, "no answer arrived: " + rig.assistant.log_text()[-2000:]
    first_tick = round(rig.tick_of(answer[0][2]))
    assert first_tick == 192, (rig.tick_of(answer[0][2]), timing_context(rig, jack_server))
    errors = timing_errors_ms(rig, answer)
    assert max(abs(e) for e in errors) <= tolerance_ms(jack_server), (errors, timing_context(rig, jack_server))
    accepted = note_ons(log, "accepted")
    assert accepted, "accept did not play on the accepted port"
    assert round(rig.tick_of(accepted[0][2])) == 240
    accepted_errors = timing_errors_ms(rig, accepted)
    assert max(abs(e) for e in accepted_errors) <= tolerance_ms(jack_server), (accepted_errors,
                                                                             timing_context(rig, jack_server))
    assert hanging_notes(log) == {}
    # the capture file holds the accepted notes, at the ticks they were played
    files = list(rig.assistant.session_dir.glob("*.mid"))
    assert len(files) == 1
    mid = mido.MidiFile(str(files[0]))
    acc_track = next(t for t in mid.tracks if any(getattr(m, "name", "") == "accepted" for m in t))
    now, onsets = 0, []
    for msg in acc_track:
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            onsets.append((round(now * 12 / mid.ticks_per_beat), msg.note))
    heard = [(round(rig.tick_of(ns)), m.note) for _, m, ns in accepted]
    assert onsets[:len(heard)] == heard


def test_stop_silences_output(jack_server, tmp_path, model_path):
    rig = Rig(jack_server.name, model=model_path, workdir=tmp_path, settings={"suggest.bars": 2})
    try:
        rig.start_clock(beats=20)
        rig.play(phrase_from_midi_file(tmp_path), at_tick=48)
        rig.wait_until_tick(192 + 6)  # the answer has started
        stop_at = rig.time_of(198)
        rig.peer.sender.cancel_after(stop_at)
        rig.peer.sender.add([(stop_at, [0xFC])])
        time.sleep(0.6)
        log = rig.peer.collect()
    finally:
        code = rig.close()
    assert code == 0
    assert note_ons(log, "out"), "the answer never started"
    late = [(m, ns) for lab, m, ns in log if m.type == "note_on" and m.velocity > 0 and ns > stop_at + 5 * MS]
    assert late == [], "notes were played after Stop"
    before_close = [(lab, m, ns) for lab, m, ns in log if ns <= stop_at + 100 * MS]
    assert hanging_notes(before_close) == {}, "Stop left notes sounding"


def test_sigterm_leaves_no_note_hanging(jack_server, tmp_path, model_path):
    rig = Rig(jack_server.name, model=model_path, workdir=tmp_path, settings={"suggest.bars": 4})
    try:
        rig.start_clock(beats=40)
        rig.play(phrase_from_midi_file(tmp_path), at_tick=48)
        rig.wait_until_tick(192 + 20)
        log = rig.peer.collect()
        assert note_ons(log, "out"), "the answer never started"
    finally:
        code = rig.close(signal.SIGTERM)
    assert code == 0, rig.assistant.log_text()[-2000:]
    assert hanging_notes(rig.peer.log) == {}
    stats = rig.assistant.stats()
    assert stats["suggestions"] >= 1 and os.path.exists(rig.assistant.stats_path)


def test_harmony_chords_on_every_beat_in_time_and_closed_after_stop(jack_server, tmp_path, model_path):
    """Harmony mode, a chord struck on every beat: the chords come on the harmony channel,
    each on its beat within one JACK period + 1 ms, 3-4 distinct notes a beat, one chord per
    beat while the melody sounds (and a bar after); Stop, mid-chord, closes every note with
    a note-off and nothing plays after it."""
    phrase = c_major_phrase_from_midi_file(tmp_path)
    rig = Rig(jack_server.name, model=model_path, workdir=tmp_path,
              settings={"suggest.mode": "harmony", "harmony.pattern": "beat", "harmony.react_ms": 0})
    beat = TICKS_PER_QUARTER
    start, end = 4 * beat, 4 * beat + 192  # the melody: bar 2 to the end of bar 5
    stop_tick = end + 4 * beat + 6  # half a beat into the last chord (one bar after the melody)
    try:
        rig.start_clock(beats=(end + 12 * beat) / beat)
        rig.play(phrase, at_tick=start)
        stop_at = rig.time_of(stop_tick)
        rig.peer.sender.cancel_after(stop_at)  # no clock pulse after Stop
        rig.peer.sender.add([(stop_at, [0xFC])])
        rig.wait_until_tick(stop_tick)
        time.sleep(0.8)  # after Stop: anything still to come arrives now
        log = list(rig.peer.collect())
    finally:
        code = rig.close()
    assert code == 0, rig.assistant.log_text()[-2000:]
    text = rig.assistant.log_text()
    assert "harmony is off" not in text and "needs the chord model" not in text, text[-2000:]

    ons = note_ons(log, "out")
    assert ons, "no chord arrived: " + text[-2000:]
    assert {m.channel for _, m, _ in ons} == {HARMONY_CHANNEL}, "harmony mode plays only on the harmony channel"
    assert note_ons(log, "accepted") == []

    # every chord note starts on its beat, in time (the output lead makes up JACK's latency)
    errors = chord_timing_errors_ms(rig, ons)
    off_beat = [(round(rig.tick_of(ns), 2), m.note, round(e, 3)) for (_, m, ns), e in zip(ons, errors)
                if abs(e) > tolerance_ms(jack_server)]
    assert not off_beat, (f"{len(off_beat)} of {len(ons)} chord notes more than {tolerance_ms(jack_server):.2f} ms "
                          f"from their beat (tick, pitch, ms): {off_beat[:8]}; {timing_context(rig, jack_server)}")

    # a chord of 3-4 distinct notes, struck once, on each beat while the melody sounds: from
    # the beat after its first note (decided a tick before that beat, when the note was
    # heard) to one bar after its end (the activity gate), and on no other beat. Only the
    # melody's first bar may go without (a model may hear too little there to choose a chord).
    chords = chords_by_beat(rig, ons)
    allowed = set(range(start // beat + 1, (end + 4 * beat) // beat + 1))
    required = set(range(start // beat + 4, (end + 4 * beat) // beat + 1))
    assert set(chords) <= allowed, f"chords on beats {sorted(set(chords) - allowed)}, outside {sorted(allowed)}"
    assert set(chords) >= required, f"no chord on beats {sorted(required - set(chords))}"
    for b, pitches in sorted(chords.items()):
        assert len(pitches) == len(set(pitches)) and 3 <= len(pitches) <= 4, f"beat {b}: {pitches}"
        assert all(48 <= p <= 72 for p in pitches), f"beat {b}: {pitches} outside harmony.register_low/high"

    # Stop: nothing struck after it; the chord sounding then (due to end 5 ticks, 208 ms,
    # later) is released at once; every note ever struck has its note-off (not just CC 123)
    after = [(m, ns) for _, m, ns in ons if ns > stop_at + 5 * MS]
    assert after == [], "chords played after Stop"
    last = chords[max(chords)]
    released = {m.note: ns for lab, m, ns in log if lab == "out" and ns > stop_at and m.channel == HARMONY_CHANNEL
                and (m.type == "note_off" or (m.type == "note_on" and m.velocity == 0))}
    slow = {p: round((released[p] - stop_at) / MS, 2) if p in released else None for p in last
            if p not in released or released[p] > stop_at + 10 * MS}
    assert not slow, f"the chord sounding at Stop was not released within 10 ms (pitch: ms after Stop): {slow}"
    assert unclosed_notes(log) == {}, "notes left sounding after Stop"
    assert hanging_notes(rig.peer.log) == {}


def test_chords_follow_a_player_with_human_timing(jack_server, tmp_path, model_path):
    """Harmony mode with reactions (harmony.react_ms 30): the peer plays the C major phrase
    twice, every note 0-15 ms early or late (seeded), as a player does. The chord that stays
    on each beat with a note never comes before its beat and trails the player's note (or
    the beat, when the note came first) by at most 25 ms, within the reaction window: heard
    with the note, as a strum is (how fast, p50 and p99, is bench --e2e's to say: it depends
    on how busy the machine is); some beats took the chord of the note heard late, after the
    planned one sounded; each sounds one chord of 3-4 notes; Stop leaves no note open."""
    import random

    from assistant.bench.judge import chord_strikes, reactions, sounding_notes

    rng = random.Random(11)
    rig = Rig(jack_server.name, model=model_path, workdir=tmp_path,
              settings={"suggest.mode": "harmony", "harmony.pattern": "beat", "harmony.react_ms": 30})
    beat = TICKS_PER_QUARTER
    start = 4 * beat
    phrase = [Note(n.onset + start + k * 192, n.duration, n.pitch, n.velocity)
              for k in range(2) for n in c_major_phrase_from_midi_file(tmp_path)]
    end = phrase[-1].end
    jitter = [rng.randint(-15, 15) * MS for _ in phrase]
    stop_tick = end + 4 * beat + 6
    try:
        rig.start_clock(beats=(end + 12 * beat) / beat)
        melody, schedule = [], []
        for i, n in enumerate(phrase):  # each note off 16 ms before the next one may start
            on = rig.time_of(n.onset) + jitter[i]
            nxt = rig.time_of(phrase[i + 1].onset) if i + 1 < len(phrase) else rig.time_of(n.end)
            schedule += [(on, [0x90, n.pitch, n.velocity]), (max(on + MS, nxt - 16 * MS), [0x80, n.pitch, 0])]
            if n.onset % beat == 0:
                melody.append((n.onset, on))
        rig.peer.sender.add(schedule)
        stop_at = rig.time_of(stop_tick)
        rig.peer.sender.cancel_after(stop_at)
        rig.peer.sender.add([(stop_at, [0xFC])])
        rig.wait_until_tick(stop_tick)
        time.sleep(0.8)
        log = list(rig.peer.collect())
    finally:
        code = rig.close()
    assert code == 0, rig.assistant.log_text()[-2000:]
    ons = [item for item in note_ons(log, "out") if item[1].channel == HARMONY_CHANNEL]
    found = reactions(rig, chord_strikes(ons), melody)
    assert len(found) >= len(melody) - 4, (f"chords on {len(found)} of {len(melody)} beats with a note: "
                                           f"{sorted(f['beat'] for f in found)}; strikes at ticks "
                                           f"{[round(rig.tick_of(ns), 2) for ns, _ in chord_strikes(ons)]}; "
                                           f"{timing_context(rig, jack_server)}")
    slack = tolerance_ms(jack_server)
    early = [f for f in found if f["chord_ms"] < -slack]
    assert not early, f"chords before their beat: {early[:4]}; {timing_context(rig, jack_server)}"
    trailing = [f for f in found if f["after_player_ms"] > 25]
    assert not trailing, f"chords trailing the player: {trailing[:4]}; {timing_context(rig, jack_server)}"
    replaced = [f for f in found if f["replaced"] and f["note_ms"] > 0]
    assert len(replaced) >= 2, f"no late note chose its beat's chord: {found}"
    # what sounds a moment (5 ms) after the chord that stays is that chord alone: 3-4 notes
    # (a replaced chord closed, a chord whose notes went out a period apart counted whole)
    thin = [(f["beat"], sorted(p)) for f in found
            if not 3 <= len(p := sounding_notes(((m, ns) for lab, m, ns in log if lab == "out"),
                                        rig.time_of(f["beat"]) + round((f["chord_ms"] + 5) * MS), HARMONY_CHANNEL)) <= 4]
    assert not thin, f"beats not sounding one chord of 3-4 notes: {thin[:6]}"
    assert unclosed_notes(log) == {}, f"notes left sounding after Stop: {unclosed_notes(log)}; {timing_context(rig, jack_server)}"
    assert hanging_notes(rig.peer.log) == {}


def test_a_stall_of_the_jack_server_does_not_shift_the_grid(own_jack_server, tmp_path, model_path):
    """The JACK server stops for 35-45 ms, four times (SIGSTOP: an xrun, a VM's hiccup): the clock
    pulses of the stalled cycles arrive stamped together and a two-period gap follows,
    though none was lost. Chords a beat after the stall are on their beats again, and the
    assistant's song position is the DAW's (it used to take the gap for a lost pulse and
    play a pulse, 21 ms, early from then on). jack2's own mapping of frames
    to time is off by up to 40 ms for seconds after such a stall; our native ports follow
    the frames instead (_jackmidi.c, tb_cycle). Timing is judged from 8 s after the stall,
    when the clients' bases are shared again: every chord on its beat within STALL_SLACK_MS
    (5 ms: a grid shifted by a pulse is 20.8 ms off, and a listener hears 10 ms as
    together; the rig's own sender still misses cycles then, "peer was not finished",
    and one chord 2.7 ms early failed the old bound of a period plus 1 ms). The 2 ms
    target is the bench's to measure."""
    jack_server = own_jack_server  # it stalls the server: one of its own
    phrase = c_major_phrase_from_midi_file(tmp_path)
    rig = Rig(jack_server.name, model=model_path, workdir=tmp_path,
              settings={"suggest.mode": "harmony", "harmony.pattern": "beat", "harmony.react_ms": 0})
    beat = TICKS_PER_QUARTER
    start, end = 4 * beat, 4 * beat + 2 * 192  # the 4-bar phrase twice
    stalls = [(5 * beat + 3, 0.040), (6 * beat + 8, 0.035), (7 * beat + 5, 0.045), (8 * beat + 1, 0.040)]
    stall_tick = stalls[-1][0]
    settled = stall_tick + 16 * beat  # 8 s later at 120 BPM
    try:
        rig.start_clock(beats=(end + 8 * beat) / beat)
        rig.play(phrase, at_tick=start)
        rig.play(phrase, at_tick=start + 192)
        for tick, seconds in stalls:  # at several phases of the pulse: the pattern depends on it
            rig.wait_until_tick(tick)
            os.kill(jack_server.pid, signal.SIGSTOP)
            try:
                time.sleep(seconds)
            finally:
                os.kill(jack_server.pid, signal.SIGCONT)
        stop_at = rig.time_of(end + 4 * beat + 6)
        rig.peer.sender.cancel_after(stop_at)  # every pulse sent arrives before the assistant closes
        rig.peer.sender.add([(stop_at, [0xFC])])
        rig.wait_until_tick(end + 4 * beat + 6)
        time.sleep(0.5)
        log = list(rig.peer.collect())
    finally:
        code = rig.close()
    assert code == 0, rig.assistant.log_text()[-2000:]
    stats = rig.assistant.stats()
    pulses = pulse_counts(stats, rig)
    # the song position is the DAW's: every pulse sent is counted once. Around a stall jack2
    # may hand a cycle twice (taken for a repeat) or lose a clock-only one (inferred lost,
    # seen on a busy 2-core machine: 971 of 972 arrived, the count corrected 32 pulses on); a
    # gap taken for a loss that was none would put the position one over
    position = (pulses["clock_pulses_counted"] - pulses["clock_pulses_repeated"]
                + pulses["clock_pulses_inferred_lost"])
    assert position == pulses["clock_pulses_sent"], timing_context(rig, jack_server)
    after = [item for item in note_ons(log, "out") if settled < rig.tick_of(item[2]) < end + 4 * beat]
    late = list(zip(after, chord_timing_errors_ms(rig, after)))
    assert len(late) >= 12 * 3, "too few chords after the stall: " + rig.assistant.log_text()[-2000:]
    off_beat = [(round(rig.tick_of(ns), 2), m.note, round(e, 3)) for (_, m, ns), e in late
                if abs(e) > STALL_SLACK_MS]
    assert not off_beat, f"{len(off_beat)} of {len(late)} chord notes off their beat 8 s after the stall: " \
                         f"{off_beat[:8]}; {timing_context(rig, jack_server)}"
    assert hanging_notes(rig.peer.log) == {}


def test_junk_on_the_wire_is_counted_and_the_assistant_still_answers(jack_server, tmp_path, model_path):
    """20,000 random messages into our real JACK input (random bytes, truncated messages,
    a two-byte pitch bend that used to kill the reader, sysex with and without F7), then a
    phrase: every junk message is counted, no thread dies, the answer comes on its bar."""
    import random

    from assistant.midi.wire import junk_reason

    rng = random.Random(7)
    flood = [bytes([0xE0, 0x10])]
    while len(flood) < 20_000:
        kind = rng.random()
        if kind < 0.6:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 7)))
        elif kind < 0.8:
            data = bytes([0xF0] + [rng.randrange(128) for _ in range(rng.randrange(0, 30))])  # no F7
        else:
            data = bytes([0xF0] + [rng.randrange(128) for _ in range(rng.randrange(0, 30))] + [0xF7])
        if junk_reason(data) is None and data[0] != 0xF0:
            continue  # a well-formed note, clock or transport message would be music, not junk
        flood.append(data)
    junk = sum(1 for d in flood if junk_reason(d) is not None)
    phrase = phrase_from_midi_file(tmp_path)
    xruns_before = jack_server.xruns()
    rig = Rig(jack_server.name, model=model_path, workdir=tmp_path)
    try:
        t = now() + 100 * MS
        rig.peer.sender.add([(t + k * 200_000, d) for k, d in enumerate(flood)])  # 5,000 a second for 4 s
        while not rig.peer.sender.idle():
            time.sleep(0.05)
        time.sleep(0.2)
        rig.start_clock(beats=18)  # to tick 216: every pulse is sent before we stop
        rig.play(phrase, at_tick=48)
        rig.wait_until_tick(18 * TICKS_PER_QUARTER + 6)
        log = rig.peer.collect()
    finally:
        code = rig.close(signal.SIGTERM)
    assert code == 0, rig.assistant.log_text()[-2000:]
    stats = rig.assistant.stats()
    pulses = pulse_counts(stats, rig)
    xruns = jack_server.xruns() - xruns_before
    seen = f"junk sent {junk}; server xruns {xruns}; {pulses}"
    # where the grid went against the clock sent: pulses that arrived, less those dropped as
    # repeats, plus those inferred lost, minus those sent (JACK itself may lose or repeat a few
    # events in its xruns: measured 16 junk messages fewer and 7 more than sent)
    shift = (pulses["clock_pulses_counted"] - pulses["clock_pulses_repeated"] + pulses["clock_pulses_inferred_lost"]
             - pulses["clock_pulses_sent"])
    if xruns == 0:
        assert stats["junk_dropped"] == junk and shift == 0, seen
    else:  # what crossed the server's late cycles: at most 4 periods of the flood's traffic each
        per_xrun = math.ceil(4 * jack_server.period_ns / 200_000)
        assert abs(stats["junk_dropped"] - junk) <= xruns * per_xrun and abs(shift) <= 1, seen
    answer = note_ons(log, "out")
    assert answer, seen
    # on its bar line; after an extra or a lost pulse delivered by JACK, where that clock put it
    heard = (answer[0][2] - rig.time_of(192)) / MS
    pulse_ms = (rig.time_of(0.5) - rig.time_of(0)) / MS
    places = {0.0, -shift * pulse_ms}  # a fault after the answer's start leaves it on the bar
    assert min(abs(heard - p) for p in places) <= tolerance_ms(jack_server), (heard, seen)
    assert hanging_notes(rig.peer.log) == {}
    assert "restarted" not in rig.assistant.log_text()
    assert "dropped junk e0 10" in rig.assistant.log_text()


def test_soak_accounts_for_every_message_and_answers_in_time(jack_server, model_path):
    """A short soak (15 s): MIDI clock and 10,000 drum-channel notes a second into our real
    input beside the phrases: every message is accounted for, the answers come, in time."""
    from assistant.bench.soak import soak_figures

    before = jack_server.xruns()
    result = soak_figures(0.25, model_path)
    server_xruns = jack_server.xruns() - before
    assert result["exit_code"] == 0 and result["hanging_notes"] == 0
    assert result["dropped_counted"]["jack_dropped"] == 0, result  # our input ring never overflowed
    if server_xruns == 0:
        assert result["dropped"] == 0, result
    else:  # jack2 itself loses and repeats a few events in its xruns (measured: 27 more of 150,941 under
        # two busy processes): what it does is counted, not hidden, and stays within 0.1 %
        assert abs(result["dropped"]) <= result["messages_sent"] // 1000, (server_xruns, result)
    assert result["answers"] >= 1 and result["engine_errors"] == 0
    minute = result["per_minute"][0]
    assert minute["answer_notes"] >= 1 and minute["messages_in"] >= 90_000  # stats are at most 5 s old
    assert minute["note_timing_ms"]["p99"] <= tolerance_ms(jack_server), result


def test_a_daw_that_sends_its_notes_ahead_of_its_clock_records_the_answer_on_the_bar(jack_server, tmp_path,
                                                                                    model_path):
    """A simulated DAW with 11 ms of output latency, as Ardour has with its master bus: it
    sends its track's notes 11 ms ahead of its MIDI clock and records what comes in 11 ms
    earlier than it arrived. With humanise timing on (10 ms, the default), copying that lead
    as the player's feel put its recording of every answer 21 ms early; learnt as the DAW's
    alignment, the answer is recorded on its bar line."""
    daw_latency = 11 * MS
    rig = Rig(jack_server.name, model=model_path, workdir=tmp_path, settings={"humanise.timing_ms": 10.0})
    try:
        rig.start_clock(beats=20)
        rig.play(phrase_from_midi_file(tmp_path), at_tick=48, ahead_ns=daw_latency)
        rig.wait_until_tick(192 + 24)
        log = rig.peer.collect()
    finally:
        code = rig.close()
    assert code == 0, rig.assistant.log_text()[-2000:]
    answer = note_ons(log, "out")
    assert answer, "no answer arrived: " + rig.assistant.log_text()[-2000:]
    recorded = [(label, msg, ns - daw_latency) for label, msg, ns in answer]  # where the DAW puts them
    assert round(rig.tick_of(recorded[0][2])) == 192
    errors = timing_errors_ms(rig, recorded)
    assert max(abs(e) for e in errors) <= tolerance_ms(jack_server), (errors, timing_context(rig, jack_server))
