"""What the player changes at run time (assistant.live.state): modes and their names."""

import pytest

from assistant.live.state import EngineSettings, parse_mode


@pytest.mark.parametrize("text, parsed", [("call", ("call", False)), ("ghost", ("ghost", False)),
                                          ("harmony", ("none", True)), ("call+harmony", ("call", True)),
                                          (" ghost + harmony ", ("ghost", True)), ("harmony+call", ("call", True))])
def test_each_mode_parses_and_its_name_is_what_the_config_writes(text, parsed):
    assert parse_mode(text) == parsed
    melody, harmony = parsed
    name = EngineSettings(mode=melody, harmony=harmony).mode_name
    assert parse_mode(name) == parsed


@pytest.mark.parametrize("text", ["", "solo", "call+ghost", "call+solo", "+"])
def test_an_unknown_mode_names_the_ones_there_are(text):
    with pytest.raises(ValueError, match="use call, ghost, harmony, call\\+harmony or ghost\\+harmony"):
        parse_mode(text)


def test_no_melody_and_no_harmony_is_none():
    assert EngineSettings(mode="none", harmony=False).mode_name == "none"
