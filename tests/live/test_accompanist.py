"""Live accompaniment: patterns, decisions a tick before the beat, and the engine's harmony
mode with a fake clock and in-process ports (exact event lists in ticks)."""

import mido
import numpy as np
import pytest

from assistant.live.accompanist import Accompanist
from assistant.live.chord_patterns import Beat, render
from assistant.live.chord_model import BOS_CHORD, ChordModel, causal, choose_chord, piece_inputs, step_features
from assistant.app.config import load_config
from assistant.music.harmony import NO_CHORD, chord_name, chord_pitch_classes, parse_chord_name
from assistant.music import Melody, Meter, Note

from tiny_model import at, fake_engine

METERS = [Meter(0, 4, 4)]


@pytest.fixture(scope="module")
def chord_model():
    return ChordModel.load()


# ------------------------------------------------------------------ patterns


def test_patterns_render_exact_notes():
    voicing = (48, 52, 55, 60)
    beat = Beat(24, 2, 12)
    assert render("beat", beat, voicing, 70, METERS[0], False) == [Note(24, 11, p, 70) for p in voicing]
    # bar: only on the downbeat, or when the chord is new; held to the bar line
    assert render("bar", beat, voicing, 70, METERS[0], False) == []
    assert render("bar", beat, voicing, 70, METERS[0], True) == [Note(24, 24, p, 70) for p in voicing]
    assert render("bar", Beat(48, 0, 12), voicing, 70, METERS[0], False) == [Note(48, 48, p, 70) for p in voicing]
    arp = render("arpeggio", Beat(0, 0, 12), voicing, 70, METERS[0], True)
    assert arp == [Note(0, 6, 48, 70), Note(6, 6, 52, 62)]
    assert render("beat", beat, (), 70, METERS[0], True) == []


# ------------------------------------------------------------------ features


def test_live_features_equal_the_training_features():
    """What the engine computes a tick before each beat from held and finished notes is
    exactly what the model was trained on for the same melody."""
    notes = [Note(0, 6, 60), Note(6, 6, 62), Note(12, 18, 64), Note(30, 6, 65), Note(36, 24, 67)]
    melody = Melody("t", "t", notes, METERS)
    beats = [(t, NO_CHORD) for t in range(0, 60, 12)]
    _, feats, _ = piece_inputs(melody, beats)
    feats = causal(feats)
    for i, (tick, _) in enumerate(beats):
        decision = tick - 1
        known = [n for n in notes if n.end <= decision]
        held = [n for n in notes if n.onset < decision < n.end]
        live = known + [Note(n.onset, decision - n.onset, n.pitch) for n in held]  # duration not known yet
        previous = tick - 12 if i == 0 else beats[i - 1][0]
        np.testing.assert_array_equal(step_features(live, tick, previous, i % 4, METERS[0]), feats[i])


def test_the_most_likely_chord_is_played():
    logp = np.full(109, -30.0)
    c, am, e = parse_chord_name("C"), parse_chord_name("Am"), parse_chord_name("E")
    logp[[c, am, e]] = np.log([0.3, 0.3, 0.4])
    assert choose_chord(logp) == e


# ------------------------------------------------------------------ decisions


PHRASE = [Note(i * 12, 12, p) for i, p in enumerate([60, 64, 67, 72, 71, 67, 65, 62, 60, 64, 67, 64])]


def run_until(acc, until, step=0.5):
    """Call ``decide`` every half tick, as the engine thread does every few ms."""
    out, tick = [], 0.0
    while tick <= until:
        out += acc.decide(tick, METERS, 80)
        tick += step
    return out


