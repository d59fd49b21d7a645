"""``midi-assistant continue``: continue the melody of a MIDI file, offline.

Reads a type 0 or 1 file, takes the melody (the highest note at each time) of the
chosen or first non-drum track, feeds it to the melody model, and writes a type 1
file holding the input's tracks unchanged followed by one track per variation,
with the input's tempo and time signature. The short-term model learns the
input melody and is blended into every suggestion, as in a live session.
With ``--chords`` the chord model harmonises each variation (the input melody and
its continuation, every note known in advance) on a track of its own.
Main thread only.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import mido

from ..music import tokens as T
from ..errors import UserError
from ..userfiles import check_writable_folder
from ..midi.midifile import choose_track, notes_to_track, read_midi
from ..music import Note
from ..music.stm_blend import STM_BIAS


def add_arguments(p) -> None:
    p.add_argument("input", help="a MIDI file (type 0 or 1)")
    p.add_argument("-o", "--output", required=True, help="the MIDI file to write")
    p.add_argument("--bars", type=int, default=4, help="bars to generate (default 4)")
    p.add_argument("--variations", type=int, default=4, help="alternatives to generate (default 4)")
    p.add_argument("--temperature", type=float, default=0.9, help="sampling temperature (default 0.9)")
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling mass (default 0.95)")
    p.add_argument("--seed", type=int, help="random seed, for reproducible output")
    p.add_argument("--track", type=int, help="track index to continue (default: first non-drum track with notes)")
    p.add_argument("--stm-weight", type=float, default=STM_BIAS,
                   help=f"bias of the short-term model blend (0 turns the blend off; default {STM_BIAS:g})")
    p.add_argument("--model", help="melody model (.onnx); default models/melody.onnx")
    p.add_argument("--chords", action="store_true",
                   help="also harmonise each variation (input melody and continuation) with the chord model: "
                        "one chord track per variation, on the next channel")
    p.add_argument("--pattern", default="bar", choices=["bar", "beat", "arpeggio"],
                   help="chord pattern for --chords (default bar)")
    p.add_argument("--wav", metavar="FILE", help="also render the input and the first variation (with its chords) "
                   "to this WAV file, with a General MIDI SoundFont")
    p.add_argument("--soundfont", metavar="FILE", help="SoundFont (.sf2) for --wav (default: a system one)")


def check_arguments(args) -> None:
    if not 1 <= args.bars <= 32:
        raise UserError(f"--bars {args.bars} is out of range; use 1..32")
    if not 1 <= args.variations <= 16:
        raise UserError(f"--variations {args.variations} is out of range; use 1..16")
    if not 0.05 <= args.temperature <= 5:
        raise UserError(f"--temperature {args.temperature} is out of range; use 0.05..5")
    if not 0 < args.top_p <= 1:
        raise UserError(f"--top-p {args.top_p} is out of range; use a value in (0, 1]")
    check_writable_folder(args.output, getattr(args, "wav", None))


def continue_melody(melody: list[Note], meters, model, args):
    """The variations (lists of notes) continuing ``melody``."""
    from ..music.stm_blend import StmBlend

    model.reset(meters)
    blend = StmBlend(bias=args.stm_weight) if args.stm_weight > 0 else None
    for n in melody:  # note by note, so that the blend learns how each model did
        p_neural = model.feed(n)
        if blend is not None:
            blend.observe(n.pitch, p_neural)
    alts = model.suggest(bars=args.bars, n=args.variations, temperature=args.temperature, top_p=args.top_p,
                         seed=args.seed, blend=blend)
    recent = sorted(n.velocity for n in melody[-8:])
    velocity = recent[len(recent) // 2]
    return [[Note(n.onset, n.duration, n.pitch, velocity) for n in a.notes] for a in alts]


def run(args) -> int:
    from ..live.model import MelodyModel

    check_arguments(args)
    content = read_midi(args.input)
    track = choose_track(content, args.track)
    melody = T.monophonic(track.notes)
    model = MelodyModel.load(args.model)
    variations = continue_melody(melody, content.meters, model, args)
    midi = content.midi
    out = mido.MidiFile(type=1, ticks_per_beat=midi.ticks_per_beat)
    out.tracks.extend(midi.tracks)
    channel = Counter(m.channel for m in midi.tracks[track.index] if m.type == "note_on").most_common(1)
    channel = channel[0][0] if channel else 0
    for k, notes in enumerate(variations, 1):
        out.tracks.append(notes_to_track(notes, midi.ticks_per_beat, channel, f"variation {k}"))
    if args.chords:
        from ..live.accompanist import Accompanist, chord_velocity
        from ..live.chord_model import ChordModel
        from ..music.harmony import chord_name

        acc = Accompanist(ChordModel.load(), pattern=args.pattern)
        velocity = chord_velocity(sorted(n.velocity for n in melody)[len(melody) // 2])
        for k, notes in enumerate(variations, 1):
            chords = acc.harmonise(sorted(melody + notes, key=lambda n: n.onset), content.meters)
            out.tracks.append(notes_to_track(acc.render_chords(chords, content.meters, velocity),
                                             midi.ticks_per_beat, (channel + 1) % 16, f"chords {k}"))
            names = [chord_name(c) for _, c in chords]
            print(f"chords {k}: " + " ".join(n for i, n in enumerate(names) if i == 0 or names[i - 1] != n),
                  file=sys.stderr)
    tmp = Path(str(args.output) + ".tmp")
    try:
        out.save(str(tmp))
        os.replace(tmp, args.output)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write {args.output} ({err.strerror}); choose a writable path") from None
    if args.wav:
        from ..audio.render import render_wav

        first = [t for t in out.tracks[len(midi.tracks):] if t.name in ("variation 1", "chords 1")]
        heard = mido.MidiFile(type=1, ticks_per_beat=midi.ticks_per_beat, tracks=list(midi.tracks) + first)
        print(render_wav(heard, args.wav, args.soundfont, say=lambda t: print(t, file=sys.stderr)),
              file=sys.stderr)
    counts = ", ".join(str(len(v)) for v in variations)
    print(f"wrote {args.output}: input track {track.index} ({len(melody)} melody notes) and "
          f"{len(variations)} variations of {args.bars} bars ({counts} notes)", file=sys.stderr)
    return 0
