"""``midi-assistant bench``: the model and chord-model figures (:mod:`assistant.bench.model_speed`),
with ``--e2e`` the whole engine through real JACK ports (:mod:`assistant.bench.e2e`), or with
``--soak`` only the soak (:mod:`assistant.bench.soak`). Prints JSON; runs on the main thread.
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
    p.add_argument("--soak", type=float, metavar="MINUTES",
                   help="only the soak: MIDI clock and 10,000 note messages/s into the input for MINUTES, "
                        "through JACK; one JSON line per minute on stderr, the summary on stdout")
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
