"""Config: defaults == default.toml, presets, layering, and one-line errors naming file and key."""

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from assistant.userfiles import CONFIG_DIR_ENV
from assistant.app import config as cfg
from assistant.app import config_sections as sections
from assistant.app.config import Config, load_config, parse_overrides
from assistant.app.controls import ACTIONS
from assistant.userfiles import dump_toml, write_atomically
from assistant.errors import UserError
from assistant.resources import PRESETS_DIR

CONFIGS = PRESETS_DIR


@pytest.fixture(autouse=True)
def user_dir(tmp_path, monkeypatch):
    """Every test gets its own empty user config folder (never the real ~/.config)."""
    folder = tmp_path / "user"
    monkeypatch.setenv(CONFIG_DIR_ENV, str(folder))
    return folder


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_default_toml_matches_dataclass_defaults_key_for_key():
    raw = tomllib.loads((CONFIGS / "default.toml").read_text())
    defaults = Config().as_dict()
    assert list(raw) == list(defaults)  # same sections, same order
    for section, table in defaults.items():
        assert list(raw[section]) == list(table), section
        checks = cfg._checks(section)
        for key, value in table.items():
            assert checks[key](raw[section][key]) == checks[key](value), f"{section}.{key}"
    assert load_config("default") == Config()


def test_default_toml_documents_every_key_with_a_comment():
    lines = (CONFIGS / "default.toml").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[a-z_]+\s*=", line):
            assert lines[i - 1].startswith("#"), f"no comment above: {line}"


def test_defaults_are_immutable_and_not_shared():
    a, b = Config(), Config()
    assert a == b and a.suggest is not b.suggest
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.suggest.temperature = 2.0
    assert isinstance(a.ports.input_channels, tuple) and isinstance(a.controls.accept, tuple)
    assert [f.name for f in dataclasses.fields(sections.ControlsConfig)] == list(ACTIONS)
    assert [f.name for f in dataclasses.fields(sections.KeysConfig)] == list(ACTIONS)


@pytest.mark.parametrize("name", ["ableton", "reaper"])
def test_presets_load_and_hold_only_what_differs(name):
    loaded = load_config(name)
    raw = tomllib.loads((CONFIGS / f"{name}.toml").read_text())
    defaults = Config()
    for section, table in raw.items():
        for key in table:
            assert getattr(getattr(loaded, section), key) != getattr(getattr(defaults, section), key), \
                f"{name}.toml repeats the default of {section}.{key}"


def test_preset_specifics():
    ableton = load_config("ableton")
    assert ableton.ports.accepted == "" and ableton.suggest.accepted_channel == 2
    assert load_config("reaper").ports.backend == "alsa"
    assert load_config(str(CONFIGS / "reaper.toml")) == load_config("reaper")


def test_wrong_type_names_file_and_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "configs/x.toml", '[suggest]\ntemperature = "hot"\n')
    with pytest.raises(UserError) as err:
        load_config("configs/x.toml")
    assert str(err.value) == 'configs/x.toml: suggest.temperature must be a number in 0.05..5, got "hot"'


@pytest.mark.parametrize("text, message", [
    ("[suggest]\nalternatives = 0", "suggest.alternatives must be a whole number in 1..8, got 0"),
    ("[suggest]\nalternatives = 2.5", "suggest.alternatives must be a whole number in 1..8, got 2.5"),
    ("[suggest]\nchannel = true", "suggest.channel must be a whole number in 1..16, got true"),
    ("[suggest]\nmode = \"loop\"", 'suggest.mode must be one of "call", "ghost", "harmony", "call+harmony", "ghost+harmony", got "loop"'),
    ("[ports]\nattach = \"yes\"", 'ports.attach must be true, false or "auto", got "yes"'),
    ("[ports]\ninput_channels = [0, 3]", "ports.input_channels must be a list of MIDI channels 1..16"),
    ("[ports]\ninput = \"\"", "ports.input must be a non-empty port name"),
    ("[clock]\ntime_signature = \"4/3\"", 'clock.time_signature must be a time signature like "4/4"'),
    ("[clock]\nbpm = 1000", "clock.bpm must be a number in 20..400, got 1000"),
    ("[humanise]\nvelocity = 0", 'humanise.velocity must be "follow" or a whole number in 1..127, got 0'),
    ("[controls]\naccept = \"cc:200\"", 'controls.accept must be a binding like "cc:20"'),
    ("[controls]\naccept = 20", 'controls.accept must be a binding like "cc:20", "cc:20@10"'),
    ("[keys]\naccept = \"ctrl+q\"", "keys.accept must be a key or a list of keys"),
    ("[suggest]\ntemprature = 1.0", "unknown key suggest.temprature; did you mean suggest.temperature?"),
    ("[sugest]\ntemperature = 1.0", "unknown section [sugest]; did you mean [suggest]?"),
    ("temperature = 1.0", "temperature belongs in a section: put it under [suggest]"),
    ("suggest = 3", "suggest must be a table"),
    ("[controls]\nacept = \"cc:40\"", "unknown key controls.acept; did you mean controls.accept?"),
    ("[controls]\naccept = \"cc:40\"\nnext = \"cc:40\"", "controls.next and controls.accept both use \"cc:40\""),
    ("[suggest]\nregister_low = 90", "suggest.register_low (90) must be below suggest.register_high (84)"),
    ("[ports]\naccepted = \"\"", "suggest.accepted_channel must differ from suggest.channel (1)"),
    ("[suggest]\nharmony_channel = 1", "suggest.harmony_channel must differ from suggest.channel (1)"),
    ("[suggest\n", "is not valid TOML"),
])
def test_bad_values_are_one_line_user_errors(tmp_path, text, message):
    path = write(tmp_path / "bad.toml", text + "\n")
    with pytest.raises(UserError) as err:
        load_config(str(path))
    text = str(err.value)
    assert message in text and "bad.toml" in text and "\n" not in text


