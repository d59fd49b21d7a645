"""Controls: binding syntax, CC/note/key lookups, consumption and MIDI learn (the learn
command is tests/commands/test_learn.py)."""

import tomllib

import mido
import pytest

from assistant.app.config import Config, load_config
from assistant.app.controls import ACTIONS, Binding, ControlMap, learn_binding, save_learned
from assistant.errors import UserError

from control_messages import cc, note_on, user_dir  # noqa: F401 (user_dir: a fixture)


pytestmark = pytest.mark.usefixtures("user_dir")


def test_binding_parse_and_format():
    assert Binding.parse("cc:20") == Binding("cc", 20, None)
    assert Binding.parse(" CC : 20 @ 10 ") == Binding("cc", 20, 10)
    assert str(Binding.parse("note:36@10")) == "note:36@10"
    assert str(Binding.parse("note:0")) == "note:0"
    for bad in ["cc:128", "cc:20@0", "cc:20@17", "pc:3", "cc", "cc:-1", "", 20, None]:
        with pytest.raises(UserError, match=r"^controls.accept must be a binding like"):
            Binding.parse(bad, "controls.accept")


def test_binding_matches_any_value_and_its_channel():
    assert Binding.parse("cc:20").matches(cc(20, 0, channel=5))
    assert Binding.parse("cc:20@6").matches(cc(20, 0, channel=5))
    assert not Binding.parse("cc:20@6").matches(cc(20, 0, channel=4))
    assert Binding.parse("note:36").matches(mido.Message("note_off", note=36))
    assert not Binding.parse("note:36").matches(cc(36))
    assert not Binding.parse("note:36").matches(mido.Message("clock"))


def test_default_map_triggers_on_press_not_release():
    m = ControlMap.from_config(Config())
    assert m.action_for(cc(20)) == "accept"
    assert m.action_for(cc(20, value=1, channel=15)) == "accept"
    assert m.action_for(cc(20, value=0)) is None  # release
    assert m.consumes(cc(20, value=0))  # ...but still kept away from capture
    assert m.action_for(cc(64)) is None and not m.consumes(cc(64))  # sustain pedal is the player's
    assert m.action_for(note_on(60)) is None and not m.consumes(note_on(60))  # notes unbound by default
    assert m.action_for(mido.Message("clock")) is None and not m.consumes(mido.Message("clock"))
    assert m.action_for(cc(102)) == "panic" and m.action_for(cc(103)) == "scale_lock"


def test_notes_channels_and_specific_over_any_channel():
    c = load_config(overrides={"controls.accept": ["note:36@10", "cc:20@2"], "controls.next": "cc:20",
                               "controls.clear": "note:37"})
    m = ControlMap.from_config(c)
    assert m.action_for(note_on(36, channel=9)) == "accept"
    assert m.action_for(note_on(36, channel=0)) is None and not m.consumes(note_on(36, channel=0))
    assert m.action_for(note_on(36, velocity=0, channel=9)) is None  # note-on 0 is a note-off
    assert m.consumes(mido.Message("note_off", note=36, channel=9))
    assert m.action_for(cc(20, channel=1)) == "accept"  # channel-specific wins
    assert m.action_for(cc(20, channel=2)) == "next"
    assert m.action_for(note_on(37, channel=3)) == "clear"
    assert m.describe("accept") == "note:36@10, cc:20@2, space"
    assert m.describe("quit") == "q"


def test_keys():
    m = ControlMap.from_config(load_config(overrides={"keys.quit": ["q", "escape", "F5"]}))
    assert m.action_for_key(" ") == "accept" and m.action_for_key("space") == "accept"
    assert m.action_for_key("n") == "next" and m.action_for_key("N") is None
    assert m.action_for_key("+") == "temperature_up" and m.action_for_key("]") == "bars_up"
    assert m.action_for_key("\x1b") == "quit" and m.action_for_key("f5") == "quit"
    assert m.action_for_key("") is None and m.action_for_key("\x00") is None and m.action_for_key(None) is None


def test_conflicts_in_a_hand_built_config_are_user_errors():
    with pytest.raises(UserError, match="controls.next: cc:20 is also bound to controls.accept"):
        ControlMap([("cc:20", "accept"), ("cc:20", "next")])
    with pytest.raises(UserError, match="keys.next: key \"n\" is also bound to keys.accept"):
        ControlMap(keys=[("n", "accept"), ("n", "next")])
    with pytest.raises(UserError, match="unknown action 'acept': did you mean accept"):
        ControlMap([("cc:20", "acept")])


def test_every_action_has_a_default_key():
    m = ControlMap.from_config(Config())
    assert set(m._keys.values()) == set(ACTIONS)


def test_learn_binding():
    assert learn_binding(cc(40, 100, channel=3)) == Binding("cc", 40, 4)
    assert learn_binding(note_on(36, channel=9)) == Binding("note", 36, 10)
    assert learn_binding(cc(40, 0)) is None
    assert learn_binding(note_on(36, 0)) is None
    assert learn_binding(mido.Message("clock")) is None
    assert learn_binding(mido.Message("pitchwheel", pitch=100)) is None


def test_save_learned_keeps_others_and_takes_the_control_over(user_dir):
    path = save_learned("accept", Binding("cc", 40, 1))
    assert path == user_dir / "bindings.toml"
    save_learned("next", "note:36@10")
    save_learned("previous", "cc:40@1")  # moves cc:40@1 from accept to previous
    data = tomllib.loads(path.read_text())
    assert data == {"controls": {"accept": [], "next": "note:36@10", "previous": "cc:40@1"}}
    assert sorted(p.name for p in user_dir.iterdir()) == ["bindings.toml"]
    c = load_config()
    assert c.controls.accept == () and c.controls.previous == ("cc:40@1",) and c.controls.next == ("note:36@10",)
    m = ControlMap.from_config(c)
    assert m.action_for(cc(40)) == "previous"
    # a learned binding takes the control away from the preset's action
    save_learned("accept", "cc:21")
    c = load_config()
    assert c.controls.accept == ("cc:21",) and c.controls.next == ("note:36@10",)
    assert ControlMap.from_config(load_config("ableton")).action_for(cc(21)) == "accept"


def test_save_learned_keeps_keys_and_never_overwrites_a_broken_file(user_dir):
    path = user_dir / "bindings.toml"
    user_dir.mkdir()
    path.write_text('[keys]\naccept = "enter"\n')
    save_learned("clear", "cc:50")
    assert tomllib.loads(path.read_text()) == {"keys": {"accept": "enter"}, "controls": {"clear": "cc:50"}}
    path.write_text("[controls\n")
    with pytest.raises(UserError, match="bindings.toml is not valid TOML .*fix or delete it"):
        save_learned("clear", "cc:51")
    assert path.read_text() == "[controls\n"


def test_save_learned_unwritable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="cannot write .*bindings.toml"):
        save_learned("accept", "cc:20", blocker / "sub" / "bindings.toml")
