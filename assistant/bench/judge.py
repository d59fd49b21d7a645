"""What came back through the rig, judged as a musician hears it: each note against the
time it was planned for, each chord note against its beat, every note closed, the clock
pulses accounted for, and every note more than a limit off explained.

Pure functions of the rig's logs and the assistant's statistics; any thread.
"""

from __future__ import annotations

import mido

from ..music import TICKS_PER_QUARTER
from .jack_server import XrunWatch
from .rig import MS, Rig


def note_ons(log, label: str | None = None) -> list[tuple[str, mido.Message, int]]:
    return [(lab, m, ns) for lab, m, ns in log
            if m.type == "note_on" and m.velocity > 0 and (label is None or lab == label)]


def hanging_notes(log) -> dict[tuple[str, int, int], int]:
    """(port, channel, pitch) -> note-ons not closed (by note-off, velocity 0 or CC 123 on the channel)."""
    open_: dict[tuple[str, int, int], int] = {}
    for lab, m, _ in log:
        if m.type == "note_on" and m.velocity > 0:
            key = (lab, m.channel, m.note)
            open_[key] = open_.get(key, 0) + 1
        elif m.type in ("note_on", "note_off"):
            key = (lab, m.channel, m.note)
            if open_.get(key):
                open_[key] -= 1
        elif m.type == "control_change" and m.control == 123:
            for key in list(open_):
                if key[0] == lab and key[1] == m.channel:
                    open_[key] = 0
    return {k: v for k, v in open_.items() if v}


def timing_errors_ms(rig: Rig, ons) -> list[float]:
    """Arrival minus the intended time of each note-on's nearest tick, in ms."""
    out = []
    for _, _, ns in ons:
        tick = round(rig.tick_of(ns))
        out.append((ns - rig.time_of(tick)) / MS)
    return out


COUNT_CHANGES_BEFORE_NS = 4_000_000_000  # the follower's count changes this long before a note explain it


def off_time_notes(rig: Rig, ons, errors: list[float], stats: dict, xruns: "XrunWatch | None",
                   period_ns: int | None, phrase_of=None, planned_tick=None, limit_ms: float = 2.0) -> list[dict]:
    """Every note-on more than ``limit_ms`` off, explained: which phrase and note, the tick
    it was planned for, when the assistant handed it to its port and for what time, where
    it sounded (ms off, JACK period), the server's xruns near it, and how late this side
    sent the clock pulses just before it, and how the assistant's clock follower changed its
    count of them in the seconds before (ms before the note, why, pulses). The assistant's
    times are taken to the peer's with both clients' frame 0 and the assistant's time-base
    moves (``frame_zero_ns``, each record's shift), so that "planned" means where its plan
    put the note on the server's frames. ``phrase_of(tick)``: the phrase a tick answers;
    ``planned_tick(ns)``: the tick a note arriving at ``ns`` was meant for (default: the
    nearest tick)."""
    planned_tick = planned_tick or (lambda ns: round(rig.tick_of(ns)))
    handed = [h for h in stats.get("handed_notes", [])]
    # the assistant's times, with its time base's moves taken off, as the peer's times: both
    # then count the server's frames from their own frame 0
    ours, theirs = stats.get("frame_zero_ns"), getattr(rig.peer, "frame_zero_ns", None)
    to_peer = ours - theirs if ours and theirs else 0
    changes = [(ns - shift - to_peer, why, n) for ns, shift, why, n in stats.get("clock_count_changes", [])]
    pulses = [(t, late) for (t, data), late in zip(rig.peer.sender.sent, rig.peer.sender.lateness_ns)
              if data == [0xF8]]
    out = []
    answer_index: dict[int, int] = {}
    for (label, msg, ns), error in zip(ons, errors):
        tick = planned_tick(ns)
        phrase = phrase_of(tick) if phrase_of else None
        index = answer_index[phrase] = answer_index.get(phrase, -1) + 1
        if abs(error) <= limit_ms:
            continue
        same = [h for h in handed if h[5] == msg.note and h[4] == msg.channel]
        record = min(same, key=lambda h: abs(h[1] - ns), default=None)
        before = [late for t, late in pulses if ns - 100 * MS <= t <= ns]
        planned_ns = record[1] - (record[6] if len(record) > 6 else 0) - to_peer if record else None
        out.append({"phrase": phrase, "note": index, "pitch": msg.note, "error_ms": round(error, 3),
                    "intended_tick": tick,
                    "planned_tick": record[0] if record else None,
                    "planned_off_ms": round((planned_ns - rig.time_of(record[0])) / MS, 3) if record else None,
                    "handed_over_ms_before": round((record[1] - record[2]) / MS, 3) if record else None,
                    "sounded_period": round((ns - rig.t0) / period_ns) if period_ns else None,
                    "server_xruns_near_ms": xruns.near(ns) if xruns is not None else None,
                    "clock_sent_late_ms_before": round(max(before, default=0) / MS, 3),
                    "clock_count_changes_before": [[round((at - ns) / MS, 1), why, n] for at, why, n in changes
                                                   if ns - COUNT_CHANGES_BEFORE_NS <= at <= ns]})
    return out


