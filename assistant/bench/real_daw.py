"""``bench --daw ardour``: where a real DAW records our answers.

Ardour (its headless Lua session tool, ``ardour7-lua``) runs on a JACK dummy server
of ours in its default setup: the master bus on the system outputs, its latency
compensation on. A "Player" track plays phrases into "MIDI Assistant In" together
with Ardour's MIDI clock; the assistant (``midi-assistant run`` in its own process,
the shipped defaults but for the phrase settings of the e2e rig) answers on "MIDI
Assistant Out", which a record-armed "Answer" track records. Ardour sends its
tracks' notes ahead of its clock by its output latency and records what comes in
that much earlier, so this is the check that the assistant's learnt alignment
(:mod:`assistant.live.alignment`) puts what it sends on the DAW's grid.

Judged: each answer's first recorded note against its bar line, in samples of
Ardour's own timeline (target: within 2 ms). Ardour 7.3 sometimes kills the JACK
server while it creates or loads a session (fixed in Ardour 8): those steps are
retried on a fresh server, the recording never is.

Runs on the caller's thread; Ardour and the assistant are child processes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import mido

from ..errors import UserError
from .figures import p50_p99
from .jack_server import start_dummy_jack
from .rig import PHRASE, start_assistant, wait_for_ports

LUA_TOOLS = ("ardour8-lua", "ardour7-lua")
SAMPLE_RATE = 48000
BPM = 120
BEAT_SAMPLES = SAMPLE_RATE * 60 // BPM
BAR_SAMPLES = 4 * BEAT_SAMPLES
FIRST_PHRASE_BAR = 2  # bars count from 1; bar 1 lets the clock settle
CYCLE_BARS = 4  # phrase (2 bars), a bar's rest, the answer's bar
SETUP_TRIES = 5
ARDOUR_TICKS_PER_BEAT = 1920  # Temporal::ticks_per_beat
# the e2e rig's phrase settings: a phrase ends a beat after its last note, the answer
# (one bar) starts on the next bar line
SETTINGS = {"suggest.mode": "call", "suggest.answer_on": "bar", "suggest.phrase_end_beats": 1.0,
            "suggest.bars": 1, "ports.input": "MIDI Assistant In", "ports.output": "MIDI Assistant Out"}


class SetupFailed(Exception):
    """Ardour or its JACK server fell over before the transport rolled (retried)."""


@dataclass
class Recording:
    """What Ardour recorded: (pitch, session sample) per note, and its latencies."""
    player: list[tuple[int, int]]
    answer: list[tuple[int, int]]
    info: dict[str, int]


def find_lua_tool() -> str:
    for tool in LUA_TOOLS:
        path = shutil.which(tool)
        if path:
            return path
    raise UserError("bench --daw ardour needs Ardour's Lua session tool (ardour7-lua or ardour8-lua): "
                    "install Ardour (Debian: apt-get install ardour)")


def answer_bars(phrases: int) -> list[int]:
    """The bar (from 1) each phrase's answer is due on."""
    return [FIRST_PHRASE_BAR + k * CYCLE_BARS + 3 for k in range(phrases)]


def write_phrases(path: Path, phrases: int) -> None:
    """The rig's two-bar phrase at bar 2, 6, 10, ... as a MIDI file (480 per quarter)."""
    tpq = 480
    scale = tpq // 12  # our ticks: 12 per quarter
    events = []
    for k in range(phrases):
        start = (FIRST_PHRASE_BAR - 1 + k * CYCLE_BARS) * 4 * tpq
        for n in PHRASE:
            events.append((start + n.onset * scale, mido.Message("note_on", note=n.pitch, velocity=n.velocity)))
            events.append((start + n.end * scale - 1, mido.Message("note_off", note=n.pitch, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1].type == "note_on"))
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(BPM)),
                            mido.MetaMessage("time_signature", numerator=4, denominator=4)])
    last = 0
    for at, msg in events:
        track.append(msg.copy(time=at - last))
        last = at
    track.append(mido.MetaMessage("end_of_track", time=4 * tpq))
    midi = mido.MidiFile(ticks_per_beat=tpq, type=0)
    midi.tracks.append(track)
    midi.save(path)


