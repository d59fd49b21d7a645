"""``midi-assistant doctor [--json] [--listen S]``: what works on this machine, and what to fix.

One line per finding: the config file in use, the models and their sha256, each MIDI
backend and the ports it sees, the native JACK client, whether our own ports can be
created, whether MIDI clock arrives on our input (listening ``--listen`` seconds) and at
what tempo, the audio output and a SoundFont. A line that fails names its fix.

Exit code 0 when everything needed to play is there (the config, both models, a MIDI
backend and our ports), 2 when not. Main thread; the ports it opens are closed again.
"""

from __future__ import annotations

import json
import queue
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import UserError

OK, FAIL, WARN, INFO = "ok", "fail", "warn", "info"  # FAIL: needed to play; WARN: optional, not working


@dataclass
class Finding:
    topic: str
    status: str
    detail: str
    fix: str = ""


def add_arguments(p) -> None:
    p.add_argument("--config", help="preset name (configs/NAME.toml) or path of a TOML file, as for run")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override, as for run")
    p.add_argument("--backend", help="MIDI backend for our ports: alsa, jack, coremidi, windows (default: the config's)")
    p.add_argument("--listen", type=float, default=3.0, metavar="SECONDS",
                   help="how long to listen for MIDI clock on our input (default 3; 0: do not open our ports)")
    p.add_argument("--json", action="store_true", help="the findings as one JSON object")


def run(args) -> int:
    findings: list[Finding] = []
    config = check_config(args, findings)
    if config is not None:
        check_models(config, findings)
    check_backends(findings)
    check_native_jack(findings)
    if config is not None and args.listen > 0 and not any(f.topic == "MIDI" for f in findings):
        check_our_ports(config, args.backend, args.listen, findings)
    check_audio(findings)
    check_soundfont(findings)
    check_link(config, findings)
    ready = not any(f.status == FAIL for f in findings)
    if args.json:
        print(json.dumps({"ready_to_play": ready, "findings": [asdict(f) for f in findings]}))
    else:
        for f in findings:
            print(f"{f.status:<5} {f.topic:<16} {f.detail}" + (f"\n{'':<22}fix: {f.fix}" if f.fix else ""))
        print("ready to play" if ready else "not ready to play: fix the lines marked fail")
    return 0 if ready else 2


def check_config(args, findings: list[Finding]):
    from ..app.config import load_config, parse_overrides
    from ..userfiles import config_dir

    try:
        config = load_config(args.config, parse_overrides(args.set))
    except UserError as err:
        findings.append(Finding("config", FAIL, str(err), "correct the file or the --set value it names"))
        return None
    bindings = config_dir() / "bindings.toml"
    used = [f"preset {args.config}" if args.config else "the defaults"]
    if bindings.exists():
        used.append(f"bindings {bindings}")
    if args.set:
        used.append("--set " + " ".join(args.set))
    findings.append(Finding("config", OK, ", ".join(used) + f"; user folder {config_dir()}"))
    return config


def check_models(config, findings: list[Finding]) -> None:
    from ..live.chord_model import DEFAULT_HARMONY_MODEL
    from ..live.model import DEFAULT_MELODY_MODEL
    from ..live.model_file import sha256_of, verify_model_file

    for topic, path in (("melody model", config.model.melody or DEFAULT_MELODY_MODEL),
                        ("harmony model", config.model.harmony or DEFAULT_HARMONY_MODEL)):
        path = Path(path)
        try:
            verify_model_file(path)
        except UserError as err:
            findings.append(Finding(topic, FAIL, str(err).split("; ")[0], str(err).split("; ", 1)[-1]))
            continue
        findings.append(Finding(topic, OK, f"{path} sha256 {sha256_of(path)[:16]}... as its card states"))


def check_backends(findings: list[Finding]) -> None:
    from ..midi import backends

    compiled = backends._compiled_apis()
    working = 0
    for name, api in backends.BACKEND_APIS.items():
        if api not in compiled:
            continue
        try:
            _, inputs, outputs = backends.probe(name)
        except UserError as err:
            text = str(err)
            findings.append(Finding(f"backend {name}", WARN, text.split(": ", 1)[0], text.split(": ", 1)[-1]))
            continue
        working += 1
        shown = lambda ports: ", ".join(ports[:6]) + (f" (+{len(ports) - 6})" if len(ports) > 6 else "") or "none"
        findings.append(Finding(f"backend {name}", OK, f"starts; inputs: {shown(inputs)}; outputs: {shown(outputs)}"))
    if not working:
        findings.append(Finding("MIDI", FAIL, "no MIDI backend starts on this machine",
                                "start a JACK server (`jackd -d dummy -r 48000 -p 64`) or give it an ALSA "
                                "sequencer (/dev/snd/seq); on macOS and Windows the system's MIDI service"))


def check_native_jack(findings: list[Finding]) -> None:
    if not sys.platform.startswith("linux"):
        findings.append(Finding("native JACK", INFO, "Linux only: on this platform JACK goes through python-rtmidi"))
        return
    from ..midi import jackmidi

    reason = jackmidi.available()
    if reason is None:
        findings.append(Finding("native JACK", OK, f"our one-client JACK module is built ({jackmidi.library_path()})"))
    else:
        findings.append(Finding("native JACK", WARN, f"not available: {reason}",
                                "install gcc and the Python headers, then reinstall (`pip install -e .`); "
                                "meanwhile JACK goes through python-rtmidi, one client per port"))


