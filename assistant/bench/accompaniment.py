"""``bench --e2e``'s ``accompaniment`` scenario: the chords as a listener hears them.

A player (the rig's peer, a frame-accurate JACK client) plays held-out chorale melodies
(the chord corpus's evaluation chorales in 4/4, the first bars of each) with MIDI clock
at 120 BPM, every onset seeded 0-15 ms early or late and every velocity seeded, into
the assistant in harmony mode (pattern ``beat``, the reaction window at its default).
At the receiving client:

* ``note_in_chord_sounded``: of the moments (every millisecond) when a player note and
  a chord both sound, the share where the note's pitch class is in the chord;
  ``chord_coverage``: of the moments a player note sounds, the share with a chord;
* ``onset_after_player_ms`` (p50, p99, max): on each beat the player starts a note on,
  the chord strike that stays, against the player's note (or the beat, when the note
  came first): how far the chord trails what the player did;
* ``onset_vs_beat_ms`` (p50, p99 of the absolute value): on beats the player holds a
  note across or rests, the chord (decided ahead) against its beat;
* ``hanging_notes`` after Stop.

Runs on the caller's thread; the assistant is a child process (see :mod:`.rig`).
"""

from __future__ import annotations

import random
import time

from ..errors import UserError
from ..music import TICKS_PER_QUARTER, Note, bar_start
from .figures import p50_p99
from .judge import chord_strikes, hanging_notes, note_ons, pulse_counts, reactions, unclosed_notes
from .rig import HARMONY_CHANNEL, MS, Rig

BAR = 4 * TICKS_PER_QUARTER
JITTER_MS = 15
LEGATO_GAP_MS = 16  # a note ends this long before the next one starts (a legato player's)


def held_out_melodies(count: int, bars: int) -> list[list[Note]]:
    """The first ``bars`` full bars of the first ``count`` evaluation chorales in 4/4 (held
    out of training), each from tick 0 (its first full bar)."""
    try:
        from ..train.chord_corpus import load_chord_corpus
        corpus = load_chord_corpus(progress=False)
    except ImportError as e:
        raise UserError(f"bench --e2e's accompaniment scenario plays the held-out chorales, read with "
                        f"music21 ({e.name} is missing): pip install 'midi-assistant[train]', or --pieces 0 "
                        "to leave the scenario out") from None
    out = []
    for piece in corpus.eval_sets["chorales"]:
        melody = piece.melody
        notes = melody.notes
        if not notes or any((m.numerator, m.denominator) != (4, 4) for m in melody.meters):
            continue
        first = bar_start(melody.meters, notes[0].onset)
        start = first if first == notes[0].onset else first + BAR  # after a pickup: the first full bar
        end = start + bars * BAR
        span = [Note(n.onset - start, min(n.end, end) - n.onset, n.pitch, n.velocity)
                for n in notes if start <= n.onset < end]
        if span and span[-1].end > end - BAR:  # the piece lasts the bars asked for
            out.append(span)
        if len(out) == count:
            break
    return out


def player_schedule(rig: Rig, melodies: list[list[Note]], starts: list[int], seed: int):
    """The peer's messages for ``melodies`` (each from its start tick), with seeded human
    timing and velocity; returns (messages, [(on ns, off ns, pitch)], [(beat tick, on ns)] of
    the notes that start on a beat)."""
    rng = random.Random(seed)
    messages, sounding, on_beats = [], [], []
    for melody, start in zip(melodies, starts):
        ons = [rig.time_of(start + n.onset) + rng.randint(-JITTER_MS, JITTER_MS) * MS for n in melody]
        for i, n in enumerate(melody):
            end = rig.time_of(start + n.end)
            if i + 1 < len(melody):
                end = min(end, ons[i + 1])
            off = max(ons[i] + MS, end - LEGATO_GAP_MS * MS)
            velocity = rng.randint(60, 110)
            messages += [(ons[i], [0x90, n.pitch, velocity]), (off, [0x80, n.pitch, 0])]
            sounding.append((ons[i], off, n.pitch))
            if n.onset % TICKS_PER_QUARTER == 0:
                on_beats.append((start + n.onset, ons[i]))
    return messages, sounding, on_beats