def beat_of(rig: Rig, ns: int) -> int:
    """The beat (quarter note, counted from the clock's first pulse) nearest to ``ns``."""
    return round(rig.tick_of(ns) / TICKS_PER_QUARTER)


def chord_timing_errors_ms(rig: Rig, ons) -> list[float]:
    """Arrival minus the time of the nearest *beat* for each note-on, in ms (a chord
    struck off the beat counts its whole distance from the beat)."""
    return [(ns - rig.time_of(beat_of(rig, ns) * TICKS_PER_QUARTER)) / MS for _, _, ns in ons]


def chords_by_beat(rig: Rig, ons) -> dict[int, list[int]]:
    """``{beat: [pitches struck there]}`` for the note-ons ``ons`` (in arrival order)."""
    out: dict[int, list[int]] = {}
    for _, m, ns in ons:
        out.setdefault(beat_of(rig, ns), []).append(m.note)
    return out


def unclosed_notes(log) -> dict[tuple[str, int, int], int]:
    """Like ``hanging_notes`` but strict: only a note-off (or note-on velocity 0) of the
    same port, channel and pitch closes a note; CC 123 does not."""
    open_: dict[tuple[str, int, int], int] = {}
    for lab, m, _ in log:
        if m.type in ("note_on", "note_off"):
            key = (lab, m.channel, m.note)
            if m.type == "note_on" and m.velocity > 0:
                open_[key] = open_.get(key, 0) + 1
            elif open_.get(key):
                open_[key] -= 1
    return {k: v for k, v in open_.items() if v}


def pulse_counts(stats: dict, rig: Rig) -> dict:
    """Clock pulses the peer sent, the assistant counted (all that arrived), those it took
    for repeats and dropped, and those it inferred lost."""
    sent = sum(1 for _, data in rig.peer.sender.sent if data == [0xF8])
    input_side = {k: stats[k] for k in ("messages_in", "junk_dropped", "jack_repeated", "jack_frame_jumps",
                                         "jack_base_steps", "jack_dropped", "late_events", "withdrawn") if k in stats}
    return {**input_side, "clock_pulses_sent": sent, "clock_pulses_counted": stats.get("clock_pulses"),
            "clock_pulses_repeated": stats.get("repeated_pulses"),
            "clock_pulses_inferred_lost": stats.get("missed_pulses")}


def sounding_notes(messages, at_ns: int, channel: int) -> set[int]:
    """Pitches sounding on ``channel`` just after ``at_ns``, from ``(message, ns)`` pairs in
    the order they came (every one up to ``at_ns``)."""
    on: set[int] = set()
    for m, ns in messages:
        if ns > at_ns or m.type not in ("note_on", "note_off") or m.channel != channel:
            continue
        if m.type == "note_on" and m.velocity > 0:
            on.add(m.note)
        else:
            on.discard(m.note)
    return on


def chord_strikes(ons, gap_ns: int = 2 * MS) -> list[tuple[int, list[int]]]:
    """Chord note-ons (``note_ons``) grouped into strikes: ``[(time of its first note,
    pitches)]``, a new strike where more than ``gap_ns`` passed since the note before (a
    chord whose notes went out a JACK period apart is heard as one strike)."""
    out: list[tuple[int, list[int]]] = []
    last = None
    for _, m, ns in sorted(ons, key=lambda item: item[2]):
        if last is None or ns - last > gap_ns:
            out.append((ns, []))
        out[-1][1].append(m.note)
        last = ns
    return out


def reactions(rig: Rig, strikes, melody: list[tuple[float, int]], window_ms: float = 40.0) -> list[dict]:
    """For each melody note ``(beat tick, time it was sent)`` played on a beat, the last chord
    strike from 3 ms before that beat to ``window_ms`` after it (the chord that stays):
    ``note_ms`` (the note against its beat), ``chord_ms`` (that strike against the beat),
    ``after_player_ms`` (against the note, or the beat if the note came first: how far the
    chord trails what the player did), ``replaced`` (it came after another strike on that
    beat: the planned chord sounded and was replaced) and ``strikes`` (how many in the window). Beats with
    no strike are left out."""
    out = []
    for tick, sent_ns in melody:
        beat_ns = rig.time_of(tick)
        near = [(ns, pitches) for ns, pitches in strikes if beat_ns - 3 * MS <= ns <= beat_ns + window_ms * MS]
        if not near:
            continue
        ns, pitches = near[-1]
        out.append({"beat": tick, "note_ms": round((sent_ns - beat_ns) / MS, 3),
                    "chord_ms": round((ns - beat_ns) / MS, 3),
                    "after_player_ms": round((ns - max(sent_ns, beat_ns)) / MS, 3),
                    "replaced": len(near) > 1, "strikes": len(near), "pitches": sorted(pitches)})
    return out
