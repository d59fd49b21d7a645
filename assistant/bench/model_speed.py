"""Latency and footprint of the melody and chord models, for ``midi-assistant bench``.

Model figures (always): ``step_ms`` at batch 1 and 4 with 128 cached tokens,
``first_note_ms`` (from the call until the first note of *every* alternative is
ready) after a phrase already fed note by note (warm) and after a cold 64-note
prefill, ``suggest_ms`` for 4 bars x 4 alternatives with and without the
short-term model blend, ``load_ms`` (load, checksum, warm-up), ``rss_mb`` and the
threads in use. Each figure is p50/p99 over many runs on this machine; the
machine is shared, so read them with its noise in mind.

Harmony figures: ``chord_step_ms`` (one step of the chord model: features of a
beat in, the chord distribution out, the state advanced), ``chord_decide_ms``
(a beat's decision: features, step, chord choice, the batched step for the 12
notes the player may start on the beat, voicing, pattern), ``chord_react_ms``
(the player's note on the beat: the prepared lookup, voicing, pattern) and
``chord_forecast_ms`` (the two bars ahead for the UI, after the chord has gone).

Runs on the caller's thread; ``midi-assistant bench`` (assistant.commands.bench) prints them.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np

from ..music import Note
from .figures import p50_p99

PHRASE = [Note(i * 6, 6, p) for i, p in enumerate([60, 62, 64, 65, 67, 65, 64, 62] * 4)]


def percentiles(samples_ns: list[int]) -> dict:
    """p50/p99 in ms of samples in ns."""
    return p50_p99([ns / 1e6 for ns in samples_ns])


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def os_threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def step_times(model, batch: int, cached: int, repeats: int) -> list[int]:
    """Single-token steps at ``batch`` with ``cached`` tokens in the cache (the cache is not grown)."""
    shape = (model.layers, batch, model.heads, cached, model.d_head)
    keys = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 0.1
    values = keys.copy()
    tok = np.full((batch, 1), 300, dtype=np.int64)
    zeros = np.zeros((batch, 1), dtype=np.int64)
    out = []
    for _ in range(repeats + 10):
        t0 = time.perf_counter_ns()
        model._run(tok, zeros, zeros, keys, values)
        out.append(time.perf_counter_ns() - t0)
    return out[10:]


def first_note_times(model, repeats: int, cold: bool, stm=None) -> list[int]:
    """Time until every one of 4 alternatives has its first note."""
    out = []
    for r in range(repeats):
        if cold:
            model.reset()
            t0 = time.perf_counter_ns()
            model.feed_many(PHRASE + [Note(192 + n.onset, n.duration, n.pitch) for n in PHRASE])
        else:
            model.reset()
            for note in PHRASE:
                model.feed(note)
            t0 = time.perf_counter_ns()
        seen = set()
        for alt, _note in model.generate(bars=4, n=4, seed=r, start_tick=model.cursor_tick + 12, blend=stm):
            seen.add(alt)
            if len(seen) == 4:
                break
        out.append(time.perf_counter_ns() - t0)
    return out


def suggest_times(model, repeats: int, stm=None) -> tuple[list[int], float]:
    model.reset()
    for note in PHRASE:
        model.feed(note)
    out, notes = [], 0
    for r in range(repeats):
        t0 = time.perf_counter_ns()
        alts = model.suggest(bars=4, n=4, seed=r, start_tick=model.cursor_tick + 12, blend=stm)
        out.append(time.perf_counter_ns() - t0)
        notes += sum(len(a.notes) for a in alts)
    return out, notes / max(1, repeats * 4)


def model_figures(model_path, repeats: int) -> dict:
    from ..live.model import DEFAULT_MELODY_MODEL, MelodyModel
    from ..music.stm_blend import StmBlend

    t0 = time.perf_counter_ns()
    model = MelodyModel.load(model_path or DEFAULT_MELODY_MODEL)
    load_ns = time.perf_counter_ns() - t0
    stm = StmBlend()
    for n in PHRASE:
        stm.observe(n.pitch, 0.1)  # any probability: the advantage's value does not change the cost
    suggest_plain, notes_per_alt = suggest_times(model, max(20, repeats // 4))
    suggest_stm, _ = suggest_times(model, max(20, repeats // 4), stm)
    return {
        "model": str(model.path),
        "config": model.config,
        "load_ms": round(load_ns / 1e6, 1),
        "step_ms": {"batch1": percentiles(step_times(model, 1, 128, repeats * 2)),
                    "batch4": percentiles(step_times(model, 4, 128, repeats * 2))},
        "first_note_ms": {"warm": percentiles(first_note_times(model, repeats, cold=False, stm=stm)),
                          "cold_prefill_64": percentiles(first_note_times(model, max(20, repeats // 4), cold=True,
                                                                          stm=stm))},
        "suggest_ms": {"bars": 4, "alternatives": 4, "notes_per_alternative": round(notes_per_alt, 1),
                       "with_stm": percentiles(suggest_stm), "without_stm": percentiles(suggest_plain)},
        "rss_mb": rss_mb(),
        "threads": {"onnxruntime_intra_op": 1, "os_threads": os_threads()},
    }


def harmony_figures(model_path, repeats: int) -> dict:
    from ..live.accompanist import Accompanist
    from ..live.chord_model import DEFAULT_HARMONY_MODEL, ChordModel, step_features
    from ..music import Meter

    t0 = time.perf_counter_ns()
    model = ChordModel.load(model_path or DEFAULT_HARMONY_MODEL)
    load_ns = time.perf_counter_ns() - t0
    meter = Meter(0)
    feats = [step_features(PHRASE[: i + 1], PHRASE[i].onset + 12, PHRASE[i].onset, i % 4, meter)
             for i in range(len(PHRASE))]
    steps = []
    for r in range(repeats * 5 + 20):
        f = feats[r % len(feats)]
        t = time.perf_counter_ns()
        model.step(f)
        steps.append(time.perf_counter_ns() - t)
    acc = Accompanist(model, pattern="beat")
    meters = [meter]
    decide, react, forecast = [], [], []
    tick = 0
    for r in range(repeats * 2 + 10):
        note = PHRASE[r % len(PHRASE)]
        acc.add_note(Note(tick, 6, note.pitch))
        acc.add_note(Note(tick + 6, 6, note.pitch + 2))
        t = time.perf_counter_ns()
        acc.decide(tick + 11, meters, 80)  # the decision tick of the beat at tick + 12, with its 12 reactions
        decide.append(time.perf_counter_ns() - t)
        t = time.perf_counter_ns()
        acc.react(PHRASE[(r + 3) % len(PHRASE)].pitch)  # the player's note on the beat: a lookup
        react.append(time.perf_counter_ns() - t)
        t = time.perf_counter_ns()
        acc.refresh_forecast()  # the two bars ahead, for the UI, once the chord has gone
        forecast.append(time.perf_counter_ns() - t)
        tick += 12
    return {"model": str(model.path), "config": model.config, "load_ms": round(load_ns / 1e6, 1),
            "chord_step_ms": percentiles(steps[20:]), "chord_decide_ms": percentiles(decide[10:]),
            "chord_react_ms": percentiles(react[10:]), "chord_forecast_ms": percentiles(forecast[10:])}


