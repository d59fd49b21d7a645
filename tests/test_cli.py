"""The command (assistant.cli): the subcommand table, imports only for the one chosen, and a
UserError as one line with exit code 2."""

import importlib
import subprocess
import sys

import pytest

from assistant import cli
from assistant.errors import UserError


def test_every_subcommand_module_has_the_two_functions_the_table_needs():
    for name, (module_name, help_text) in cli.SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        assert callable(module.add_arguments) and callable(module.run), name
        assert help_text and "\n" not in help_text


def test_help_lists_every_subcommand_and_no_command_is_exit_2(capsys):
    assert cli.main([]) == 2
    shown = capsys.readouterr().out
    assert all(name in shown for name in cli.SUBCOMMANDS)


def test_choosing_run_imports_neither_training_nor_benchmarks():
    code = ("import sys; from assistant import cli; cli.build_parser('run'); "
            "print(sorted(m for m in sys.modules if m.startswith(('torch', 'music21', 'assistant.train', "
            "'assistant.bench', 'assistant.evaluation'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_user_error_is_one_line_naming_the_command_and_exit_2(monkeypatch, capsys):
    def fail(args):
        raise UserError("no MIDI input port matches 'x': give an existing port name")

    monkeypatch.setattr(importlib.import_module("assistant.commands.ports"), "run", fail)
    assert cli.main(["ports"]) == 2
    err = capsys.readouterr().err
    assert err == "midi-assistant ports: error: no MIDI input port matches 'x': give an existing port name\n"


def test_ctrl_c_is_exit_130(monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module("assistant.commands.ports"), "run", interrupted)
    assert cli.main(["ports"]) == 130


@pytest.mark.parametrize("name", ["run", "demo", "bench", "doctor"])
def test_each_main_subcommand_parses_its_own_help(name, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main([name, "--help"])
    assert done.value.code == 0 and f"usage: midi-assistant {name}" in capsys.readouterr().out