def check_our_ports(config, backend: str | None, listen_s: float, findings: list[Finding]) -> None:
    """Open our ports as ``run`` would (same names, so a DAW's saved connections apply) and
    listen for MIDI clock on the input."""
    from ..app.runner import port_names
    from ..midi.ports import open_ports

    p = config.ports
    names = port_names(p, "MIDI Assistant")
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    try:
        ports = open_ports(backend or p.backend or None, names, attach=p.attach_flag, inbox=inbox,
                           jack_client=p.jack_client)
    except UserError as err:
        findings.append(Finding("our ports", FAIL, str(err).split(": ", 1)[0], str(err).split(": ", 1)[-1]))
        return
    try:
        findings.append(Finding("our ports", OK, f"created on {ports.backend}: "
                                + ", ".join(f"{k} {v!r}" for k, v in ports.names().items())))
        pulses, other = [], 0
        end = time.monotonic() + listen_s
        while (left := end - time.monotonic()) > 0:
            try:
                msg, ns = inbox.get(timeout=left)
            except queue.Empty:
                break
            if msg.type == "clock":
                pulses.append(ns)
            else:
                other += 1
    finally:
        ports.close()
    findings.append(clock_finding(pulses, other, p.input, listen_s, config.clock.source))


def clock_finding(pulses: list[int], other: int, port: str, listen_s: float, source: str) -> Finding:
    """What the input heard while listening: the clock's tempo (from the median pulse gap) or its absence."""
    heard = f"{other} other messages" if other else "nothing else"
    if len(pulses) < 3:
        status = WARN if source == "midi" else INFO
        fix = (f"in your DAW, send MIDI clock to {port!r} and start its transport, or play with "
               "--clock internal" if source == "midi" else "")
        return Finding("MIDI clock", status, f"no clock on {port!r} in {listen_s:g} s ({heard})", fix)
    gap = statistics.median(b - a for a, b in zip(pulses, pulses[1:]))
    bpm = 60e9 / (24 * gap) if gap > 0 else 0.0
    return Finding("MIDI clock", OK, f"{len(pulses)} pulses on {port!r} in {listen_s:g} s: {bpm:.1f} BPM ({heard})")


def check_audio(findings: list[Finding]) -> None:
    unused = "needed only for --audio (MIDI output works without it)"
    try:
        import sounddevice as sd
    except OSError as err:  # the module is there, the PortAudio library is not
        findings.append(Finding("audio", INFO, f"no PortAudio library ({err}); {unused}",
                                "apt-get install libportaudio2 (Debian/Ubuntu), brew install portaudio (macOS)"))
        return
    except ImportError:
        findings.append(Finding("audio", INFO, f"the sounddevice module is missing; {unused}",
                                "pip install sounddevice"))
        return
    try:
        device = sd.query_devices(kind="output")
    except Exception as err:  # PortAudio raises its own error types
        findings.append(Finding("audio", INFO, f"no audio output device ({type(err).__name__}: {err}); {unused}",
                                "connect or enable an output device (--wav renders to a file without one)"))
        return
    findings.append(Finding("audio", OK, f"default output {device['name']!r} "
                                         f"({device['default_samplerate']:.0f} Hz), for --audio"))


def check_soundfont(findings: list[Finding]) -> None:
    from ..audio.soundfont import SYSTEM_SOUNDFONTS, WHERE_TO_GET_ONE, find_soundfont
    from ..audio.voices import AUDIO_EXTRA_HINT

    found = find_soundfont()
    try:
        import tinysoundfont  # noqa: F401
        synth = True
    except ImportError:
        synth = False
    if found is None:
        findings.append(Finding("SoundFont", INFO, "none at the usual places (" + ", ".join(SYSTEM_SOUNDFONTS[:2])
                                + "): --audio and --wav play a small built-in voice", WHERE_TO_GET_ONE))
    elif not synth:
        findings.append(Finding("SoundFont", INFO, f"{found}, but the SoundFont synth is not installed: --audio "
                                "and --wav play a small built-in voice", AUDIO_EXTRA_HINT))
    else:
        findings.append(Finding("SoundFont", OK, f"{found}, played by tinysoundfont for --audio and --wav"))


def check_link(config, findings: list[Finding]) -> None:
    """Whether Ableton Link can be the clock: a failure only when the config asks for it."""
    from ..clock.link_clock import LINK_EXTRA_HINT

    wanted = config is not None and config.clock.source == "link"
    try:
        import link  # noqa: F401
    except ImportError:
        findings.append(Finding("Ableton Link", FAIL if wanted else INFO,
                                "the link extra is not installed" + ("" if wanted else "; needed only for --clock link"),
                                LINK_EXTRA_HINT))
        return
    findings.append(Finding("Ableton Link", OK, "LinkPython-extern is installed, for --clock link"))
