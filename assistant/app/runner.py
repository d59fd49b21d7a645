"""``midi-assistant run``: build the engine from the config and play.

Opens the ports, chooses the clock (the DAW's MIDI clock, or the internal one),
loads the model, starts the engine, then runs the terminal UI (or, with
``--no-ui``, prints log lines) on the main thread until quit, SIGINT or SIGTERM.
Every exit path stops the engine, which silences every output (note-off for each
sounding note and CC 123) before the ports close.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading

from ..errors import UserError

log = logging.getLogger("assistant")


def add_arguments(p) -> None:
    p.add_argument("--config", help="preset name (configs/NAME.toml) or path of a TOML file")
    p.add_argument("--backend", help="MIDI backend: alsa, jack, coremidi, windows")
    p.add_argument("--attach", action="store_true", help="attach to existing ports by name (loopMIDI, IAC)")
    p.add_argument("--mode", choices=["call", "ghost", "harmony", "call+harmony", "ghost+harmony"],
                   help="call-and-response or ghost suggestions, chord accompaniment, or both")
    p.add_argument("--clock", choices=["midi", "internal", "link"],
                   help="follow the DAW's MIDI clock, keep our own, or join an Ableton Link session")
    p.add_argument("--bpm", type=float, help="tempo of the internal clock")
    p.add_argument("--model", help="melody model (.onnx)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set suggest.bars=4 (repeatable)")
    p.add_argument("--no-ui", action="store_true", help="no terminal UI: log lines on stderr")
    p.add_argument("--seed", type=int, help="random seed (reproducible suggestions)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    p.add_argument("--client-name", default="MIDI Assistant",
                   help="MIDI client name (JACK/ALSA); give each running instance its own")
    p.add_argument("--stats", metavar="PATH", help="write run statistics (JSON) here at exit")
    p.add_argument("--trace-memory", action="store_true",
                   help="trace Python memory (tracemalloc) and add its biggest sites to --stats once a minute")
    add_audio_arguments(p)


def add_audio_arguments(p, play_help: str = "also play the suggestions and chords through the audio output "
                                            "(a General MIDI SoundFont; the audio extra)") -> None:
    p.add_argument("--audio", action="store_true", default=None, help=play_help)
    p.add_argument("--soundfont", metavar="FILE", help="SoundFont (.sf2) to play with (default: a system one)")
    p.add_argument("--audio-device", metavar="NAME", help="audio output device, by name or number; "
                   "'null': render without a device")
    p.add_argument("--audio-input", action="store_true", default=None,
                   help="with --audio: also play what the player plays")


def overrides_from_args(args) -> dict:
    from .config import parse_overrides

    overrides = parse_overrides(args.set)
    for key, value in (("ports.backend", args.backend), ("suggest.mode", args.mode),
                       ("clock.source", args.clock), ("clock.bpm", args.bpm), ("model.melody", args.model)):
        if value is not None:
            overrides[key] = value
    if args.attach:
        overrides["ports.attach"] = True
    overrides.update(audio_overrides(args))
    return overrides


def audio_overrides(args) -> dict:
    """The ``[audio]`` keys given on the command line (``--audio`` and its options)."""
    return {key: value for key, value in (("audio.play", args.audio), ("audio.soundfont", args.soundfont),
                                          ("audio.device", args.audio_device), ("audio.play_input", args.audio_input))
            if value is not None}


def output_lead_ms(config, ports) -> float:
    """``ports.output_lead_ms`` resolved for these open ``ports``; "auto" is, on JACK:

    * our native client: one period. It stamps input and places output on JACK's
      frame clock, so what is planned for a clock pulse's time lands on that frame;
      but the DAW and we feed each other, and JACK breaks such a loop by carrying
      one of the two directions a cycle later, so the DAW gets our messages exactly
      one period late unless they are sent that much early. Measured through the
      dummy driver with a frame-accurate peer and no lead: chords exactly 1.000
      period late at 64, 256 and 1024 frames, p99 - p50 under 0.03 ms.
    * python-rtmidi: 1.5 periods. The DAW's clock pulse reaches us at the start of
      the next period (on average half a period late, so our beat grid lags by that
      much) and what we send goes out at the start of the next period (one more).
      Measured at period 64 without a lead: answers 1.89 ms late on average
      (0.99..2.58 ms, 1.4 periods).

    Elsewhere 0.
    """
    lead = config.ports.output_lead_ms
    if lead != "auto":
        return float(lead)
    if ports.backend != "jack":
        return 0.0
    if getattr(ports, "jack_period_ms", None) is not None:
        return ports.jack_period_ms
    from ..midi.ports import jack_period_ms

    period = jack_period_ms()
    if period is None:
        log.warning("cannot read the JACK period (jack_bufsize); output_lead_ms = 0")
        return 0.0
    return 1.5 * period


def _timed_ahead(ports) -> dict:
    """The scheduler's hand-over time for outputs that place messages at their frame."""
    period = getattr(ports, "jack_period_ms", None)
    if period is None:
        return {}
    from ..midi.jackmidi import hand_over_ahead_ns

    return {"timed_ahead_ns": hand_over_ahead_ns(period)}


