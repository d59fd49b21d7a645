"""MIDI backends and port names (assistant.midi.backends): which port a name means, and one
line with the fix when a backend cannot start. Starting real backends is
tests/midi/test_ports.py's (through a JACK server the tests start)."""

import pytest

from assistant.errors import UserError
from assistant.midi import backends

PORTS = ["Midi Through:Midi Through Port-0 14:0", "Reaper:out 1", "Reaper:out 2", "loopMIDI Port"]


@pytest.mark.parametrize("wanted, found", [("loopMIDI Port", "loopMIDI Port"), ("loopmidi", "loopMIDI Port"),
                                           ("through", "Midi Through:Midi Through Port-0 14:0"),
                                           ("OUT 2", "Reaper:out 2")])
def test_a_port_is_its_exact_name_or_the_one_port_containing_it_in_any_case(wanted, found):
    assert backends.resolve_port(wanted, PORTS, "input", "alsa") == found


def test_no_match_lists_what_there_is_and_an_ambiguous_name_lists_the_matches():
    with pytest.raises(UserError, match=r"no MIDI output port matches 'Live'.*available: 'Midi Through.*ports --backend jack"):
        backends.resolve_port("Live", PORTS, "output", "jack")
    with pytest.raises(UserError, match=r"ambiguous on alsa \(matches 'Reaper:out 1', 'Reaper:out 2'\)"):
        backends.resolve_port("reaper", PORTS, "input", "alsa")
    with pytest.raises(UserError, match=r"available: none"):
        backends.resolve_port("x", [], "input", "alsa")


def test_a_backend_that_cannot_start_says_how_to_start_it(monkeypatch):
    with pytest.raises(UserError, match="unknown MIDI backend 'midi': use one of alsa, jack"):
        backends.check_backend_name("midi")
    assert backends.check_backend_name("jack") == "jack"
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "studio")
    err = backends.backend_error("jack", OSError("no server"))
    assert "no JACK server is running (server 'studio' from JACK_DEFAULT_SERVER): start one" in str(err)
    monkeypatch.delenv("JACK_DEFAULT_SERVER")
    assert "load the snd-seq kernel module" in str(backends.backend_error("alsa", OSError("x")))
    missing = backends.backend_error("coremidi", ValueError("API_MACOSX_CORE not compiled"))
    assert "is not compiled into python-rtmidi here (available:" in str(missing)
