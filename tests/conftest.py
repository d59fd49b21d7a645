"""Shared fixtures. ``jack_server``: one real JACK server (dummy driver) per test session.

The server runs in realtime mode (jackd's default: the dummy driver lost MIDI in
non-realtime mode), under a name unique to this run so parallel runs and stale
servers never meet; clients find it through ``JACK_DEFAULT_SERVER``. A missing
``jackd`` fails the run under ``CI=true`` and skips the JACK tests elsewhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

JACK_PERIOD = 64
JACK_RATE = 48_000


@dataclass
class JackServer:
    name: str
    pid: int
    period_ns: int
    realtime: bool  # jackd reported realtime mode
    log: Path

    def xruns(self) -> int:
        """XRun lines in the server's log so far: cycles it ran late, or clients that missed one."""
        return self.log.read_text(errors="replace").count("XRun") if self.log.exists() else 0

    def client_name(self, role: str) -> str:
        """A client name never used before on this server (JACK keeps dead clients' names)."""
        return f"{role}-{uuid.uuid4().hex[:8]}"


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the test process dies, even on a crash."""
    try:
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _server_ready(name: str, proc: subprocess.Popen, timeout: float) -> bool:
    jack_wait = shutil.which("jack_wait")
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        if jack_wait:
            r = subprocess.run([jack_wait, "-s", name, "-c"], capture_output=True, text=True, timeout=5)
            if "not running" not in r.stdout and r.returncode == 0:
                return True
        time.sleep(0.05)
    return False


def pytest_configure(config):
    _start_portaudio_without_jack()


def _start_portaudio_without_jack() -> None:
    """Load PortAudio (``sounddevice``) once, before any test JACK server runs and with none
    it can find. PortAudio's JACK host API opens a client on the server it finds at start-up
    and asserts (aborting the process) when it cannot close it at exit, after the tests
    stopped that server; the audio tests use its ALSA side or none."""
    saved = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = f"no-server-for-portaudio-{os.getpid()}"
    try:
        import sounddevice  # noqa: F401
    except (OSError, ImportError):  # no PortAudio: the tests that need it say so
        pass
    finally:
        if saved is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = saved


@contextlib.contextmanager
def _running_jackd():
    """A JACK server (dummy driver) of its own, named for this run; JACK_DEFAULT_SERVER names it
    while it runs."""
    jackd = shutil.which("jackd")
    if jackd is None:
        if os.environ.get("CI") == "true":
            pytest.fail("jackd is not installed, and CI needs it for the JACK tests: apt-get install jackd2")
        pytest.skip("jackd is not installed: JACK integration tests skipped (apt-get install jackd2)")
    name = f"midi-assistant-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    log = Path(tempfile.gettempdir()) / f"{name}.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [jackd, "-n", name, "-d", "dummy", "-r", str(JACK_RATE), "-p", str(JACK_PERIOD)],
            stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
    old = os.environ.get("JACK_DEFAULT_SERVER")
    try:
        if not _server_ready(name, proc, timeout=10):
            text = log.read_text(errors="replace")[-2000:]
            pytest.fail(f"jackd did not start (exit {proc.poll()}); its log:\n{text}")
        os.environ["JACK_DEFAULT_SERVER"] = name
        realtime = "realtime mode" in log.read_text(errors="replace")
        yield JackServer(name, proc.pid, JACK_PERIOD * 1_000_000_000 // JACK_RATE, realtime, log)
    finally:
        if old is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = old
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        assert proc.poll() is not None, "jackd is still running"
        for leftover in Path("/dev/shm").glob(f"*{name}*"):
            leftover.unlink(missing_ok=True)
        log.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def jack_server():
    with _running_jackd() as server:
        yield server


@pytest.fixture
def own_jack_server():
    """A server for one test that stalls it (SIGSTOP): jack2's own mapping of frames to time
    is off for seconds after a stall, for every client that opens then, so such a test
    must not leave the shared server that way for the tests after it."""
    with _running_jackd() as server:
        yield server


# -- a tiny melody network, exported once per session (see tests/tiny_model.py) --------------
@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory):
    from tiny_model import need

    torch = need("torch")
    from assistant.train.export import export_melody
    from assistant.train.melody_net import MelodyNet, NetConfig

    torch.manual_seed(0)
    net = MelodyNet(NetConfig(d_model=32, n_layers=2, n_heads=2, dropout=0.0))
    # random weights are near-uniform; sharpen them so that sampling has something to follow
    with torch.no_grad():
        net.tok.weight.mul_(40)
    path = tmp_path_factory.mktemp("model") / "melody.onnx"
    export_melody(net, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (path.parent / "melody.md").write_text(f"| file | sha256 |\n|---|---|\n| `melody.onnx` | `{digest}` |\n")
    return path