def load_accompanist(config, chord_model=None):
    """The accompanist for ``config``, or None (with a logged one-line reason) when the
    chord model cannot be loaded: the assistant then goes on without harmony."""
    from ..live.accompanist import Accompanist
    from ..live.chord_model import ChordModel

    if chord_model is None:
        try:
            chord_model = ChordModel.load(config.model.harmony or None)
        except UserError as err:
            log.warning("harmony is off: %s", err)
            return None
    h = config.harmony
    return Accompanist(chord_model, pattern=h.pattern, low=h.register_low, high=h.register_high, voices=h.voices,
                       react_ms=h.react_ms, follow_chords=h.follow_chords, split=h.split_note)


def build_engine(config, ports, *, seed: int | None = None, model=None, clock=None, chord_model=None, audio=None):
    """The engine for ``config`` on already opened ``ports`` (also used by the demo and tests);
    ``audio``: an :class:`assistant.audio.player.AudioPlayer` that also plays what is sent
    (and, with ``audio.play_input``, what the player plays)."""
    from ..live.alignment import DawAlignment
    from ..live.capture import Capture
    from ..clock import InternalClock
    from ..clock.midi_follower import MidiClockFollower
    from .controls import ControlMap
    from ..live.engine import Engine
    from ..live.state import EngineSettings, parse_mode
    from ..music.harmony import KeyTracker
    from ..music.keys import parse_key_name
    from ..live.model import MelodyModel
    from ..live.planner import Planner
    from ..live.scheduler import Scheduler
    from .session import SessionCapture

    meters = [config.clock.meter]
    follower = None
    if clock is None:
        if config.clock.source == "midi":
            clock = follower = MidiClockFollower(meters=meters, tempo_bpm=config.clock.bpm,
                                                 timing_unsure=getattr(ports, "timing_unsure", None),
                                                 base_shift=getattr(ports, "base_shift", None))
        elif config.clock.source == "link":
            from ..clock.link_clock import LinkClock

            clock = LinkClock(config.clock.bpm, meters, start_stop=config.clock.link_start_stop).start()
        else:
            clock = InternalClock(config.clock.bpm, meters)
            clock.start()
    elif isinstance(clock, MidiClockFollower):
        follower = clock
    s = config.suggest
    if model is None:
        model = MelodyModel.load(config.model.melody or None, warmup=False)
        model.warm_up(alternatives=s.alternatives, bars=s.bars)
    melody_mode, harmony_on = parse_mode(s.mode)
    settings = EngineSettings(mode=melody_mode, harmony=harmony_on, alternatives=s.alternatives, bars=s.bars, temperature=s.temperature,
                              top_p=s.top_p, audition=s.audition, scale_lock=s.scale_lock, answer_on=s.answer_on,
                              stm_weight=config.model.stm_weight)
    capture = Capture(clock, channels=sorted(config.ports.channel_indexes), ignore_channels=(),
                      silence_beats=s.phrase_end_beats, bar_line=s.phrase_end_on_bar)
    outputs = {"out": ports.output, "accepted": ports.accepted, "harmony": ports.outputs.get("harmony", ports.output)}
    input_monitor = None
    if audio is not None:
        from ..audio.tap import tap_outputs

        outputs = tap_outputs(outputs, audio.monitor)
        if config.audio.play_input:
            input_monitor = audio.monitor.post_player
    scheduler = Scheduler(clock, outputs,
                          silence_on_stop=not config.clock.play_when_stopped,
                          lead_ns=round(output_lead_ms(config, ports) * 1e6),
                          hold_ahead_ns=round(config.ports.hold_ahead_ms * 1e6),
                          port_offsets_ns={"out": round(config.ports.output_offset_ms * 1e6),
                                           "accepted": round(config.ports.accepted_offset_ms * 1e6),
                                           "harmony": round(config.ports.harmony_offset_ms * 1e6)},
                          time_base_shift=getattr(ports, "base_shift", None), **_timed_ahead(ports))
    session = SessionCapture(config.session.folder, clock.tempo_bpm, meters,
                             capture_player=config.session.capture_player,
                             accepted_channel=s.accepted_channel - 1,
                             harmony_channel=config.harmony.accepted_channel - 1)
    return Engine(clock=clock, ports=ports, model=model, scheduler=scheduler,
                  controls=ControlMap.from_config(config), session=session, settings=settings,
                  capture=capture, planner=Planner.from_config(config, seed), suggestion_channel=s.channel - 1,
                  accepted_channel=s.accepted_channel - 1, clock_follower=follower,
                  play_when_stopped=config.clock.play_when_stopped, seed=seed,
                  accompanist=load_accompanist(config, chord_model), harmony_channel=s.harmony_channel - 1,
                  harmony_output="harmony", accepted_harmony_channel=config.harmony.accepted_channel - 1,
                  key_tracker=KeyTracker(fixed=parse_key_name(config.harmony.key) if config.harmony.key else None),
                  harmony_velocity=config.harmony.velocity, alignment=DawAlignment(config.ports.learn_offset),
                  input_monitor=input_monitor)


