"""``bench --soak MINUTES``: the assistant under a long flood of input, through real JACK.

MIDI clock at 120 BPM and ``SOAK_FLOOD_PER_S`` note messages a second (on the drum
channel, which the assistant ignores by default, so phrases still end and are
answered) go into the real input beside a phrase every 16 beats. Built on the e2e rig
(:mod:`assistant.bench.rig`). Runs on the caller's thread, plus one flood thread.
"""

from __future__ import annotations

import os
import threading
import time

from ..music import TICKS_PER_QUARTER
from .figures import p50_p99
from .judge import hanging_notes, note_ons, pulse_counts, timing_errors_ms
from .process_stats import read_process_memory
from .jack_server import start_dummy_jack
from .rig import MS, PHRASE, Rig, now

SOAK_FLOOD_PER_S = 10_000
SOAK_FLOOD_CHANNEL = 9  # channel 10 (drums): ignored by default, so phrases still end and get answered


def soak_figures(minutes: float, model: str | None = None, report=None, trace_memory: bool = False) -> dict:
    """``bench --soak``: MIDI clock at 120 BPM and ``SOAK_FLOOD_PER_S`` note messages a second
    (on the drum channel) into the input for ``minutes``, with a phrase every 16 beats on
    channel 1. Per minute: messages in, queue high-water marks, the answers' note timing,
    private memory; at the end every message sent is accounted for. ``report(figure)`` is
    called with each minute's figures as they come (main thread). ``trace_memory``: the
    assistant runs with ``--trace-memory``, and each minute gives its traced total and the
    sites that grew most since the first minute's snapshot (the tracing itself costs
    memory and time: the other figures of such a run are not the product's)."""
    from ..app.memtrace import growth

    import numpy as np

    own = None
    server = os.environ.get("JACK_DEFAULT_SERVER")
    if not server:
        own = start_dummy_jack()
        server = own.name
    per_minute: list[dict] = []
    first_traced = None
    try:
        rig = Rig(server, model=model, extra_args=("--trace-memory",) if trace_memory else ())
        beats = int(minutes * 120) + 8
        t0 = rig.start_clock(beats)
        phrase_ticks = list(range(4 * TICKS_PER_QUARTER, (beats - 16) * TICKS_PER_QUARTER, 16 * TICKS_PER_QUARTER))
        for tick in phrase_ticks:
            rig.play(PHRASE, tick)
        flood_stop = threading.Event()
        flood_sent = [0]
        # The flood goes straight to the peer's port, up to 250 ms early in 100 ms batches (the
        # port holds events in time order), so sending it does not make the DAW's clock late:
        # sent one by one on time from Python it made the peer's clock pulses 90 ms late.
        tx = getattr(rig.peer, "tx_port", None)
        if tx is None:
            raise RuntimeError("the soak needs the native JACK module for its peer (pip install with gcc)")

        def flood() -> None:
            step = 1e9 / SOAK_FLOOD_PER_S
            k, end = 0, t0 + minutes * 60e9
            while not flood_stop.is_set() and t0 + k * step < end:
                horizon = min(now() + 250 * MS, end)
                while t0 + k * step < horizon:
                    pitch = 36 + (k // 2) % 12
                    status = (0x90 if k % 2 == 0 else 0x80) | SOAK_FLOOD_CHANNEL
                    try:
                        tx.send_bytes(bytes([status, pitch, 90 if k % 2 == 0 else 0]), int(t0 + k * step))
                    except OSError:  # the port's queue is full for a moment: let the server drain it
                        time.sleep(0.002)
                        continue
                    k += 1
                    flood_sent[0] += 1
                flood_stop.wait(0.1)

        flooder = threading.Thread(target=flood, name="soak-flood", daemon=True)
        flooder.start()
        pid = rig.assistant.proc.pid
        for minute in range(1, int(np.ceil(minutes)) + 1):
            until = t0 + min(minute, minutes) * 60e9
            while now() < until:
                time.sleep(0.2)
            stats = rig.assistant.stats() if rig.assistant.stats_path.exists() else {}
            window = [item for item in note_ons(rig.peer.collect(), "out") if until - 60e9 <= item[2] < until]
            errors = [abs(e) for e in timing_errors_ms(rig, window)]
            figure = {"minute": minute, "messages_in": stats.get("messages_in"),
                      "junk_dropped": stats.get("junk_dropped"), "ring_dropped": stats.get("jack_dropped"),
                      "inbox_high": stats.get("inbox_high"), "ring_high": stats.get("jack_ring_high"),
                      "heap_high": stats.get("heap_high"), "answer_notes": len(window),
                      "note_timing_ms": p50_p99(errors), **read_process_memory(pid)}
            traced = stats.get("memory_traced")
            if trace_memory and traced:
                first_traced = first_traced or traced
                figure["traced_mb"] = traced["traced_mb"]
                figure["traced_growth_kb"] = growth(first_traced, traced)
            per_minute.append(figure)
            if report is not None:
                report(figure)
        flood_stop.set()
        flooder.join()
        while not rig.peer.sender.idle():
            time.sleep(0.1)
        time.sleep(1.0)
        code = rig.close()
        stats = rig.assistant.stats()
        sent = len(rig.peer.sender.sent) + flood_sent[0]
        received = stats.get("messages_received", 0) + stats.get("junk_dropped", 0)
        result = {"minutes": minutes, "flood_per_s": SOAK_FLOOD_PER_S, "per_minute": per_minute, "exit_code": code,
                  "messages_sent": sent, "messages_received": stats.get("messages_received"),
                  "dropped": sent - received,
                  "dropped_counted": {k: stats.get(k) for k in ("jack_dropped", "jack_oversize", "jack_repeated")},
                  "hanging_notes": len(hanging_notes(rig.peer.log)), "answers": stats.get("suggestions"),
                  "engine_errors": stats.get("engine_errors"),
                  "clock_sender_late_p99_ms": round(float(np.percentile(rig.peer.sender.lateness_ns, 99)) / MS, 3),
                  **pulse_counts(stats, rig), "server_xruns": own.xruns() if own is not None else None}
        if len(per_minute) >= 2 and "private_mb" in per_minute[0]:
            result["memory_growth_mb"] = round(per_minute[-1]["private_mb"] - per_minute[0]["private_mb"], 1)
        return result
    finally:
        if own is not None:
            own.stop()
