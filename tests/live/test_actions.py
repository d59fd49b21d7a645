"""The action table: every action a control can bind does something, and the settings
actions stay inside their bounds (a stand-in engine: only what the actions touch)."""

from types import SimpleNamespace

from assistant.app.controls import ACTIONS
from assistant.live.actions import PERFORM
from assistant.live.state import EngineSettings


def _engine(**settings):
    lines = []
    return SimpleNamespace(settings=EngineSettings(**settings), note=lines.append, lines=lines)


def test_every_bindable_action_but_quit_is_in_the_table_and_nothing_else():
    assert set(PERFORM) == set(ACTIONS) - {"quit"}


def test_temperature_and_bars_stay_in_their_bounds():
    engine = _engine(temperature=4.95, bars=16)
    PERFORM["temperature_up"](engine)
    PERFORM["temperature_up"](engine)
    PERFORM["bars_up"](engine)
    assert (engine.settings.temperature, engine.settings.bars) == (5.0, 16)
    engine = _engine(temperature=0.15, bars=1)
    for _ in range(3):
        PERFORM["temperature_down"](engine)
        PERFORM["bars_down"](engine)
    assert (engine.settings.temperature, engine.settings.bars) == (0.1, 1)
    assert engine.lines[-1] == "bars 1"


def test_scale_lock_cycles_off_key_chord():
    engine = _engine()
    seen = []
    for _ in range(3):
        PERFORM["scale_lock"](engine)
        seen.append(engine.settings.scale_lock)
    assert seen == ["key", "chord", "off"]