def add_region(session_dir: Path, name: str, midi_path: Path) -> None:
    """Put ``midi_path`` on the Player track at the session's start, by editing the
    saved session (the Lua tool cannot import MIDI headless): an SMF source in the
    session's MIDI folder, its whole-file region and a region on Player's playlist."""
    folder = session_dir / "interchange" / session_dir.name / "midifiles"
    shutil.copy(midi_path, folder / "phrases.mid")
    midi = mido.MidiFile(midi_path)
    ticks = round(midi.length * BPM / 60 * ARDOUR_TICKS_PER_BEAT)
    state = session_dir / f"{name}.ardour"
    tree = ET.parse(state)
    root = tree.getroot()
    next_id = max(int(e.get("id")) for e in root.iter() if (e.get("id") or "").isdigit()) + 1000
    source, whole, region = (str(next_id + k) for k in range(3))
    ET.SubElement(root.find("Sources"), "Source", {"name": "phrases.mid", "type": "midi", "id": source,
                                                   "flags": "Writable,CanRename", "natural-position": "a0",
                                                   "origin": str(midi_path)})
    common = {"muted": "0", "opaque": "1", "locked": "0", "video-locked": "0", "import": "1", "external": "0",
              "sync-marked": "0", "left-of-split": "0", "right-of-split": "0", "hidden": "0",
              "position-locked": "0", "valid-transients": "0", "start": "b0", "length": f"b{ticks}@b0",
              "sync-position": "b0", "ancestral-start": "b0", "ancestral-length": "b0@b0", "stretch": "1",
              "shift": "1", "layering-index": "0", "tags": "", "contents": "0", "type": "midi",
              "first-edit": "nothing", "source-0": source, "master-source-0": source}
    ET.SubElement(root.find("Regions"), "Region", {**common, "name": "phrases", "automatic": "1",
                                                   "whole-file": "1", "id": whole})
    playlists = [p for p in root.find("Playlists") if p.get("name") == "Player"]
    if not playlists:
        raise RuntimeError(f"{state}: no Player playlist")
    ET.SubElement(playlists[0], "Region", {**common, "name": "phrases.1", "automatic": "0",
                                           "whole-file": "0", "id": region})
    root.set("id-counter", str(next_id + 10))
    tree.write(state, encoding="UTF-8", xml_declaration=True)


def read_results(path: Path) -> Recording:
    player, answer, info = [], [], {}
    for line in path.read_text().splitlines():
        words = line.split()
        if words and words[0] == "note":
            (player if words[1] == "Player" else answer).append((int(words[2]), int(words[4])))
        elif len(words) == 2:
            info[words[0]] = int(words[1])
    return Recording(sorted(player, key=lambda n: n[1]), sorted(answer, key=lambda n: n[1]), info)


