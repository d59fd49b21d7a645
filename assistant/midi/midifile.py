"""MIDI files in and out, in engine ticks (12 to a quarter note).

Reading pairs note-ons with note-offs (a note-on with velocity 0 is a note-off; a
note never released ends at the end of its track), rounds times to the grid and
keeps tempo and time signatures. Pure functions on the caller's thread; mido only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import mido

from ..errors import UserError
from ..music import TICKS_PER_QUARTER, Meter, Note

DRUM_CHANNEL = 9  # "channel 10" to musicians


@dataclass
class TrackNotes:
    index: int
    name: str
    notes: list[Note]
    channels: set[int]

    @property
    def drum_only(self) -> bool:
        return bool(self.channels) and self.channels == {DRUM_CHANNEL}


@dataclass
class MidiContent:
    path: Path
    midi: mido.MidiFile
    tempo: int = 500000  # microseconds per quarter note (the first tempo of the file)
    meters: list[Meter] = field(default_factory=lambda: [Meter(0)])
    tracks: list[TrackNotes] = field(default_factory=list)


def read_midi(path: str | Path) -> MidiContent:
    """Read a type 0 or 1 MIDI file; ``UserError`` (one line) for anything unreadable."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist; give the path of a .mid file")
    if path.is_dir():
        raise UserError(f"{path} is a folder; give the path of a .mid file")
    try:
        midi = mido.MidiFile(str(path), clip=True)
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as err:
        raise UserError(f"{path} is not a readable MIDI file ({err.__class__.__name__}: "
                        f"{str(err)[:80] or 'no detail'}); export it again as a Standard MIDI File") from None
    if midi.type == 2:
        raise UserError(f"{path} is a type 2 MIDI file (independent patterns); export it as type 0 or 1")
    tpb = midi.ticks_per_beat or 480
    content = MidiContent(path, midi)
    meters: list[Meter] = []
    tempo_seen = False
    for index, track in enumerate(midi.tracks):
        now = 0
        held: dict[tuple[int, int], list[tuple[int, int]]] = {}
        notes: list[Note] = []
        channels: set[int] = set()
        name = ""
        for msg in track:
            now += msg.time
            tick = round(now * TICKS_PER_QUARTER / tpb)
            if msg.type == "track_name":
                name = msg.name
            elif msg.type == "set_tempo" and not tempo_seen:
                content.tempo, tempo_seen = msg.tempo, True
            elif msg.type == "time_signature":
                meters = [m for m in meters if m.start != tick]
                meters.append(Meter(tick, msg.numerator, msg.denominator))
            elif msg.type == "note_on" and msg.velocity > 0:
                held.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
                channels.add(msg.channel)
            elif msg.type in ("note_off", "note_on"):
                starts = held.get((msg.channel, msg.note))
                if starts:
                    onset, velocity = starts.pop(0)
                    notes.append(Note(onset, max(1, tick - onset), msg.note, velocity))
        end = round(now * TICKS_PER_QUARTER / tpb)
        for (channel, pitch), starts in held.items():
            for onset, velocity in starts:
                notes.append(Note(onset, max(1, end - onset), pitch, velocity))
        notes.sort(key=lambda n: (n.onset, n.pitch))
        content.tracks.append(TrackNotes(index, name, notes, channels))
    meters.sort(key=lambda m: m.start)
    if not meters or meters[0].start > 0:
        first = meters[0] if meters else Meter(0)
        meters.insert(0, Meter(0, first.numerator, first.denominator))
    content.meters = meters
    return content


def choose_track(content: MidiContent, index: int | None) -> TrackNotes:
    """The chosen track, or the first with notes that is not drums only."""
    if index is not None:
        if not 0 <= index < len(content.tracks):
            raise UserError(f"{content.path} has tracks 0..{len(content.tracks) - 1}; --track {index} does not exist")
        track = content.tracks[index]
        if not track.notes:
            raise UserError(f"track {index} of {content.path} has no notes; choose another with --track")
        if track.drum_only:
            raise UserError(f"track {index} of {content.path} has only drum notes (channel 10); "
                            "choose a melodic track with --track")
        return track
    melodic = [t for t in content.tracks if t.notes and not t.drum_only]
    if melodic:
        return melodic[0]
    if any(t.notes for t in content.tracks):
        raise UserError(f"{content.path} has only drum notes (channel 10); give a file with a melodic track")
    raise UserError(f"{content.path} has no notes; give a file with a melody in it")


def notes_to_track(notes: list[Note], tpb: int, channel: int, name: str) -> mido.MidiTrack:
    """A track of note-on/off pairs at ``tpb`` ticks per beat; simultaneous offs come before ons."""
    events = []
    for n in notes:
        events.append((round(n.onset * tpb / TICKS_PER_QUARTER), 1, n.pitch, n.velocity))
        events.append((round(n.end * tpb / TICKS_PER_QUARTER), 0, n.pitch, 0))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
    now = 0
    for tick, is_on, pitch, velocity in events:
        kind = "note_on" if is_on else "note_off"
        track.append(mido.Message(kind, channel=channel, note=pitch, velocity=velocity, time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def conductor_track(tempo: int, meters: list[Meter], tpb: int) -> mido.MidiTrack:
    """Tempo and time signatures on a track of their own."""
    track = mido.MidiTrack([mido.MetaMessage("track_name", name="conductor", time=0),
                            mido.MetaMessage("set_tempo", tempo=tempo, time=0)])
    now = 0
    for m in meters:
        tick = max(0, round(m.start * tpb / TICKS_PER_QUARTER))
        track.append(mido.MetaMessage("time_signature", numerator=m.numerator, denominator=m.denominator,
                                      time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track
