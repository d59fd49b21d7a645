"""``midi-assistant show SESSION.mid -o session.png``: a picture of a session file.

A piano roll of every track with notes: the player's phrases, the accepted suggestions
and the chords (a session capture's ``player``, ``accepted`` and ``harmony`` tracks, or
a demo file's ``phrase``, ``answer`` and ``chords``), each in its own colour, with bar
lines from the file's time signature and pitch names on the side. Drawn with matplotlib
(the ``plot`` extra), without a display. Main thread.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import UserError
from ..userfiles import check_writable_folder

PLOT_EXTRA_HINT = "pip install 'midi-assistant[plot]'"
# a track's colour by its name (session capture, demo), RGB 0..1; other tracks cycle through OTHERS
COLOURS = {"player": (0.18, 0.42, 0.75), "phrase": (0.18, 0.42, 0.75),
           "accepted": (0.93, 0.49, 0.13), "answer": (0.93, 0.49, 0.13),
           "harmony": (0.24, 0.62, 0.30), "chords": (0.24, 0.62, 0.30)}
CHORD_TRACKS = ("harmony", "chords")
OTHERS = ((0.60, 0.31, 0.64), (0.85, 0.22, 0.25), (0.45, 0.45, 0.45), (0.10, 0.65, 0.70))
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def add_arguments(p) -> None:
    p.add_argument("input", help="a session file (sessions/session-....mid) or any MIDI file")
    p.add_argument("-o", "--output", help="the picture to write (.png, .svg or .pdf; default: beside the input)")
    p.add_argument("--width", type=float, default=12.0, help="width in inches at 100 dpi (default 12)")


def track_colour(name: str, k: int) -> tuple[float, float, float]:
    return COLOURS.get(name.strip().lower(), OTHERS[k % len(OTHERS)])


def draw(content, output: Path, width: float = 12.0) -> dict:
    """Draw ``content`` (a :class:`~assistant.midi.midifile.MidiContent`) to ``output``;
    returns what was drawn: {track name: notes} and the tick range."""
    try:
        import matplotlib
    except ImportError:
        raise UserError(f"show needs matplotlib: {PLOT_EXTRA_HINT}") from None
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    from ..music import bar_start, next_bar_start

    tracks = [t for t in content.tracks if t.notes]
    if not tracks:
        raise UserError(f"{content.path}: no notes to show; give a session file or another MIDI file with notes")
    notes = [n for t in tracks for n in t.notes]
    start, end = min(n.onset for n in notes), max(n.end for n in notes)
    meters = content.meters
    first_bar, last_bar = bar_start(meters, start), next_bar_start(meters, end - 1)
    low, high = min(n.pitch for n in notes) - 2, max(n.pitch for n in notes) + 2
    fig, ax = plt.subplots(figsize=(width, max(3.0, min(9.0, (high - low) * 0.18 + 1.5))), dpi=100)
    for pitch in range(low, high + 1):  # the black keys' rows shaded, as a piano roll has them
        if PITCH_NAMES[pitch % 12].endswith(("#", "b")):
            ax.axhspan(pitch - 0.5, pitch + 0.5, color=(0.95, 0.95, 0.95), zorder=0, lw=0)
    bar = first_bar
    while bar <= last_bar:
        ax.axvline(bar, color=(0.55, 0.55, 0.55), lw=0.8, zorder=1)
        bar = next_bar_start(meters, bar)
    drawn, legend = {}, []
    for k, t in enumerate(tracks):
        colour = track_colour(t.name, k)
        # chords underneath, so that a melody note on a chord's pitch stays in sight
        layer = 2 if t.name.strip().lower() in CHORD_TRACKS else 3
        for n in t.notes:
            alpha = 0.45 + 0.55 * n.velocity / 127
            ax.add_patch(Rectangle((n.onset, n.pitch - 0.4), n.duration, 0.8, facecolor=colour, alpha=alpha,
                                   edgecolor=colour, lw=0.5, zorder=layer))
        label = t.name or f"track {t.index}"
        drawn[label] = len(t.notes)
        legend.append(Patch(facecolor=colour, label=f"{label} ({len(t.notes)})"))
    ax.set_xlim(first_bar, last_bar)
    ax.set_ylim(low - 0.5, high + 0.5)
    bars = []
    bar, number = first_bar, 1
    while bar < last_bar:
        bars.append((bar, str(number)))
        bar, number = next_bar_start(meters, bar), number + 1
    step = max(1, len(bars) // 24)
    ax.set_xticks([b for b, _ in bars[::step]], [label for _, label in bars[::step]])
    ax.set_xlabel("bar")
    cs = [p for p in range(low, high + 1) if p % 12 == 0] or [low]
    ax.set_yticks(cs, [f"{PITCH_NAMES[p % 12]}{p // 12 - 1}" for p in cs])
    ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize="small", frameon=False)
    ax.set_title(content.path.name)
    fig.tight_layout()
    try:
        fig.savefig(output)
    except OSError as err:
        raise UserError(f"cannot write {output} ({err.strerror or err}); choose a writable path") from None
    finally:
        plt.close(fig)
    return {"tracks": drawn, "ticks": (first_bar, last_bar)}


def run(args) -> int:
    from ..midi.midifile import read_midi

    if not 1 <= args.width <= 100:
        raise UserError(f"--width {args.width:g} is out of range; use 1..100 inches")
    content = read_midi(args.input)
    output = Path(args.output) if args.output else Path(args.input).with_suffix(".png")
    check_writable_folder(output)
    shown = draw(content, output, args.width)
    parts = ", ".join(f"{name} {count}" for name, count in shown["tracks"].items())
    print(f"wrote {output} ({parts} notes)", file=sys.stderr)
    return 0
