"""``bench --link SECONDS``: our Link clock beside a second Link peer in this machine.

The peer (a plain Link session, as Live or another app joins) walks through a few
tempos; at each of its beats, on a thread that sleeps to it as a sender would, we
read where our clock puts that beat (``ns_at``, what the scheduler sends by) and the
peer's time for it (``timeAtBeat`` in Link's clock, turned into our monotonic time by
a narrow paired read of our own). Figures: the tempo disagreement after each change
has settled, and the beat error (median, p99, max), in ms. Main thread.
"""

from __future__ import annotations

import time

import numpy as np

from ..clock import now_ns
from ..clock.link_clock import LinkClock, import_link, paired_offset_ns
from ..music import TICKS_PER_QUARTER, Meter

TEMPOS = (120.0, 133.3, 96.5, 174.0)


def link_figures(seconds: float) -> dict:
    link = import_link()
    peer = link.Link(TEMPOS[0])
    peer.enabled = True
    ours = LinkClock(100.0, [Meter(0, 4, 4)]).start()
    beat_errors, tempo_errors = [], []
    try:
        end = time.monotonic() + 5
        while ours.peers < 1 and time.monotonic() < end:
            time.sleep(0.01)
        if ours.peers < 1:
            return {"error": "the two Link peers did not find each other in 5 s (is loopback multicast blocked?)"}
        per_tempo = max(1.0, seconds / len(TEMPOS))
        for bpm in TEMPOS:
            state = peer.captureAppSessionState()
            state.setTempo(bpm, peer.clock().micros())
            peer.commitAppSessionState(state)
            time.sleep(0.1)  # the change reaches our thread within a poll or two
            tempo_errors.append(abs(ours.tempo_bpm - bpm))
            stop = time.monotonic() + per_tempo
            while time.monotonic() < stop:
                state = peer.captureAppSessionState()
                offset = paired_offset_ns(peer.clock(), reads=5)[1]
                beat = float(int(state.beatAtTime(peer.clock().micros(), 4.0)) + 1)
                theirs = state.timeAtBeat(beat, 4.0) * 1000 + offset
                wait = (theirs - now_ns()) / 1e9 - 0.002  # wake just before it, as a sender does
                if wait > 0:
                    time.sleep(wait)
                beat_errors.append((ours.ns_at(beat * TICKS_PER_QUARTER) - theirs) / 1e6)
                time.sleep(0.005)
    finally:
        ours.close()
        peer.enabled = False
    errors = np.abs(np.array(beat_errors))
    return {"peers": ours.peers, "beats": len(beat_errors), "tempos_bpm": list(TEMPOS),
            "tempo_error_bpm_max": round(max(tempo_errors), 5),
            "beat_error_ms": {"p50": round(float(np.percentile(errors, 50)), 4),
                              "p99": round(float(np.percentile(errors, 99)), 4),
                              "max": round(float(errors.max()), 4)},
            "segments": ours.segments,
            "within_target": bool(max(tempo_errors) < 0.01 and errors.max() < 1.0)}
