"""``midi-assistant ports [--backend B]``: list the MIDI ports a backend can read from and write to.

Main thread; opens no port, only asks the backend for its lists.
"""

from __future__ import annotations

from ..midi import backends


def add_arguments(parser) -> None:
    parser.add_argument("--backend", choices=list(backends.BACKEND_APIS), default=None,
                        help="MIDI API (default: the platform's; on Linux ALSA, else JACK)")


def run(args) -> int:
    found = backends.list_ports(args.backend)
    print(f"backend: {found.backend}")
    print("inputs (we can read from):")
    for p in found.inputs or ["(none)"]:
        print(f"  {p}")
    print("outputs (we can write to):")
    for p in found.outputs or ["(none)"]:
        print(f"  {p}")
    return 0