def judge(recording: Recording, phrases: int) -> dict:
    """Each answer's first recorded note against the bar line it is due on (ms; > 0: late)."""
    answers = []
    for k, bar in enumerate(answer_bars(phrases)):
        line = (bar - 1) * BAR_SAMPLES
        # what was recorded from half a bar before the answer's bar line to the next phrase
        window = [s for _, s in recording.answer if line - BAR_SAMPLES // 2 <= s < line + BAR_SAMPLES]
        entry = {"phrase": k, "bar": bar, "notes": len(window)}
        if window:
            entry["first_note_ms"] = round((min(window) - line) * 1000 / SAMPLE_RATE, 3)
        answers.append(entry)
    offsets = [a["first_note_ms"] for a in answers if "first_note_ms" in a]
    played = [s - (FIRST_PHRASE_BAR - 1) * BAR_SAMPLES for _, s in recording.player[:1]]
    return {"answers": answers,
            "answered": len(offsets),
            "first_note_ms": {**p50_p99([abs(o) for o in offsets]), "max": max(map(abs, offsets))}
            if offsets else None,
            "within_2ms": bool(offsets) and len(offsets) == phrases and max(map(abs, offsets)) <= 2.0,
            "player_first_note_ms": round(played[0] * 1000 / SAMPLE_RATE, 3) if played else None,
            "recorded_notes": {"player": len(recording.player), "answer": len(recording.answer)}}


def _lua(tool: str, script: str, args: list[str], server: str, log: Path, timeout: float) -> str:
    """Run one of our Lua scripts with Ardour's tool on JACK server ``server``; its output."""
    with resources.as_file(resources.files(__package__) / script) as path:
        env = {**os.environ, "JACK_DEFAULT_SERVER": server}
        try:
            done = subprocess.run([tool, "-X", str(path), *args], capture_output=True, text=True,
                                  timeout=timeout, env=env, stdin=subprocess.DEVNULL)
            out = done.stdout + done.stderr
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace") + "\n[timed out]"
    log.write_text(out)
    return out


def _server_alive(server) -> bool:
    if server.proc.poll() is not None:
        return False
    return subprocess.run(["jack_wait", "-s", server.name, "-c"], capture_output=True,
                          text=True).stdout.find("not running") < 0


def _one_take(tool: str, period: int, phrases: int, model: str | None, overrides: dict, work: Path) -> dict:
    """Set up and record once; raises SetupFailed where Ardour or JACK fell over first."""
    server = start_dummy_jack(period=period, rate=SAMPLE_RATE)
    os.environ["JACK_DEFAULT_SERVER"] = server.name  # for this process's own JACK clients
    assistant = None
    try:
        session, name = work / "session", "bench"
        shutil.rmtree(session, ignore_errors=True)
        out = _lua(tool, "ardour_session.lua", [str(session), name], server.name, work / "session.log", 120)
        if "SETUP_OK" not in out or not _server_alive(server):
            raise SetupFailed("creating the session: " + _reason(out, server))
        write_phrases(work / "phrases.mid", phrases)
        add_region(session, name, work / "phrases.mid")
        client = "midi-assistant"
        assistant = start_assistant(server.name, work, {**SETTINGS, **overrides}, model, client=client)
        wait_for_ports([SETTINGS["ports.input"], SETTINGS["ports.output"]])
        seconds = (answer_bars(phrases)[-1] + 1) * BAR_SAMPLES / SAMPLE_RATE
        results = work / "results.txt"
        results.unlink(missing_ok=True)
        out = _lua(tool, "ardour_roll.lua", [str(session), name, f"{client}:{SETTINGS['ports.input']}",
                                              f"{client}:{SETTINGS['ports.output']}", str(seconds), str(results)],
                   server.name, work / "roll.log", seconds + 90)
        if "ROLL_START" not in out:
            raise SetupFailed("loading the session: " + _reason(out, server))
        # from here on a measurement was taken: reported as it is, never retried
        code = assistant.stop()
        assistant_stats = assistant.stats()
        if "ROLL_DONE" not in out or not results.exists():
            return {"failed": "the recording did not finish: " + _reason(out, server), "assistant_exit": code}
        recording = read_results(results)
        figures = judge(recording, phrases)
        figures["ardour"] = recording.info
        figures["assistant"] = {"exit_code": code, "placement_ms": assistant_stats.get("placement_us", 0) / 1000,
                                "late_events": assistant_stats.get("late_events"),
                                "suggestions": assistant_stats.get("suggestions")}
        figures["jack_server_xruns"] = server.xruns()
        return figures
    finally:
        if assistant is not None:
            assistant.stop()
        server.stop()


def _reason(out: str, server) -> str:
    lines = [l.strip() for l in out.splitlines() if "FAIL" in l or "halted" in l or "rror" in l]
    jack = "its JACK server died" if not _server_alive(server) else "JACK still up"
    return f"{jack}; " + (" | ".join(lines[:2]) or "no SETUP_OK / ROLL_START from the Lua tool")


def ardour_figures(period: int, phrases: int, model: str | None, overrides: dict | None = None) -> dict:
    """The real-DAW scenario at JACK period ``period`` with ``phrases`` phrases; ``overrides``:
    config settings for the assistant beyond :data:`SETTINGS` (as ``run --set``)."""
    tool = find_lua_tool()
    version = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="midi-assistant-daw-"))
    failures = []
    try:
        for attempt in range(1, SETUP_TRIES + 1):
            try:
                started = time.monotonic()
                figures = _one_take(tool, period, phrases, model, overrides or {}, work)
            except SetupFailed as e:
                failures.append(f"attempt {attempt}: {e}")
                continue
            return {"daw": version.splitlines()[0] if version else tool, "period_frames": period,
                    "assistant_overrides": overrides or {},
                    "phrases": phrases, "setup_failures": failures, "seconds": round(time.monotonic() - started, 1),
                    **figures}
        return {"daw": tool, "period_frames": period, "failed": f"no setup in {SETUP_TRIES} tries",
                "setup_failures": failures}
    finally:
        shutil.rmtree(work, ignore_errors=True)
