"""``midi-assistant demo``: the real engine on a built-in phrase, no MIDI system needed.

Builds the same engine as ``run`` (capture, generator, planner, scheduler,
session) on in-process ports and the internal clock, plays a two-bar phrase into
it in real time, waits for the call-and-response answer, accepts it, and prints
the answer as a piano roll with its latency. It writes the phrase and the answer
to a MIDI file; with ``--harmony`` chords play along (mode call+harmony) and are
printed and written too. Main thread; about ten seconds at the default tempo.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import mido

from ..userfiles import check_writable_folder
from ..music import Note

# "Ah vous dirai-je, maman" opening, 4/4, eighth-note grid (ticks: 12 to a quarter)
PHRASE = [Note(o, d, p, v) for o, d, p, v in [
    (0, 12, 60, 90), (12, 12, 60, 80), (24, 12, 67, 92), (36, 12, 67, 80),
    (48, 12, 69, 94), (60, 12, 69, 82), (72, 24, 67, 96),
    (96, 12, 65, 88), (108, 12, 65, 78), (120, 12, 64, 86), (132, 12, 64, 76),
    (144, 6, 62, 84), (150, 6, 64, 74), (156, 12, 62, 80), (168, 24, 60, 92),
]]


def add_arguments(p) -> None:
    p.add_argument("-o", "--output", help="MIDI file to write (default: demo.mid in a temp folder)")
    p.add_argument("--bpm", type=float, default=120.0, help="tempo (default 120)")
    p.add_argument("--bars", type=int, default=2, help="bars of answer (default 2)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--model", help="melody model (.onnx); default models/melody.onnx")
    p.add_argument("--harmony", action="store_true",
                   help="chords along, on the beat (mode call+harmony): printed and written to their own track")
    p.add_argument("--wav", metavar="FILE", help="also render the phrase, the answer and the chords to this WAV file")
    from ..app.runner import add_audio_arguments

    add_audio_arguments(p, "play the phrase, the answer and the chords through the audio output as they happen")


def play_phrase(engine, ports, clock, phrase: list[Note], start_tick: int) -> None:
    """Deliver note-ons and offs into the input at their times (main thread, sleeping between)."""
    events = []
    for n in phrase:
        events.append((n.onset + start_tick, 1, mido.Message("note_on", note=n.pitch, velocity=n.velocity)))
        events.append((n.end + start_tick, 0, mido.Message("note_off", note=n.pitch, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    for tick, _, msg in events:
        delay = (clock.ns_at(tick) - time.perf_counter_ns()) / 1e9
        if delay > 0:
            time.sleep(delay)
        ports.input.deliver(msg)


def received_notes(sent: list[tuple[mido.Message, int]], clock, channel: int | None = None) -> list[Note]:
    """Pair what the engine sent back (on ``channel``, or all) into notes, in ticks of the clock."""
    held: dict[int, tuple[int, int]] = {}
    notes = []
    for msg, ns in sent:
        if msg.type not in ("note_on", "note_off") or (channel is not None and msg.channel != channel):
            continue
        tick = round(clock.tick_at(ns))
        if msg.type == "note_on" and msg.velocity > 0:
            held[msg.note] = (tick, msg.velocity)
        elif msg.note in held:
            onset, vel = held.pop(msg.note)
            notes.append(Note(onset, max(1, tick - onset), msg.note, vel))
    return sorted(notes, key=lambda n: n.onset)


def run(args) -> int:
    from ..app.config import load_config
    from ..midi.fakeports import fake_ports
    from ..midi.midifile import conductor_track, notes_to_track
    from ..music import Meter
    from ..midi.ports import PortNames
    from ..app.runner import audio_overrides, build_engine, open_audio
    from ..app.ui import piano_roll

    out_dir = Path(tempfile.mkdtemp(prefix="midi-assistant-demo-"))
    output = Path(args.output) if args.output else out_dir / "demo.mid"
    check_writable_folder(output, args.wav)
    config = load_config(None, {"clock.source": "internal", "clock.bpm": args.bpm,
                                "suggest.mode": "call+harmony" if args.harmony else "call",
                                "suggest.bars": args.bars, "suggest.answer_on": "bar",
                                "model.melody": args.model or "", "session.folder": str(out_dir / "sessions"),
                                "suggest.phrase_end_beats": 1.0, "audio.play_input": True,
                                **audio_overrides(args)})
    audio = open_audio(config, say=lambda text: print(text, file=sys.stderr))
    ports = fake_ports(PortNames())
    engine = build_engine(config, ports, seed=args.seed, audio=audio)
    clock = engine.clock
    engine.start()
    try:
        beat_s = 60.0 / args.bpm
        first_bar = int(clock.tick_at(time.perf_counter_ns())) // 48 * 48 + 48
        print(f"playing a 2-bar phrase at {args.bpm:g} BPM; the answer follows at the next bar...", file=sys.stderr)
        play_phrase(engine, ports, clock, PHRASE, first_bar)
        phrase_end = first_bar + PHRASE[-1].end
        answer_end = (phrase_end // 48 + 2 + args.bars) * 48
        time.sleep(max(0.0, (clock.ns_at(answer_end) - time.perf_counter_ns()) / 1e9) + beat_s / 4)
        answer = received_notes(ports.output.sent, clock, config.suggest.channel - 1)
        chords = received_notes(ports.output.sent, clock, config.suggest.harmony_channel - 1)
        engine.post("accept")
        time.sleep(0.05)
    finally:
        engine.stop()
        if audio is not None:
            audio.close()
    if not answer:
        print("demo: no answer arrived (see the log above)", file=sys.stderr)
        return 1
    print(piano_roll(answer, width=16 * args.bars))
    if args.harmony:
        from ..music.harmony import chord_name, chord_of_pitches

        by_onset: dict[int, list[int]] = {}
        for n in chords:
            by_onset.setdefault(n.onset, []).append(n.pitch)
        line = " ".join(f"{(t - first_bar) // 48 + 1}:{(t % 48) // 12 + 1} {chord_name(chord_of_pitches(p))}"
                        for t, p in sorted(by_onset.items()))
        print(f"chords (bar:beat): {line or 'none'}")
    lat = engine.latencies_ms
    if lat:
        print(f"trigger to first notes of all {config.suggest.alternatives} alternatives ready: "
              f"{lat[0]:.1f} ms", file=sys.stderr)
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(conductor_track(round(60e6 / args.bpm), [Meter(0)], 480))
    shift = first_bar
    mid.tracks.append(notes_to_track([Note(n.onset, n.duration, n.pitch, n.velocity) for n in PHRASE], 480, 0,
                                     "phrase"))
    mid.tracks.append(notes_to_track([Note(n.onset - shift, n.duration, n.pitch, n.velocity) for n in answer],
                                     480, 0, "answer"))
    if args.harmony:
        mid.tracks.append(notes_to_track([Note(n.onset - shift, n.duration, n.pitch, n.velocity) for n in chords],
                                         480, 1, "chords"))
    mid.save(str(output))
    print(f"wrote {output} (phrase and answer); session capture in {out_dir / 'sessions'}", file=sys.stderr)
    if args.wav:
        from ..audio.render import render_wav

        print(render_wav(mid, args.wav, config.audio.soundfont, say=lambda t: print(t, file=sys.stderr)),
              file=sys.stderr)
    return 0

