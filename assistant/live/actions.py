"""What each action does to the engine: one table, :data:`PERFORM`, from the action's
name (the names :data:`assistant.app.controls.ACTIONS` binds) to a function of the
engine.

Thread: the engine thread only (``Engine.perform``), which is the one thread that
changes engine state; an action posted from elsewhere goes through the inbox.
"""

from __future__ import annotations

from typing import Callable


def _temperature(step: float):
    def act(engine) -> None:
        s = engine.settings
        s.temperature = round(min(5.0, max(0.1, s.temperature + step)), 2)
        engine.note(f"temperature {s.temperature}")
    return act


def _bars(step: int):
    def act(engine) -> None:
        s = engine.settings
        s.bars = min(16, max(1, s.bars + step))
        engine.note(f"bars {s.bars}")
    return act


def _mode(engine) -> None:
    s = engine.settings
    s.mode = "ghost" if s.mode == "call" else "call"
    engine.melody.mode_changed()
    engine.note(f"mode {s.mode_name}")


def _harmony(engine) -> None:
    s = engine.settings
    if not engine.harmony.available:
        engine.note("harmony needs the chord model (models/harmony.onnx)")
        return
    s.harmony = not s.harmony
    if not s.harmony:
        engine.harmony.silence_from(engine.now_tick())
    engine.harmony.reset()
    engine.note(f"mode {s.mode_name}")


def _audition(engine) -> None:
    s = engine.settings
    s.audition = not s.audition
    if not s.audition:
        engine.melody.silence()
    engine.note(f"audition {'on' if s.audition else 'off'}")


def _end_phrase(engine) -> None:
    for event in engine.capture.end_phrase():
        engine.hear(event, engine.clock.now())


def _panic(engine) -> None:
    engine.melody.drop("panic")
    engine.scheduler.panic()


def _tap_tempo(engine) -> None:
    clock = engine.clock
    if engine.follower is not None or not hasattr(clock, "tap"):
        engine.note("tap tempo: the tempo follows the DAW (its MIDI clock or the Link session)")
        return
    bpm = clock.tap(clock.now())
    if bpm is not None:
        engine.note(f"tempo {bpm:.1f} BPM (tap)")


def _scale_lock(engine) -> None:
    s = engine.settings
    s.scale_lock = {"off": "key", "key": "chord", "chord": "off"}[s.scale_lock]
    engine.note(f"scale lock {s.scale_lock}")


PERFORM: dict[str, Callable] = {
    "accept": lambda engine: engine.melody.accept(),
    "next": lambda engine: engine.melody.select(1),
    "previous": lambda engine: engine.melody.select(-1),
    "regenerate": lambda engine: engine.melody.regenerate(),
    "clear": lambda engine: engine.melody.drop("cleared"),
    "temperature_up": _temperature(0.1),
    "temperature_down": _temperature(-0.1),
    "bars_up": _bars(1),
    "bars_down": _bars(-1),
    "mode": _mode,
    "harmony": _harmony,
    "audition": _audition,
    "end_phrase": _end_phrase,
    "panic": _panic,
    "tap_tempo": _tap_tempo,
    "scale_lock": _scale_lock,
}
"""Every action but ``quit`` (which ends the engine loop)."""
