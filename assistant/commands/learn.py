"""``midi-assistant learn ACTION``: bind an action to the next CC or note from a controller.

Main thread: opens our input as ``run`` would, waits (polling, so Ctrl-C works) for a
learnable message or ``--timeout``, then saves the binding to the user's bindings
file (:func:`assistant.app.controls.save_learned`) and says what it replaced.
"""

from __future__ import annotations

import time

from ..app.config import load_config
from ..app.controls import ACTIONS, Binding, ControlMap, bindings_path, check_action, learn_binding, save_learned
from ..errors import UserError


def add_arguments(parser) -> None:
    parser.add_argument("action", help=f"the action to bind: {', '.join(ACTIONS)}")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait for a CC or note-on (default 30)")
    parser.add_argument("--message", default=None, metavar="BINDING",
                        help='bind this instead of waiting, e.g. "cc:20" or "note:36@10"')
    parser.add_argument("--config", default=None, metavar="PRESET",
                        help="preset name (ableton, reaper) or TOML path: its [ports] say where to listen")
    parser.add_argument("--backend", default=None, choices=("alsa", "jack", "coremidi", "windows"),
                        help="MIDI backend (overrides the preset's ports.backend)")
    parser.add_argument("--bindings", default=None, metavar="PATH",
                        help="bindings file to write (default: bindings.toml in the user config folder)")


def _open_input(config, backend: str | None):
    """Open our ports as ``run`` would (the input is what we listen to); a hook for tests."""
    from ..midi import ports
    p = config.ports
    names = ports.PortNames(input=p.input, output=p.output, accepted=p.accepted or None)
    return ports.open_ports(backend or p.backend or None, names, attach=p.attach_flag, jack_client=p.jack_client)


def _wait_for_binding(inbox, timeout: float) -> Binding | None:
    """The first learnable message from ``inbox`` within ``timeout`` s (polled, so Ctrl-C works)."""
    import queue
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            msg, _ns = inbox.get(timeout=min(left, 0.1))
        except queue.Empty:
            continue
        found = learn_binding(msg)
        if found is not None:
            return found


def run(args) -> int:
    action = check_action(args.action)
    path = bindings_path(args.bindings)
    config = load_config(args.config, bindings_path=path)
    if args.message is not None:
        binding = Binding.parse(args.message, "--message")
    else:
        if not (args.timeout > 0):
            raise UserError(f"--timeout {args.timeout:g} must be a number of seconds above 0, e.g. 30")
        with _open_input(config, args.backend) as midi:
            print(f"press the control for {action} on a controller routed to {midi.names()['in']!r} "
                  f"(waiting up to {args.timeout:g} s)", flush=True)
            binding = _wait_for_binding(midi.inbox, args.timeout)
        if binding is None:
            raise UserError(f"no CC or note-on reached {config.ports.input!r} within {args.timeout:g} s: "
                            "route the controller to it in the DAW, or give --message cc:20")
    taken = ControlMap.from_config(config).action_for(_probe_message(binding))
    saved = save_learned(action, binding, path)
    print(f"{action} = \"{binding}\" saved to {saved}")
    if taken and taken != action:
        print(f"{binding} was bound to {taken}; it now triggers {action}")
    return 0


def _probe_message(binding: Binding):
    """A message that ``binding`` would trigger on (its channel, or channel 1)."""
    import mido
    channel = (binding.channel or 1) - 1
    if binding.kind == "cc":
        return mido.Message("control_change", control=binding.number, value=127, channel=channel)
    return mido.Message("note_on", note=binding.number, velocity=100, channel=channel)
