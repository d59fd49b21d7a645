"""``midi-assistant bench``: the model and chord-model figures (:mod:`assistant.bench.model_speed`),
with ``--e2e`` the whole engine through real JACK ports (:mod:`assistant.bench.e2e`), or with
``--soak`` only the soak (:mod:`assistant.bench.soak`), with ``--daw ardour`` only what a real
DAW records of our answers (:mod:`assistant.bench.real_daw`), with ``--link`` only Ableton Link
(:mod:`assistant.bench.link`). Prints JSON; runs on the main thread.
"""

from __future__ import annotations

import json
import os

from ..errors import UserError


def add_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="one-line JSON (the default prints indented JSON)")
    p.add_argument("--model", help="melody model (.onnx); default models/melody.onnx")
    p.add_argument("--harmony-model", help="chord model (.onnx); default models/harmony.onnx")
    p.add_argument("--repeats", type=int, default=200, help="runs per figure (default 200)")
    p.add_argument("--e2e", action="store_true", help="also measure the engine end to end through JACK")
    p.add_argument("--audio", action="store_true",
                   help="with --e2e: the assistant under test also renders its audio (--audio, no device), "
                        "to see that audio does not disturb MIDI timing")
    p.add_argument("--pieces", type=int, default=20, metavar="N",
                   help="with --e2e: held-out chorales the accompaniment scenario plays, 4 bars each "
                        "(default 20; 0 leaves the scenario out)")
    p.add_argument("--soak", type=float, metavar="MINUTES",
                   help="only the soak: MIDI clock and 10,000 note messages/s into the input for MINUTES, "
                        "through JACK; one JSON line per minute on stderr, the summary on stdout")
    p.add_argument("--daw", choices=["ardour"],
                   help="only where a real DAW records our answers: Ardour (headless, ardour7-lua) plays phrases "
                        "and its MIDI clock into the assistant through JACK and records what comes back")
    p.add_argument("--period", type=int, action="append", metavar="FRAMES",
                   help="with --daw: the JACK period (repeat for several; default 64 and 256)")
    p.add_argument("--phrases", type=int, default=4, help="with --daw: phrases per take (default 4)")
    p.add_argument("--assistant-set", action="append", default=[], metavar="KEY=VALUE",
                   help="with --daw: a config override for the assistant under test, as run's --set "
                        "(e.g. ports.learn_offset=false to see what the DAW records without the learnt alignment)")
    p.add_argument("--link", type=float, metavar="SECONDS",
                   help="only Ableton Link: our Link clock beside a second peer for SECONDS, through tempo "
                        "changes: tempo and beat agreement (the link extra)")
    p.add_argument("--trace-memory", action="store_true",
                   help="with --soak: trace the assistant's Python memory and report the sites that grow")


def run(args) -> int:
    if args.soak is not None:
        import sys

        from ..bench.soak import soak_figures

        if not 0 < args.soak <= 600:
            raise UserError(f"--soak {args.soak:g}: give the minutes to run, more than 0 and at most 600")
        result = {"machine": {"cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2)},
                  "soak": soak_figures(args.soak, args.model,
                                       report=lambda fig: print(json.dumps(fig), file=sys.stderr, flush=True),
                                       trace_memory=args.trace_memory)}
        print(json.dumps(result, indent=None if args.json else 2))
        return 0
    if args.link is not None:
        from ..bench.link import link_figures

        if not 1 <= args.link <= 3600:
            raise UserError(f"--link {args.link:g}: give the seconds to run, 1..3600")
        result = {"machine": {"cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2)},
                  "link": link_figures(args.link)}
        print(json.dumps(result, indent=None if args.json else 2))
        return 0
    if args.daw is not None:
        from ..bench.real_daw import ardour_figures

        periods = args.period or [64, 256]
        from ..app.config import parse_overrides

        overrides = parse_overrides(args.assistant_set)  # as run's --set reads them
        if any(p not in (16, 32, 64, 128, 256, 512, 1024) for p in periods) or not 1 <= args.phrases <= 32:
            raise UserError("--daw: give --period as a power of two in 16..1024 and --phrases in 1..32")
        result = {"machine": {"cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2)},
                  "daw": [ardour_figures(p, args.phrases, args.model, overrides) for p in periods]}
        result["within_2ms"] = all(take.get("within_2ms", False) for take in result["daw"])
        print(json.dumps(result, indent=None if args.json else 2))
        return 0
    result = {"machine": {"cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2)}}
    from ..bench.model_speed import harmony_figures, model_figures

    result["model"] = model_figures(args.model, args.repeats)
    result["harmony"] = harmony_figures(args.harmony_model, args.repeats)
    if args.e2e:
        from ..bench.e2e import e2e_figures

        result["e2e"] = e2e_figures(args)
    result["machine"]["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0