def test_chords_are_decided_one_tick_before_each_beat_and_only_while_there_is_melody(chord_model):
    acc = Accompanist(chord_model, pattern="beat")
    assert run_until(acc, 30) == []  # no melody: nothing, the model is not stepped
    assert acc.model.previous == BOS_CHORD
    for n in PHRASE[3:6]:
        acc.add_note(n)
    acc.hold(72, 67)
    assert all(d.beat.tick <= 72 for d in acc.decide(71.0, METERS, 80))
    assert acc.decide(82.9, METERS, 80) == []  # before the decision tick of beat 84
    out = acc.decide(83.0, METERS, 80)
    assert [d.beat for d in out] == [Beat(84, 3, 12)]
    d = out[0]
    assert d.chord != NO_CHORD and all(n.onset == 84 and n.duration == 11 for n in d.notes)
    assert {n.pitch % 12 for n in d.notes} == set(chord_pitch_classes(d.chord))
    assert all(48 <= n.pitch <= 72 for n in d.notes)
    acc.refresh_forecast()  # the lane asks for it once the chord is scheduled
    assert acc.active and len(acc.forecast) == 8 and acc.forecast[0][0] == 96
    # a late engine decides every beat it missed, in order
    acc.release()
    acc.add_note(Note(72, 30, 67))
    out = acc.decide(107.5, METERS, 80)
    assert [d.beat.tick for d in out] == [96, 108]


