"""``midi-assistant ports`` (assistant.commands.ports): the lists a backend gives, as shown."""

from assistant import cli


def test_ports_lists_what_the_backend_sees(monkeypatch, capsys):
    from assistant.midi import backends

    monkeypatch.setattr(backends, "list_ports", lambda backend: backends.PortList("jack", ["a:in"], []))
    assert cli.main(["ports", "--backend", "jack"]) == 0
    assert capsys.readouterr().out.splitlines() == ["backend: jack", "inputs (we can read from):", "  a:in",
                                                    "outputs (we can write to):", "  (none)"]
