"""midi-assistant doctor: a truthful report, through a real JACK server, and the exit code."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from blocked_import import block_import

from assistant.bench.rig import Peer, clock_schedule, now, wait_for_ports
from assistant.commands.doctor import clock_finding

MS = 1_000_000


def _doctor(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "assistant.cli", "doctor", "--json", *args],
                          capture_output=True, text=True, timeout=60, env=env, cwd=cwd)


def test_the_clock_is_heard_at_its_tempo_or_its_absence_named():
    pulses = [k * 20_833_333 for k in range(48)]  # 120 BPM
    found = clock_finding(pulses, 2, "MIDI Assistant In", 3.0, "midi")
    assert found.status == "ok" and "120.0 BPM" in found.detail and "2 other messages" in found.detail
    missing = clock_finding([], 0, "MIDI Assistant In", 3.0, "midi")
    assert missing.status == "warn" and "send MIDI clock to 'MIDI Assistant In'" in missing.fix


def test_doctor_on_jack_reports_ports_models_and_the_clock(jack_server, tmp_path):
    """Our ports are created on the running server, a peer's clock at 120 BPM is heard, the
    shipped models check out: ready to play (exit 0)."""
    env = {**os.environ, "JACK_DEFAULT_SERVER": jack_server.name, "MIDI_ASSISTANT_CONFIG_DIR": str(tmp_path)}
    os.environ["JACK_DEFAULT_SERVER"] = jack_server.name
    result = {}
    proc = threading.Thread(target=lambda: result.update(done=_doctor("--backend", "jack", "--listen", "4", env=env)))
    proc.start()
    peer = None
    try:
        wait_for_ports(["MIDI Assistant In", "MIDI Assistant Out", "MIDI Assistant Accepted"])
        peer = Peer("doctor-peer", "MIDI Assistant In",
                    {"out": "MIDI Assistant Out", "accepted": "MIDI Assistant Accepted"})
        peer.sender.add(clock_schedule(now() + 50 * MS, 120.0, 4))
        proc.join(30)
    finally:
        if peer is not None:
            peer.close()
    done = result["done"]
    report = json.loads(done.stdout)
    by_topic = {f["topic"]: f for f in report["findings"]}
    assert done.returncode == 0 and report["ready_to_play"], done.stdout + done.stderr
    assert by_topic["our ports"]["status"] == "ok" and "jack" in by_topic["our ports"]["detail"]
    assert by_topic["backend jack"]["status"] == "ok"
    clock = by_topic["MIDI clock"]
    assert clock["status"] == "ok" and "120.0 BPM" in clock["detail"], clock
    assert by_topic["melody model"]["status"] == by_topic["harmony model"]["status"] == "ok"
    assert "sha256" in by_topic["melody model"]["detail"]


def test_a_broken_model_makes_doctor_say_so_and_exit_2(tmp_path):
    bad = tmp_path / "melody.onnx"
    bad.write_bytes(b"not a model")
    (tmp_path / "melody.md").write_text("| melody.onnx | " + "0" * 64 + " |\n")
    done = _doctor("--listen", "0", "--set", f"model.melody={bad}",
                   env={**os.environ, "MIDI_ASSISTANT_CONFIG_DIR": str(tmp_path)})
    report = json.loads(done.stdout)
    melody = next(f for f in report["findings"] if f["topic"] == "melody model")
    assert done.returncode == 2 and not report["ready_to_play"]
    assert melody["status"] == "fail" and "corrupt" in melody["detail"] and "card" in melody["fix"]


@pytest.mark.parametrize("source", ["midi", "link"])
def test_link_is_reported_and_fails_only_where_the_config_asks_for_it(monkeypatch, source):
    from assistant.app.config import load_config
    from assistant.commands.doctor import FAIL, INFO, check_link

    block_import(monkeypatch, "link")
    findings = []
    check_link(load_config(None, {"clock.source": source}), findings)
    assert len(findings) == 1 and findings[0].topic == "Ableton Link"
    assert findings[0].status == (FAIL if source == "link" else INFO)
    assert "pip install 'midi-assistant[link]'" in findings[0].fix