def test_bar_pattern_holds_the_chord_until_the_next_downbeat(chord_model):
    acc = Accompanist(chord_model, pattern="bar")
    for n in PHRASE:
        acc.add_note(n)
    decisions = run_until(acc, 190)
    assert [d.beat.tick for d in decisions] == list(range(12, 192, 12))
    by_bar: dict[int, set[int]] = {}
    struck = [d for d in decisions if d.notes]
    assert struck
    for d in decisions:
        by_bar.setdefault(d.beat.tick // 48, set()).add(d.chord)
    for d in struck:
        first_of_bar = min(x.beat.tick for x in decisions if x.beat.tick // 48 == d.beat.tick // 48
                           and x.chord == d.chord)
        assert d.beat.index == 0 or d.beat.tick == first_of_bar  # struck on the downbeat, or when chords start
        assert all(n.end == (d.beat.tick // 48 + 1) * 48 for n in d.notes)  # held to the bar line
    assert all(len(chords - {NO_CHORD}) <= 1 for chords in by_bar.values())


def test_live_chords_are_the_evaluated_free_running_choices(chord_model):
    """The accompaniment plays what ``eval --harmony`` scores: each chord chosen by
    ``choose_chord`` from the model's chord and melody predictions, its own choices as history."""
    chord_model.reset()  # the module's model: other tests leave it mid-piece
    acc = Accompanist(chord_model, pattern="beat")
    for n in PHRASE:
        acc.add_note(n)
    live = [(d.beat.tick, d.chord) for d in run_until(acc, 130)]
    beats = [(t, NO_CHORD) for t, _ in live]
    _, feats, _ = piece_inputs(Melody("p", "p", PHRASE, METERS), beats)
    feats = causal(feats)
    state, previous, expected = None, BOS_CHORD, []
    model = ChordModel.load()
    for i, (tick, _) in enumerate(beats):
        logp, state, melody = model.peek_full(previous, feats[i], state)
        assert (melody is not None) == model.has_melody
        previous = choose_chord(logp, melody)
        expected.append((tick, previous))
    assert live == expected


def test_silence_resets_the_chord_sequence(chord_model):
    acc = Accompanist(chord_model, pattern="beat", idle_bars=1)
    for n in PHRASE[:4]:
        acc.add_note(n)
    run_until(acc, 59)
    assert acc.active
    later = run_until(acc, 130)  # decide() continues from where it was
    assert [d.beat.tick for d in later] == [] or max(d.beat.tick for d in later) <= 96
    assert not acc.active and acc.model.previous == BOS_CHORD


def test_chords_for_a_planned_melody_do_not_change_the_live_state(chord_model):
    acc = Accompanist(chord_model, pattern="bar")
    acc.add_note(Note(0, 12, 67))
    acc.decide(11.0, METERS, 80)
    state = acc.model.state.copy()
    melody = [Note(48 + i * 12, 12, p) for i, p in enumerate([72, 71, 69, 67, 65, 64, 62, 60])]
    chords = acc.chords_for(melody, METERS, 48, 144)
    assert [t for t, _ in chords] == list(range(48, 144, 12))
    np.testing.assert_array_equal(acc.model.state, state)
    notes = acc.render_chords(chords, METERS, 70)
    assert all(48 <= n.onset < 144 for n in notes)
    assert {n.onset for n in notes} <= {48, 96} | {t for t, _ in chords}


# ------------------------------------------------------------------ engine


def make_engine(tmp_path, model_path, **overrides):
    settings = {"suggest.phrase_end_beats": 1.0, "suggest.bars": 1, "suggest.alternatives": 2,
                "humanise.velocity_spread": 0, "suggest.register": "fixed", "suggest.channel": 1,
                "suggest.accepted_channel": 5, "suggest.harmony_channel": 3, "harmony.pattern": "beat",
                "harmony.velocity": 64, "suggest.mode": "harmony"}
    return fake_engine(tmp_path, {**settings, **overrides}, model_path)


def play_until_chords(engine, clock, limit=240, key=False):
    """Play a C major line, one quarter note a beat, ticking the engine every tick,
    until the first chord is scheduled (with ``key``: and a key is estimated); returns
    with the clock at that decision."""
    pitches = [60, 64, 67, 72, 71, 67, 65, 62, 60, 64, 67, 64, 65, 69, 72, 69, 67, 71, 74, 71]
    for tick in range(limit):
        if tick % 12 == 0 and tick // 12 < len(pitches):
            if tick:
                engine._handle(mido.Message("note_on", note=pitches[tick // 12 - 1], velocity=0), at(clock, tick))
            engine._handle(mido.Message("note_on", note=pitches[tick // 12], velocity=90), at(clock, tick))
        engine._tick(at(clock, tick))
        if engine.scheduler.pending("harmony") and (not key or engine.snapshot().key is not None):
            return
    raise AssertionError("no chord was scheduled")


def test_harmony_mode_schedules_chords_on_the_beat_and_panic_closes_them(tmp_path, tiny_model_path):
    engine, clock, ports = make_engine(tmp_path, tiny_model_path)
    assert engine.settings.harmony and engine.settings.mode == "none"
    play_until_chords(engine, clock)
    pending = engine.scheduler.pending("harmony")
    beat = pending[0].tick
    ons = [e for e in pending if e.msg.type == "note_on"]
    assert ons and all(e.tick == beat and e.msg.channel == 2 and e.msg.velocity == 64 for e in ons)
    assert beat % 12 == 0 and clock.tick_at(clock.now()) == pytest.approx(beat - 1)  # decided a tick before
    assert len(ons) == len({e.msg.note for e in ons}) >= 3
    offs = [e for e in pending if e.msg.type == "note_off"]
    assert sorted(e.msg.note for e in offs) == sorted(e.msg.note for e in ons)
    assert all(e.tick == beat + 11 for e in offs)
    snap = engine.snapshot()
    assert snap.chord is not None and len(snap.upcoming) == 8
    clock.set_time(clock.ns_at(beat))
    engine.scheduler.dispatch_due(clock.now())
    sent = [m for m in ports.output.messages() if m.type == "note_on" and m.channel == 2]
    assert sorted(m.note for m in sent) == sorted(e.msg.note for e in ons)
    engine.perform("panic")
    offs_sent = {m.note for m in ports.output.messages() if m.type == "note_off" and m.channel == 2}
    assert {m.note for m in sent} <= offs_sent
    assert any(m.type == "control_change" and m.control == 123 and m.channel == 2 for m in ports.output.messages())


def test_chords_are_decided_earlier_when_the_output_needs_them_earlier(tmp_path, tiny_model_path):
    """At a long JACK period the harmony port wants its events well before their beat:
    the chord is decided as many ticks before the beat as that takes (a tick is 41.7 ms
    at 120 BPM; 60 ms of output lead and 10 ms for the decision make two ticks). Without
    reactions (react_ms 0): a note on the beat would choose the chord there."""
    engine, clock, _ = make_engine(tmp_path, tiny_model_path, **{"harmony.react_ms": 0})
    engine.scheduler.lead_ns = 60_000_000
    play_until_chords(engine, clock)
    beat = engine.scheduler.pending("harmony")[0].tick
    assert clock.tick_at(clock.now()) == pytest.approx(beat - 2)
    assert engine.accompanist.decision_ticks == 2


def test_a_beat_whose_moment_has_passed_is_not_played(tmp_path, tiny_model_path):
    engine, clock, ports = make_engine(tmp_path, tiny_model_path)
    play_until_chords(engine, clock)
    beat = engine.accompanist.current.beat.tick
    engine._tick(at(clock, beat + 12.5))  # the engine woke up after the next beat
    assert engine.accompanist.current.beat.tick == beat + 12  # the model took the beat
    assert all(e.tick < beat + 12 for e in engine.scheduler.pending("harmony"))  # but it is not played


def test_harmony_toggle_and_mode_names(tmp_path, tiny_model_path):
    engine, clock, _ = make_engine(tmp_path, tiny_model_path, **{"suggest.mode": "call+harmony"})
    assert (engine.settings.mode, engine.settings.harmony) == ("call", True)
    engine.perform("harmony")
    assert not engine.settings.harmony and engine.settings.mode_name == "call"
    engine.perform("mode")
    engine.perform("harmony")
    assert engine.settings.mode_name == "ghost+harmony"


def test_accept_commits_the_chords_with_the_melody(tmp_path, tiny_model_path):
    engine, clock, ports = make_engine(tmp_path, tiny_model_path, **{"suggest.mode": "call+harmony",
                                                                        "harmony.pattern": "bar"})
    for onset, pitch in ((0, 60), (12, 64), (24, 67), (36, 72)):
        engine._handle(mido.Message("note_on", note=pitch, velocity=80), at(clock, onset))
        engine._tick(at(clock, onset + 11))
        engine._handle(mido.Message("note_on", note=pitch, velocity=0), at(clock, onset + 12))
    engine._tick(at(clock, 60))  # phrase end
    engine.generator.drain()
    assert engine.snapshot().alternatives
    engine.perform("accept")
    accepted = engine.scheduler.pending("accepted")
    chords = [e for e in accepted if e.msg.type == "note_on" and e.msg.channel == 1]  # harmony.accepted_channel 2
    melody = [e for e in accepted if e.msg.type == "note_on" and e.msg.channel == 4]
    assert melody and chords
    bar = min(e.tick for e in melody) // 48 * 48
    assert min(e.tick for e in chords) == bar and all(e.tick % 48 == 0 for e in chords)
    assert len(engine.session.harmony_notes) == len(chords)
    import mido as m

    tracks = m.MidiFile(engine.session.path).tracks
    assert sum(1 for msg in tracks[3] if msg.type == "note_on" and msg.velocity > 0) == len(chords)


def test_ui_shows_key_held_chord_current_and_upcoming_chords(tmp_path, tiny_model_path):
    from rich.console import Console

    from assistant.app.ui import render

    engine, clock, ports = make_engine(tmp_path, tiny_model_path)
    play_until_chords(engine, clock, key=True)  # the model may choose a chord before a key is known
    for p in (60, 64, 67):  # the player holds a C major triad
        engine._handle(mido.Message("note_on", note=p, velocity=70), clock.now())
    snap = engine.snapshot()
    config = load_config(None, {"suggest.mode": "harmony"})
    console = Console(width=120, record=True)
    console.print(render(snap, config, ports, [("harmony", "h")]))
    text = console.export_text()
    assert f"{snap.key} (" in text and "%)" in text
    assert "held" in text and " C " in text.split("held", 1)[1].splitlines()[0] + " "
    assert "chord" in text and snap.chord in text
    upcoming = text.split("upcoming", 1)[1].splitlines()[0]
    assert upcoming.count("|") == 3 and snap.upcoming[0][1] in upcoming
    # the accompaniment follows the held triad, and says so
    assert snap.chord == "C" and snap.chord_state == "following"
    assert "C (your chord)" in text and "| C= . . ." in upcoming
    assert "harmony" in text
    # the input's health: what came in, nothing of it junk
    health = text.split("input", 1)[1].splitlines()[0]
    assert f"{engine.messages_received} in" in health and "junk 0" in health and "errors" in health
    assert "DAW alignment +0.0 ms (learnt)" in text and "out port +0.0 ms (config)" in text


def test_a_missing_chord_model_leaves_the_assistant_running_without_harmony(tmp_path, tiny_model_path, caplog):
    engine, clock, ports = make_engine(tmp_path, tiny_model_path,
                                       **{"model.harmony": str(tmp_path / "nope.onnx"), "suggest.mode": "call+harmony"})
    assert engine.accompanist is None and not engine.settings.harmony and engine.settings.mode == "call"
    assert any("nope.onnx" in r.getMessage() and "harmony is off" in r.getMessage() for r in caplog.records)
    assert any("harmony needs the chord model" in m for m in engine.snapshot().messages)
    engine.perform("harmony")  # the control says why, and nothing breaks
    assert not engine.settings.harmony


def test_a_melody_model_given_as_chord_model_is_refused_with_one_line(tmp_path):
    from assistant.errors import UserError

    with pytest.raises(UserError) as err:
        ChordModel.load("models/melody.onnx", verify=False)
    assert "models/melody.onnx" in str(err.value) and "\n" not in str(err.value)


def test_a_c_major_melody_gets_c_major_chords(chord_model):
    """The shipped model on a plain C major tune: the chords it plays are diatonic to C
    major (a wrong-key accompaniment, e.g. Bb under C, fails here)."""
    diatonic = {parse_chord_name(n) for n in ("C", "Dm", "Em", "F", "G", "Am", "Bdim", "G7", "Dm7", "Am7",
                                               "Em7", "Fmaj7", "Cmaj7", "Bm7b5", "Csus4", "Gsus4", "Dsus4")}
    tune = [60, 62, 64, 65, 67, 67, 69, 67, 65, 64, 62, 60, 64, 67, 72, 67, 65, 64, 62, 60]
    for pattern in ("beat", "bar"):
        acc = Accompanist(chord_model, pattern=pattern)
        decisions = []
        tick = 0.0
        while tick < len(tune) * 12:
            i = int(tick // 12)
            if tick % 12 == 0:
                if i:
                    acc.add_note(Note((i - 1) * 12, 12, tune[i - 1]))
                acc.hold(i * 12, tune[i])
            decisions += acc.decide(tick, METERS, 80)
            tick += 1.0
        played = [d.chord for d in decisions if d.chord != NO_CHORD]
        assert len(played) >= len(tune) - 4
        assert sum(c in diatonic for c in played) >= 0.9 * len(played), [chord_name(c) for c in played]
        assert acc.harmonise([Note(i * 12, 12, p) for i, p in enumerate(tune)], METERS)[-1][1] in diatonic


def test_the_accompaniment_forgets_a_suggestion_that_will_not_sound(tmp_path, tiny_model_path):
    """Every change of the audible suggestion reaches the accompanist: planned notes come
    in with the answer, and clearing the answer takes them away again."""
    engine, clock, ports = make_engine(tmp_path, tiny_model_path, **{"suggest.mode": "call+harmony"})

    def drain_inbox():
        while not engine.inbox.empty():
            engine._handle(*engine.inbox.get_nowait())

    for onset, pitch in ((0, 60), (12, 64), (24, 67), (36, 72)):
        engine._handle(mido.Message("note_on", note=pitch, velocity=80), at(clock, onset))
        engine._handle(mido.Message("note_on", note=pitch, velocity=0), at(clock, onset + 12))
    engine._tick(at(clock, 60))  # phrase end: the answer is planned from the next bar
    engine.generator.drain()
    drain_inbox()
    planned = list(engine.accompanist.planned)
    assert planned and {(n.onset, n.pitch) for n in planned} == {
        (e.tick, e.msg.note) for e in engine.scheduler.pending("suggestion") if e.msg.type == "note_on"}
    engine.perform("clear")
    drain_inbox()
    now = engine.now_tick()
    assert all(n.onset < now for n in engine.accompanist.planned)
    engine.perform("harmony")  # off: nothing more is posted
    assert engine.inbox.empty()