STATS_EVERY_S = 5  # --stats is rewritten this often while running headless (for the soak bench)


def write_stats(path: str, engine, memory: dict | None = None, audio=None) -> None:
    """Counters and latencies of this run, for benchmarks (every few seconds, and at exit);
    ``memory``: the traced memory's biggest sites (:mod:`assistant.app.memtrace`), if traced."""
    import json

    stats = {"messages_received": engine.messages_received, "trigger_to_ready_ms": engine.latencies_ms,
             "suggestions": engine.suggestions_made, "pid": os.getpid(),
             "dispatch_lateness_us": engine.scheduler.lateness_us(), "jack_client": engine.ports.jack_client}
    stats.update(engine.ports.counters(), late_events=engine.scheduler.late_events,
                 withdrawn=engine.scheduler.withdrawn, send_errors=engine.scheduler.send_errors,
                 inbox_high=engine.inbox_high, heap_high=engine.scheduler.heap_high, engine_errors=engine.errors,
                 handed_notes=list(engine.scheduler.handed_notes),
                 frame_zero_ns=native.frame_zero_ns() if (native := getattr(engine.ports, "native", None)) else None,
                 placement_us=engine.scheduler.placement_ns // 1000)
    follower = engine.follower
    if follower is not None:
        stats.update(clock_pulses=follower.pulse_count, missed_pulses=follower.missed_pulses,
                     repeated_pulses=follower.repeated_pulses, clock_count_changes=list(follower.count_changes))
    if memory is not None:
        stats["memory_traced"] = memory
    if audio is not None:
        stats.update(audio.stats())
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(stats, f)
    os.replace(tmp, path)  # a reader never sees half a file


def open_audio(config, say=None):
    """The started :class:`AudioPlayer` when ``audio.play`` is on, else None (main thread)."""
    if not config.audio.play:
        return None
    from ..audio.player import open_player

    return open_player(config.audio.soundfont, config.audio.device, say=say)


def port_names(p, client: str):
    """The ``PortNames`` of the config's ``[ports]`` section ``p`` for MIDI client ``client``
    (a harmony port equal to the output, or empty, is the output itself)."""
    from ..midi.ports import PortNames

    return PortNames(input=p.input, output=p.output, accepted=p.accepted or None, client=client,
                     harmony=p.harmony if p.harmony not in ("", p.output) else None)


def run(args) -> int:
    from .config import load_config
    from ..midi.portwatch import PortWatch
    from ..midi.ports import open_ports

    use_ui = not args.no_ui and sys.stdin.isatty()
    log_format = "%(asctime)s %(levelname)s %(message)s"
    if not use_ui:
        logging.basicConfig(level=args.log_level.upper(), format=log_format, stream=sys.stderr)
    config = load_config(args.config, overrides_from_args(args))
    p = config.ports
    audio = open_audio(config)  # before the ports: a missing audio device ends the start here
    try:
        ports = open_ports(p.backend or None, port_names(p, args.client_name), attach=p.attach_flag,
                           jack_client=p.jack_client)
    except BaseException:
        if audio is not None:
            audio.close(ring_out_s=0)
        raise
    engine = watch = memory = hotkeys = None
    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        engine = build_engine(config, ports, seed=args.seed, audio=audio)
        # Both models and the engine are built: move everything alive now out of the
        # garbage collector's reach. A full collection over them takes 5-9 ms with every
        # thread stopped, the scheduler included; frozen, it takes well under 0.1 ms.
        gc.collect()
        gc.freeze()
        if use_ui:  # log lines would tear the live display: they go beside the session file
            handler = logging.FileHandler(engine.session.path.with_suffix(".log"))
            handler.setFormatter(logging.Formatter(log_format))
            logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
        engine.start()
        from .hotkeys import start_hotkeys

        hotkeys = start_hotkeys(config.hotkeys, engine.post, say=lambda text: engine.note(text, logging.WARNING))
        watch = PortWatch(ports, on_lost=lambda text: (engine.note(text, logging.ERROR), engine.scheduler.panic()),
                          on_back=lambda text: engine.note(text, logging.WARNING)).start()
        log.info("ports %s on %s; clock %s; mode %s; session file %s", ports.names(), ports.backend,
                 config.clock.source, config.suggest.mode, engine.session.path if engine.session else "-")
        if audio is not None:
            engine.note(f"audio: {audio.description}")
        if not use_ui:
            from . import memtrace

            if args.trace_memory:
                memtrace.start()
            beat, memory = 0, None
            while not stop.is_set() and engine.alive:
                stop.wait(1.0)  # a signal or the engine ending wakes it at once or within 1 s
                beat += 1
                if args.trace_memory and beat % 60 == 0:
                    memory = memtrace.top_sites()
                if args.stats and beat % STATS_EVERY_S == 0:
                    write_stats(args.stats, engine, memory, audio)
        else:
            from .ui import run_ui

            run_ui(engine, config, ports, stop)
        if engine.error is not None:
            raise UserError(f"the engine stopped on an error: {type(engine.error).__name__}: {engine.error}")
        return 0
    finally:
        if hotkeys is not None:
            hotkeys.stop()
        if watch is not None:
            watch.stop()
        if engine is not None:
            engine.stop()
            if args.stats:
                write_stats(args.stats, engine, memory, audio)
        ports.close()
        if audio is not None:
            audio.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