def test_preset_names_and_paths():
    with pytest.raises(UserError, match="no preset named 'abelton': did you mean ableton"):
        load_config("abelton")
    with pytest.raises(UserError, match="config file nowhere/x.toml does not exist"):
        load_config("nowhere/x.toml")
    assert "ableton" in cfg.list_presets() and "reaper" in cfg.list_presets()


def test_user_presets_in_the_config_folder(user_dir):
    write(user_dir / "mine.toml", "[suggest]\nbars = 4\n")
    assert load_config("mine").suggest.bars == 4


def test_layers_preset_then_bindings_then_command_line(tmp_path, user_dir):
    preset = write(tmp_path / "p.toml", '[suggest]\ntemperature = 1.5\nbars = 4\n[controls]\nnext = "note:36@10"\n')
    write(user_dir / "bindings.toml", '[controls]\naccept = ["cc:64", "note:36@10"]\n[keys]\nnext = "x"\n')
    c = load_config(str(preset), {"suggest.bars": 8, "humanise": {"velocity": 100}})
    assert c.suggest.temperature == 1.5 and c.suggest.bars == 8 and c.humanise.velocity == 100
    assert c.controls.accept == ("cc:64", "note:36@10")
    assert c.controls.next == ()  # the learned binding took note:36@10 over
    assert c.keys.next == ("x",) and c.keys.accept == ("space",)


def test_bindings_file_holds_only_bindings(user_dir):
    write(user_dir / "bindings.toml", "[suggest]\nbars = 4\n")
    with pytest.raises(UserError, match=r"bindings.toml: \[suggest\] does not belong in the bindings file"):
        load_config()
    assert load_config(bindings_path=user_dir / "none.toml") == Config()


def test_command_line_overrides_checked_and_parsed():
    assert parse_overrides(["suggest.temperature=1.2", "ports.input=My Port", 'clock.time_signature="6/8"',
                            "ports.input_channels=[1, 2]"]) == {
        "suggest.temperature": 1.2, "ports.input": "My Port", "clock.time_signature": "6/8",
        "ports.input_channels": [1, 2]}
    c = load_config(overrides=parse_overrides(["ports.input_channels=[2, 1]", "ports.attach=true"]))
    assert c.ports.input_channels == (1, 2) and c.ports.attach_flag is True
    assert c.ports.channel_indexes == {0, 1}
    with pytest.raises(UserError, match=r"^command line: suggest.bars must be a whole number in 1..16, got 99$"):
        load_config(overrides={"suggest.bars": 99})
    with pytest.raises(UserError, match="must be SECTION.KEY=VALUE"):
        parse_overrides(["bars"])
    with pytest.raises(UserError, match="override 'bars' must name a section and key"):
        load_config(overrides={"bars": 3})


def test_meter_and_attach_helpers():
    c = load_config(overrides={"clock.time_signature": " 6 / 8 "})
    assert c.clock.time_signature == "6/8" and c.clock.meter.bar_ticks == 36
    assert Config().ports.attach_flag is None and Config().ports.channel_indexes == set(range(16)) - {9}


def test_dump_toml_round_trips_and_write_is_atomic(tmp_path):
    tables = {"controls": {"accept": "cc:20", "next": ["cc:21", "note:36@10"], "odd key": 'q"\\\x7f'}}
    text = dump_toml(tables)
    assert tomllib.loads(text) == tables
    target = tmp_path / "b.toml"
    write_atomically(target, text.encode())
    write_atomically(target, b"[keys]\n")
    assert target.read_bytes() == b"[keys]\n"
    assert [p.name for p in tmp_path.iterdir()] == ["b.toml"]  # no temporary file left
