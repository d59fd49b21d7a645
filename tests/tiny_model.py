"""Test helpers: ``need`` imports an optional module, failing instead of skipping in CI;
``fake_engine`` builds the real engine on a fake clock and in-process ports.

The tiny-model fixture (``tiny_model_path``) lives in ``conftest.py``.
"""

import importlib
import os

import pytest


def need(module: str):
    """Import ``module``; skip without it, except in CI (CI=true), where its absence fails."""
    if os.environ.get("CI") == "true":
        return importlib.import_module(module)
    return pytest.importorskip(module)


def fake_engine(tmp_path, settings: dict, model_path=None, seed: int = 3):
    """``(engine, clock, ports)``: the engine as ``run`` builds it, with the internal clock
    at 120 BPM on a FakeClock at 0 ns, in-process ports and ``settings`` over the defaults.
    Nothing runs on its own: tests call ``engine._handle``/``_tick`` with ``at(clock, tick)``."""
    from assistant.clock import FakeClock
    from assistant.app.config import load_config
    from assistant.midi.fakeports import fake_ports
    from assistant.live.model import MelodyModel
    from assistant.app.runner import build_engine

    clock = FakeClock(120.0, ns=0)
    ports = fake_ports(now=clock.now)
    config = load_config(None, {"clock.source": "internal", "session.folder": str(tmp_path / "sessions"),
                                **settings})
    model = MelodyModel.load(model_path) if model_path is not None else None
    return build_engine(config, ports, seed=seed, model=model, clock=clock), clock, ports


def at(clock, tick) -> int:
    """Move the fake clock to ``tick``; its time in ns."""
    clock.set_time(clock.ns_at(tick))
    return clock.now()
