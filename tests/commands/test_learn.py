"""``midi-assistant learn`` (assistant.commands.learn): a binding given or learnt from the
next control, saved to the user's bindings; one line for a wrong action, binding or timeout."""

import argparse
import threading

import mido
import pytest

from assistant.app.config import load_config
from assistant.commands import learn
from assistant.errors import UserError
from assistant.midi.fakeports import fake_ports

from control_messages import cc, note_on, user_dir  # noqa: F401 (user_dir: a fixture)


pytestmark = pytest.mark.usefixtures("user_dir")


def parse_learn(argv):
    parser = argparse.ArgumentParser()
    learn.add_arguments(parser)
    return parser.parse_args(argv)


def test_learn_command_with_message(user_dir, capsys):
    assert learn.run(parse_learn(["accept", "--message", "cc:21"])) == 0
    out = capsys.readouterr().out
    assert 'accept = "cc:21" saved to' in out and "cc:21 was bound to next" in out
    assert load_config().controls.accept == ("cc:21",)
    with pytest.raises(UserError, match="unknown action 'acept': did you mean accept"):
        learn.run(parse_learn(["acept", "--message", "cc:21"]))
    with pytest.raises(UserError, match="--message must be a binding like"):
        learn.run(parse_learn(["accept", "--message", "cc21"]))


def test_learn_command_waits_for_the_next_control(monkeypatch, user_dir):
    ports = fake_ports()
    monkeypatch.setattr(learn, "_open_input", lambda config, backend: ports)

    def play():
        ports.input.deliver(mido.Message("clock"))
        ports.input.deliver(cc(7, 0))
        ports.input.deliver(note_on(38, channel=9))

    timer = threading.Timer(0.05, play)
    timer.start()
    assert learn.run(parse_learn(["end_phrase", "--timeout", "5"])) == 0
    timer.join()
    assert load_config().controls.end_phrase == ("note:38@10",)
    assert ports.closed


def test_learn_command_times_out(monkeypatch):
    monkeypatch.setattr(learn, "_open_input", lambda config, backend: fake_ports())
    with pytest.raises(UserError, match="no CC or note-on reached 'MIDI Assistant In' within 0.2 s"):
        learn.run(parse_learn(["accept", "--timeout", "0.2"]))
