"""``bench --e2e``: the whole engine measured through real JACK ports (see :mod:`assistant.bench.rig`).

Scenarios: answers to phrases, chords on every beat, the accompaniment of held-out
chorales played with human timing (:mod:`assistant.bench.accompaniment`), the MIDI clock
follower's tempo, trigger-to-ready; each reports medians and 99th percentiles and, for every note more
than 2 ms off, why (see :func:`assistant.bench.judge.off_time_notes`). Runs on the
caller's thread.
"""

from __future__ import annotations

import os
import queue
import time
import uuid

import mido

from ..music import TICKS_PER_QUARTER
from .judge import (beat_of, chord_timing_errors_ms, chords_by_beat, hanging_notes, note_ons, off_time_notes,
                    pulse_counts, timing_errors_ms, unclosed_notes)
from .jack_server import XrunWatch, start_dummy_jack
from .rig import (C_MAJOR_PHRASE, HARMONY_CHANNEL, MS, PHRASE, Peer, Rig, TimedSender, clock_schedule,
                  now)
from .figures import p50_p99
from .process_stats import process_cpu_seconds, read_process_memory, reference_idle_cpu



# ------------------------------------------------------------------ the benchmark

def e2e_figures(args) -> dict:
    """Run the scenarios of the e2e benchmark; returns the figures (see the issue for their meaning)."""
    import numpy as np

    from ..clock.midi_follower import MidiClockFollower

    own = None
    server = os.environ.get("JACK_DEFAULT_SERVER")
    if not server:
        own = start_dummy_jack()
        server = own.name
    result: dict = {"jack_server": server, "period_frames": 64 if own else None}
    if getattr(args, "audio", False):  # the assistant under test also renders its audio, with no device
        Rig.common_settings = {"audio.play": True, "audio.device": "null"}
        result["audio_rendering"] = True
    # jackd's own xruns before scenario 1, after it and after 1b (a server we started only)
    xrun_marks = [own.xruns() if own is not None else None]
    watch = XrunWatch(own.log if own is not None else None)
    period_ns = own.period_ns if own is not None else None
    try:
        # 1. call and response, many phrases: trigger-to-ready and note timing
        rig = Rig(server, model=args.model)
        phrases = max(4, min(20, args.repeats // 10))
        beats = 8 + phrases * 12
        rig.start_clock(beats)
        for k in range(phrases):
            rig.play(PHRASE, 48 + k * 144)  # phrase (2 bars), silence, answer (1 bar)
        rig.wait_until_tick(beats * TICKS_PER_QUARTER + 12)
        code = rig.close()
        stats = rig.assistant.stats()
        ons = note_ons(rig.peer.log, "out")
        errors = timing_errors_ms(rig, ons)
        lat = stats["trigger_to_ready_ms"]
        result["trigger_to_ready_ms"] = p50_p99(lat)
        result["note_timing_error_ms"] = {**p50_p99([abs(e) for e in errors]), "max": round(max(map(abs, errors)), 3),
                                          "mean_signed": round(float(np.mean(errors)), 3)} if errors else None
        result["answers"] = {"phrases": phrases, "suggestions": stats["suggestions"], "notes": len(ons),
                             "exit_code": code, "hanging_notes": len(hanging_notes(rig.peer.log)),
                             **pulse_counts(stats, rig)}
        if "audio_blocks" in stats:
            result["audio"] = {k: stats[k] for k in ("audio_blocks", "audio_played", "audio_late",
                                                      "audio_render_max_us")}
        result["notes_off_time"] = off_time_notes(rig, ons, errors, stats, watch, period_ns,
                                                  phrase_of=lambda tick: (tick - 48) // 144)

        # 1b. live accompaniment (harmony mode, a chord struck on every beat) under 16 bars
        # of melody: chord note-on arrival vs the beat it is meant for
        xrun_marks.append(own.xruns() if own is not None else None)
        result.update(_chord_figures(server, args.model, watch, period_ns))
        xrun_marks.append(own.xruns() if own is not None else None)

        # 1c. the accompaniment as heard: held-out chorales with human timing (see .accompaniment)
        if getattr(args, "pieces", 0):
            from .accompaniment import accompaniment_figures

            before = own.xruns() if own is not None else None
            result["accompaniment"] = accompaniment_figures(server, args.model, pieces=args.pieces)
            if before is not None:
                result["accompaniment"]["jack_server_xruns"] = own.xruns() - before

        # 2. clock tempo estimate after 2 beats of a steady clock, through JACK
        result["clock_tempo_error_bpm"] = _tempo_error(server, MidiClockFollower)

        # 3. idle CPU and private memory with ports open and no input
        rig = Rig(server, model=args.model)
        time.sleep(2.0)
        pid = rig.assistant.proc.pid
        c0, w0 = process_cpu_seconds(pid), time.monotonic()
        time.sleep(10.0)
        cpu = (process_cpu_seconds(pid) - c0) / (time.monotonic() - w0) * 100
        memory = read_process_memory(pid)
        result["idle_cpu_pct"] = round(cpu, 2)
        result["idle_cpu_reference"] = reference_idle_cpu(server, pid)
        result.update(memory)

        # 4. a burst of 5,000 note messages per second for 5 s: nothing dropped
        rig.start_clock(0, lead_s=0.2)
        t0 = rig.t0
        burst = []
        for k in range(25_000):
            pitch = 48 + k // 2 % 24
            status = 0x90 if k % 2 == 0 else 0x80
            burst.append((t0 + k * 200_000, [status, pitch, 64 if status == 0x90 else 0]))
        rig.peer.sender.add(burst)
        time.sleep(5.5)
        while not rig.peer.sender.idle():
            time.sleep(0.1)
        time.sleep(1.0)
        rig.close()
        stats = rig.assistant.stats()
        result["jack_client"] = stats.get("jack_client")  # "native": one JACK client for all ports
        received = stats["messages_received"] - 1  # minus the Start sent by start_clock
        result["dropped"] = 25_000 - received
        result["burst_sender_late_p99_ms"] = round(float(np.percentile(rig.peer.sender.lateness_ns, 99)) / MS, 3)
        if None not in xrun_marks:
            first, answers, chords = xrun_marks
            result["jack_server_xruns"] = {"answers": answers - first, "chords": chords - answers,
                                           "total": own.xruns()}
    finally:
        Rig.common_settings = {}
        watch.close()
        if own is not None:
            own.stop()
    return result


def _chord_figures(server: str, model: str | None, watch: XrunWatch | None = None, period_ns: int | None = None,
                   repeats: int = 4) -> dict:
    """Harmony mode, pattern "beat", every chord decided ahead (``harmony.react_ms`` 0: the
    grid's timing): ``repeats`` times the 4-bar C major phrase from bar 2 (16 bars at 4),
    the clock at 120 BPM, Stop one bar after the melody ends."""
    import numpy as np

    rig = Rig(server, model=model, settings={"suggest.mode": "harmony", "harmony.pattern": "beat",
                                              "harmony.velocity": 80, "harmony.react_ms": 0})
    bar = 4 * TICKS_PER_QUARTER
    start = bar
    end = start + repeats * 4 * bar  # the melody's end (tick)
    try:
        rig.start_clock(beats=(end + 2 * bar) / TICKS_PER_QUARTER)
        for k in range(repeats):
            rig.play(C_MAJOR_PHRASE, start + k * 4 * bar)
        stop_at = rig.time_of(end + bar + 6)  # mid-beat, a chord sounding
        rig.peer.sender.cancel_after(stop_at)
        rig.peer.sender.add([(stop_at, [0xFC])])
        rig.wait_until_tick(end + bar + 6)
        time.sleep(0.5)
        log = list(rig.peer.collect())
    finally:
        code = rig.close()
    ons = [item for item in note_ons(log, "out") if item[1].channel == HARMONY_CHANNEL]
    errors = chord_timing_errors_ms(rig, ons)
    stats = rig.assistant.stats()
    off_time = off_time_notes(rig, ons, errors, stats, watch, period_ns,
                              phrase_of=lambda tick: (tick - start) // (4 * bar),
                              planned_tick=lambda ns: beat_of(rig, ns) * TICKS_PER_QUARTER)
    beats = chords_by_beat(rig, ons)
    expected = range(start // TICKS_PER_QUARTER + 1, (end + bar) // TICKS_PER_QUARTER + 1)
    figures = {**p50_p99([abs(e) for e in errors]), "max": round(max(map(abs, errors)), 3),
               "mean_signed": round(float(np.mean(errors)), 3)} if errors else None
    return {"chord_timing_error_ms": figures, "chord_notes_off_time": off_time,
            "chords": {"beats": len(expected), "beats_with_chord": sum(1 for b in expected if b in beats),
                       "notes": len(ons), "exit_code": code,
                       "unclosed_after_stop": len(unclosed_notes(log)),
                       "hanging_notes": len(hanging_notes(rig.peer.log)),
                       **pulse_counts(stats, rig)}}


def _tempo_error(server: str, follower_class, bpm: float = 120.0, trials: int = 5) -> dict:
    """Feed a MidiClockFollower with pulses received through JACK; tempo error after 2 beats.

    As the assistant hears them: on our native client where it is built (the sender
    then places the pulses at their frames, as a DAW does), else through python-rtmidi."""
    import rtmidi

    from ..midi import jackmidi
    from ..midi.rtmidi_input import RtInput

    native = jackmidi.available() is None
    errors = []
    for _ in range(trials):
        inbox: queue.SimpleQueue = queue.SimpleQueue()
        if native:
            rx_client = jackmidi.JackClient(f"tempo-rx-{uuid.uuid4().hex[:6]}")
            rx = rx_client.add_input("in", inbox)
            tx_client = jackmidi.JackClient(f"tempo-tx-{uuid.uuid4().hex[:6]}")
            out = tx_client.add_output("tx", connect_to=rx.full_name)
            sender = TimedSender(lambda data, ns: out.send(mido.Message.from_bytes(data), ns),
                                 ahead_ns=jackmidi.hand_over_ahead_ns(tx_client.period_ms()))
            closers = [sender.close, rx.close, out.close]
        else:
            rx = RtInput("UNIX_JACK", inbox, "in", virtual=True, client_name=f"tempo-rx-{uuid.uuid4().hex[:6]}",
                         mode="poll")
            tx = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=f"tempo-tx-{uuid.uuid4().hex[:6]}")
            tx.open_port(Peer._index(tx, "in"), "tx")
            sender = TimedSender(tx.send_message)
            closers = [sender.close, rx.close, tx.close_port, tx.delete]
        t0 = now() + 200 * MS
        sender.add(clock_schedule(t0, bpm, 2))
        time.sleep(0.2 + 2 * 60 / bpm + 0.1)
        follower = follower_class(tempo_bpm=90.0)
        while True:
            try:
                msg, ns = inbox.get_nowait()
            except queue.Empty:
                break
            follower.feed(msg, ns)
        errors.append(abs(follower.tempo_bpm - bpm))
        for close in closers:
            close()
    return {"max": round(max(errors), 4), "trials": trials, "bpm": bpm}