def sounded_note_in_chord(sounding, chord_messages, step_ns: int = MS) -> tuple[float | None, float | None]:
    """(note in chord, chord coverage) at every ``step_ns`` while a player note sounds:
    ``sounding`` [(on ns, off ns, pitch)] not overlapping, ``chord_messages`` [(message, ns)]
    of the chord channel in the order they came."""
    events = sorted(((ns, k, m) for k, (m, ns) in enumerate(chord_messages)), key=lambda e: (e[0], e[1]))
    held: dict[int, int] = {}
    j = 0
    frames = with_chord = in_chord = 0
    for on, off, pitch in sorted(sounding):
        t = on
        while t < off:
            while j < len(events) and events[j][0] <= t:
                m = events[j][2]
                if m.type == "note_on" and m.velocity > 0:
                    held[m.note % 12] = held.get(m.note % 12, 0) + 1
                elif m.type in ("note_on", "note_off") and held.get(m.note % 12):
                    held[m.note % 12] -= 1
                j += 1
            frames += 1
            chord = {pc for pc, n in held.items() if n > 0}
            if chord:
                with_chord += 1
                in_chord += pitch % 12 in chord
            t += step_ns
    share = round(in_chord / with_chord, 4) if with_chord else None
    return share, (round(with_chord / frames, 4) if frames else None)


def accompaniment_figures(server: str, model: str | None, melodies: list[list[Note]] | None = None,
                          pieces: int = 20, bars: int = 4, seed: int = 7) -> dict:
    """Play ``melodies`` (default: ``held_out_melodies(pieces, bars)``), a bar of rest between
    them, and judge the chords (see the module docstring)."""
    melodies = melodies if melodies is not None else held_out_melodies(pieces, bars)
    rig = Rig(server, model=model, settings={"suggest.mode": "harmony", "harmony.pattern": "beat"})
    starts, tick = [], BAR
    for melody in melodies:
        starts.append(tick)
        tick += (-(-max(n.end for n in melody) // BAR) + 1) * BAR
    end = tick
    try:
        rig.start_clock(beats=(end + BAR) / TICKS_PER_QUARTER)
        messages, sounding, on_beats = player_schedule(rig, melodies, starts, seed)
        rig.peer.sender.add(messages)
        stop_at = rig.time_of(end + 6)
        rig.peer.sender.cancel_after(stop_at)
        rig.peer.sender.add([(stop_at, [0xFC])])
        rig.wait_until_tick(end + 6)
        time.sleep(0.8)
        log = list(rig.peer.collect())
    finally:
        code = rig.close()
    chord_log = [(m, ns) for lab, m, ns in log if lab == "out" and getattr(m, "channel", None) == HARMONY_CHANNEL]
    ons = [item for item in note_ons(log, "out") if item[1].channel == HARMONY_CHANNEL]
    strikes = chord_strikes(ons)
    reacted = reactions(rig, strikes, on_beats)
    after = [r["after_player_ms"] for r in reacted]
    onset_ticks = {t for t, _ in on_beats}
    ahead, off_beat = [], []
    for melody, start in zip(melodies, starts):
        last = max(n.end for n in melody)
        for beat in range(start, start + last, TICKS_PER_QUARTER):
            if beat in onset_ticks:
                continue
            beat_ns = rig.time_of(beat)
            near = [ns for ns, _ in strikes if beat_ns - 3 * MS <= ns <= beat_ns + 40 * MS]
            if near:
                ahead.append(abs(near[0] - beat_ns) / MS)
                if ahead[-1] > 2:
                    off_beat.append((beat, round((near[0] - beat_ns) / MS, 3)))
    share, coverage = sounded_note_in_chord(sounding, chord_log)
    return {"pieces": len(melodies), "bars_each": bars, "seed": seed, "jitter_ms": JITTER_MS,
            "note_in_chord_sounded": share, "chord_coverage": coverage,
            "onset_after_player_ms": ({**p50_p99(after), "max": round(max(after), 3), "n": len(after),
                                       "replaced": sum(r["replaced"] for r in reacted)} if after else None),
            "onset_vs_beat_ms": {**p50_p99(ahead), "n": len(ahead)} if ahead else None,
            "beats_with_player_note": len(on_beats), "hanging_notes": len(hanging_notes(rig.peer.log)),
            "unclosed_after_stop": len(unclosed := unclosed_notes(log)), "exit_code": code,
            # the notes (port, channel, pitch) with no note-off of their own, and the last
            # messages of each, (tick, type) as the DAW stand-in received them
            "unclosed": {f"{port} {channel} {pitch}": [(round(rig.tick_of(ns), 2), m.type if m.type != "note_on"
                                                        or m.velocity else "note_on 0")
                                                       for lab, m, ns in log if lab == port and
                                                       getattr(m, "note", None) == pitch and m.channel == channel][-4:]
                         for port, channel, pitch in list(unclosed)[:4]},
            # decided chords more than 2 ms off their beat: (beat tick, ms), the first 10
            "off_beat": off_beat[:10], "trailing": [(r["beat"], r["after_player_ms"]) for r in reacted
                                                    if r["after_player_ms"] > 4][:10],
            **pulse_counts(rig.assistant.stats(), rig)}
