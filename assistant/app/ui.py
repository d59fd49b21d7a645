"""The terminal UI (rich): reads engine snapshots, sends actions; nothing else.

Runs on the main thread: redraws about ten times a second and reads single keys
from the terminal (:class:`assistant.app.keyreader.KeyReader`: cbreak mode on POSIX,
restored on exit, also after an exception; the console on Windows).
It never touches engine state directly: ``engine.snapshot()`` to read,
``engine.post(action)`` to act.
"""

from __future__ import annotations

from rich.console import Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..music.keys import NAMES
from .keyreader import KeyReader
from ..music import TICKS_PER_QUARTER, Note


def pitch_name(p: int) -> str:
    return f"{NAMES[p % 12]}{p // 12 - 1}"


def piano_roll(notes: list[Note], start: int | None = None, width: int = 64, ticks_per_cell: int = 3) -> str:
    """A small text piano roll: one row per pitch (high to low), one column per sixteenth."""
    if not notes:
        return "(no suggestion)"
    origin = start if start is not None else min(n.onset for n in notes)
    origin -= origin % TICKS_PER_QUARTER
    pitches = range(max(n.pitch for n in notes), min(n.pitch for n in notes) - 1, -1)
    rows = []
    for p in pitches:
        cells = [" "] * width
        for n in notes:
            if n.pitch != p:
                continue
            a = (n.onset - origin) // ticks_per_cell
            b = max(a + 1, (n.end - origin) // ticks_per_cell)
            for c in range(max(0, a), min(width, b)):
                cells[c] = "█" if c == a else "▬"
        bar = "".join("|" if (i * ticks_per_cell) % (4 * TICKS_PER_QUARTER) == 0 and cells[i] == " " else cells[i]
                      for i in range(width))
        rows.append(f"{pitch_name(p):>4} {bar}")
    return "\n".join(rows)


CHORD_MARKS = {"decided": "", "waiting": "?", "following": "="}
"""After a chord's name: ``?`` the beat waits for the player's note (the chord shown is the
one planned without it), ``=`` it is the chord the player holds; nothing: decided ahead."""


def upcoming_chords(upcoming: list[tuple[int, str, str]], meter) -> str:
    """The next two bars of chords as ``| C? . G7? . | Am F= . . |``: a dot repeats the chord
    as it was chosen, the marks are ``CHORD_MARKS``."""
    if not upcoming:
        return ""
    cells, last, bar = [], None, None
    for tick, name, how in upcoming:
        this_bar = (tick - meter.start) // meter.bar_ticks
        if this_bar != bar:
            cells.append("|")
            bar = this_bar
        cell = name + CHORD_MARKS.get(how, "")
        cells.append("." if cell == last else cell)
        last = cell
    return " ".join(cells + ["|"])


def current_chord(name: str | None, how: str | None) -> str:
    if name is None:
        return "-"
    return name + {"waiting": " (waits for your note)", "following": " (your chord)"}.get(how or "", "")


def render(snap, config, ports, bindings: list[tuple[str, str]]) -> Group:
    s = snap.settings
    status = Table.grid(padding=(0, 2))
    meter = config.clock.meter
    beat_ticks = 4 * TICKS_PER_QUARTER // meter.denominator
    bar, in_bar = divmod(int(snap.tick), meter.bar_ticks)
    status.add_row("ports", ", ".join(f"{k}: {v}" for k, v in ports.names().items()), "backend", ports.backend)
    status.add_row("clock", f"{config.clock.source}  {snap.tempo_bpm:6.1f} BPM  {config.clock.time_signature}",
                   "transport", "playing" if snap.running else "stopped")
    key = "-" if not snap.key else f"{snap.key} ({snap.key_confidence:.0%})"
    status.add_row("position", f"bar {bar + 1} beat {in_bar // beat_ticks + 1}" if snap.running else "-",
                   "key", key)
    status.add_row("held", snap.held_chord or "-", "chord", current_chord(snap.chord, snap.chord_state))
    status.add_row("upcoming", upcoming_chords(snap.upcoming, meter) or "-", "", "? waits for you  = your chord")
    status.add_row("mode", f"{s.mode_name}  audition {'on' if s.audition else 'off'}  scale lock {s.scale_lock}",
                   "accepted", str(snap.accepted_count))
    lat = "-" if snap.last_latency_ms is None else f"{snap.last_latency_ms:.1f} ms (p99 {snap.p99_latency_ms:.1f})"
    status.add_row("suggest", f"T {s.temperature:.2f}  top-p {s.top_p:.2f}  {s.bars} bars  {s.alternatives} alts",
                   "latency", lat)
    h = snap.health
    if h:
        clock = (f"  pulses repeated {h['pulses_repeated']} lost {h['pulses_lost']}"
                 if "pulses_lost" in h else "")
        status.add_row("input", f"{h['messages_in']} in  junk {h['junk_dropped']}  repeats {h['repeats_dropped']}"
                       f"  overflow {h['ring_overflow']}{clock}", "errors", str(h["errors"]))
        if "placement_us" in h:
            status.add_row("offset", f"DAW alignment {h['placement_us'] / 1000:+.1f} ms (learnt)  "
                           f"out port {h['port_offset_us'] / 1000:+.1f} ms (config)", "", "")
    n = len(snap.alternatives)
    current = snap.alternatives[snap.selected] if n else []
    roll = piano_roll(current, snap.suggestion_start)
    title = f"suggestion {snap.selected + 1}/{n}" if n else "suggestion"
    keys = "  ".join(f"[bold]{k}[/] {a.replace('_', ' ')}" for a, k in bindings)
    messages = "\n".join(snap.messages[-3:]) or " "
    return Group(Panel(status, title="midi-assistant"), Panel(Text(roll), title=title),
                 Panel(Text(messages), title="log"), Text.from_markup(keys))


def run_ui(engine, config, ports, stop) -> None:
    """Main-thread loop until quit, ``stop`` set, or the engine ends."""
    from .controls import ControlMap

    controls = ControlMap.from_config(config)
    bindings = [(a, k) for a in ("accept", "next", "previous", "regenerate", "clear", "mode", "harmony",
                                 "audition", "scale_lock", "end_phrase", "panic", "quit")
                for k in [getattr(config.keys, a)[0] if getattr(config.keys, a) else None] if k]
    with KeyReader() as keys, Live(render(engine.snapshot(), config, ports, bindings), refresh_per_second=10,
                                   screen=False, transient=False) as live:
        while not stop.is_set() and engine.alive:
            key = keys.read(0.1)
            if key:
                action = controls.action_for_key(key)
                if action == "quit":
                    break
                if action:
                    engine.post(action)
            live.update(render(engine.snapshot(), config, ports, bindings))
