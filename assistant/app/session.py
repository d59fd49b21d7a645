"""Crash-safe capture of a session: what was accepted (and played) as a MIDI file, plus a log.

One :class:`SessionCapture` per run writes ``<folder>/session-YYYYmmdd-HHMMSS.mid``
(``-2``, ``-3``... if that name is taken), a type 1 file at 480 ticks per quarter
with four tracks: ``conductor`` (tempo, time signatures), ``player`` (what was
played), ``accepted`` (accepted suggestions, with a marker per accept) and
``harmony`` (accepted chords). Beside it, ``session-....jsonl`` is an append-only
log: one JSON object per line (start, played notes, each accept, other events,
close), each line flushed and fsynced.

Durability: :meth:`SessionCapture.accept` rewrites the whole MIDI file before it
returns: a temporary file in the same folder, flushed, fsynced, ``os.replace``d
over the old one, then the folder fsynced. So the file on disk is always a valid
MIDI file, and a crash or ``kill -9`` right after ``accept`` returns loses nothing
accepted. Player notes are buffered and written with each accept, on
:meth:`~SessionCapture.flush` (the engine calls it every few seconds) and on
:meth:`~SessionCapture.close`; a crash can lose only the player notes since the
last write. Each track's bytes are cached in blocks of 4 bars, so a rewrite
re-encodes only what changed, however long the session.

Time: notes are in engine ticks (12 to a quarter note) counted from the session's
tick 0, already placed at their bar; they are written at the same musical
position (x40 at 480 ticks per quarter). The file carries the tempo at the start
only: if the tempo changes during the session the file plays back at the first
tempo, but every note stays on its beat, which is what a DAW needs to drop it on
its grid. (Tempo changes can be recorded in the log with :meth:`log`.) A note
before tick 0 is clipped to start at 0.

Threading contract: not thread-safe. Call every method from the engine thread
only. Writes block for a few milliseconds (fsync): never call this from the MIDI
callback or the scheduler thread. A failed write raises ``UserError`` naming the
file; what was not written stays in memory and is written by the next call.
"""

from __future__ import annotations

import io
import json
import os
import time
from datetime import datetime
from itertools import count
from pathlib import Path

import mido

from ..clock import check_meters, check_tempo
from ..userfiles import fsync_folder, write_atomically
from ..errors import UserError
from ..midi.midifile import conductor_track
from ..music import TICKS_PER_QUARTER, Meter, Note

FILE_TPB = 480
"""Ticks per quarter note in the written file (a common DAW resolution)."""
_SCALE = FILE_TPB // TICKS_PER_QUARTER
_BLOCK = 16 * TICKS_PER_QUARTER  # engine ticks per cached block: 4 bars of 4/4

TRACKS = ("player", "accepted", "harmony")


def _vlq(n: int) -> bytes:
    """A MIDI variable-length quantity (0 .. 0x0FFFFFFF)."""
    n = max(0, min(n, 0x0FFFFFFF))
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def _meta(kind: int, data: bytes) -> bytes:
    return bytes([0xFF, kind]) + _vlq(len(data)) + data


def _chunk(body: bytes) -> bytes:
    return b"MTrk" + len(body).to_bytes(4, "big") + body


class _NoteTrack:
    """One track of notes and markers whose encoded bytes are cached per block of time.

    Events sort by (tick, markers first, note-offs before note-ons, pitch), as
    :func:`assistant.midi.midifile.notes_to_track` orders them.
    """

    def __init__(self, name: str, channel: int):
        self.name = name
        self.channel = channel
        self.notes: list[Note] = []
        self._events: dict[int, list[tuple[int, int, int, bytes]]] = {}
        self._cache: dict[int, tuple[int, int, bytes]] = {}
        self._head = b"\x00" + _meta(0x03, name.encode("latin-1", "replace"))

    def _put(self, tick: int, order: int, pitch: int, data: bytes) -> None:
        block = tick // _BLOCK
        self._events.setdefault(block, []).append((tick * _SCALE, order, pitch, data))
        self._cache.pop(block, None)

    def add(self, note: Note) -> None:
        self.notes.append(note)
        self._put(note.onset, 1, note.pitch, bytes([0x90 | self.channel, note.pitch, note.velocity]))
        self._put(note.end, 0, note.pitch, bytes([0x80 | self.channel, note.pitch, 0]))

    def add_marker(self, tick: int, text: str) -> None:
        self._put(tick, -1, 0, _meta(0x06, text.encode("latin-1", "replace")[:200]))

    def _block(self, block: int) -> tuple[int, int, bytes]:
        cached = self._cache.get(block)
        if cached is None:
            events = sorted(self._events[block], key=lambda e: e[:3])
            parts = [events[0][3]]
            for prev, event in zip(events, events[1:]):
                parts.append(_vlq(event[0] - prev[0]) + event[3])
            cached = self._cache[block] = (events[0][0], events[-1][0], b"".join(parts))
        return cached

    def chunk(self) -> bytes:
        parts = [self._head]
        now = 0
        for block in sorted(self._events):
            first, last, data = self._block(block)
            parts.append(_vlq(first - now))
            parts.append(data)
            now = last
        parts.append(b"\x00" + _meta(0x2F, b""))
        return _chunk(b"".join(parts))


def _conductor_chunk(tempo: int, meters: list[Meter]) -> bytes:
    """The conductor track as built by :func:`assistant.midi.midifile.conductor_track`, encoded by mido."""
    buf = io.BytesIO()
    mido.MidiFile(type=1, ticks_per_beat=FILE_TPB, tracks=[conductor_track(tempo, meters, FILE_TPB)]).save(file=buf)
    return buf.getvalue()[14:]  # after the 14-byte header chunk


def _fit(note: Note) -> Note:
    """``note`` made writable: clipped to start at tick 0, velocity 1..127. Bad pitches are a ValueError."""
    if not isinstance(note, Note):
        raise ValueError(f"session notes must be assistant.music.Note, got {type(note).__name__}")
    if not (isinstance(note.pitch, int) and 0 <= note.pitch <= 127):
        raise ValueError(f"note pitch {note.pitch!r} is outside MIDI 0..127")
    onset, end = int(note.onset), int(note.onset) + int(note.duration)
    if onset < 0:
        onset = 0
    end = max(end, onset + 1)
    velocity = min(127, max(1, int(note.velocity)))
    if (onset, end - onset, velocity) == (note.onset, note.duration, note.velocity):
        return note
    return Note(onset, end - onset, note.pitch, velocity)


def _note_list(notes: list[Note]) -> list[list[int]]:
    return [[n.onset, n.duration, n.pitch, n.velocity] for n in notes]


class SessionCapture:
    """The capture file and log of one run; see the module docstring.

    ``folder`` is created if needed; ``tempo_bpm`` is the tempo at the start;
    ``meters`` the time signatures (default 4/4); ``started_at`` names the file
    (default now, local time). ``capture_player`` False ignores player notes.
    Channels are MIDI channel indexes 0..15 for each track's notes.
    """

    def __init__(self, folder: str | os.PathLike, tempo_bpm: float, meters: list[Meter] | None = None,
                 started_at: datetime | None = None, *, capture_player: bool = True,
                 player_channel: int = 0, accepted_channel: int = 0, harmony_channel: int = 0):
        self.tempo_bpm = check_tempo(tempo_bpm, "session tempo")
        self.meters = check_meters(meters)
        self.started_at = started_at or datetime.now()
        self.capture_player = capture_player
        for ch in (player_channel, accepted_channel, harmony_channel):
            if not (isinstance(ch, int) and 0 <= ch <= 15):
                raise ValueError(f"channel index {ch!r} is outside 0..15")
        self.folder = Path(folder)
        self._tracks = {"player": _NoteTrack("player", player_channel),
                        "accepted": _NoteTrack("accepted", accepted_channel),
                        "harmony": _NoteTrack("harmony", harmony_channel)}
        self._conductor = _conductor_chunk(round(mido.bpm2tempo(self.tempo_bpm)), self.meters)
        self._logged_player = 0  # player notes already in the log
        self._dirty = True
        self._last_write = 0.0
        self.accepts = 0
        self.closed = False
        self.path, self.log_path, self._log = self._reserve()
        self._log_ok = 0
        try:
            self.log("start", file=self.path.name, tempo_bpm=self.tempo_bpm,
                     meters=[[m.start, m.numerator, m.denominator] for m in self.meters],
                     ticks_per_quarter=TICKS_PER_QUARTER, started_at=self.started_at.isoformat(timespec="seconds"))
            self._write_midi()
        except BaseException:
            self._log.close()
            raise

    # -- files -------------------------------------------------------------------------
    def _folder_error(self, err: OSError) -> UserError:
        return UserError(f"cannot write session files in {self.folder} ({err.strerror or err}): "
                         "choose a writable folder with session.folder")

    def _reserve(self):
        """Claim a unique name: the log is created exclusively, so two runs never share one."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise self._folder_error(err) from None
        stamp = self.started_at.strftime("session-%Y%m%d-%H%M%S")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_BINARY", 0)
        for n in count(1):
            stem = stamp if n == 1 else f"{stamp}-{n}"
            mid, log = self.folder / f"{stem}.mid", self.folder / f"{stem}.jsonl"
            if mid.exists():
                continue
            try:
                fd = os.open(log, flags, 0o666)
            except FileExistsError:
                continue
            except OSError as err:
                raise self._folder_error(err) from None
            fsync_folder(self.folder)
            return mid, log, os.fdopen(fd, "ab")

    def _write_midi(self) -> None:
        header = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + \
            (1 + len(TRACKS)).to_bytes(2, "big") + FILE_TPB.to_bytes(2, "big")
        data = b"".join([header, self._conductor] + [self._tracks[t].chunk() for t in TRACKS])
        try:
            write_atomically(self.path, data)
        except OSError as err:
            raise UserError(f"cannot write {self.path} ({err.strerror or err}): free some disk space or fix "
                            "the folder's permissions; nothing is lost yet: it is written again on the next "
                            "accept") from None
        self._dirty = False
        self._last_write = time.monotonic()

    def log(self, event: str, **fields) -> None:
        """Append one JSON line ``{"time", "event", **fields}`` to the log and fsync it."""
        record = {"time": datetime.now().isoformat(timespec="milliseconds"), "event": event, **fields}
        line = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode("utf-8")
        try:
            self._log.write(line)
            self._log.flush()
            os.fsync(self._log.fileno())
        except (OSError, ValueError) as err:
            try:  # drop a half-written line so the log stays one object per line
                self._log.truncate(self._log_ok)
            except (OSError, ValueError):
                pass
            raise UserError(f"cannot write {self.log_path} ({getattr(err, 'strerror', None) or err}): "
                            "free some disk space or fix the folder's permissions") from None
        self._log_ok += len(line)

    def _log_player(self) -> None:
        notes = self._tracks["player"].notes
        if self._logged_player < len(notes):
            self.log("played", notes=_note_list(notes[self._logged_player:]))
            self._logged_player = len(notes)

    # -- engine thread API ---------------------------------------------------------------
    def add_player_note(self, note: Note) -> None:
        """Buffer a played note; written with the next accept, flush or close. No I/O."""
        if self.capture_player and not self.closed:
            self._tracks["player"].add(_fit(note))
            self._dirty = True

    def accept(self, notes: list[Note], label: str = "", *, track: str = "accepted") -> None:
        """Append accepted ``notes`` (ticks, placed at their bar) and write the file before returning.

        ``label`` becomes a marker at the first note (e.g. "alt 2, T 0.9");
        ``track`` is "accepted" or "harmony". Raises ``UserError`` if the write
        fails (the notes stay in memory and are written by the next call).
        """
        if self.closed:
            raise RuntimeError("SessionCapture.accept after close")
        if track not in ("accepted", "harmony"):
            raise ValueError(f"track {track!r} must be 'accepted' or 'harmony'")
        fitted = [_fit(n) for n in notes]  # check everything before changing anything
        target = self._tracks[track]
        if fitted:
            target.add_marker(min(n.onset for n in fitted), label or f"accept {self.accepts + 1}")
        for n in fitted:
            target.add(n)
        self.accepts += 1
        self._dirty = True
        self._log_player()
        self.log("accept", track=track, label=label, notes=_note_list(fitted))
        self._write_midi()

    def flush(self, min_interval_s: float = 0.0) -> bool:
        """Write buffered player notes if any and the last write is ``min_interval_s`` old; True if written."""
        if self.closed or not self._dirty or time.monotonic() - self._last_write < min_interval_s:
            return False
        self._log_player()
        self._write_midi()
        return True

    def close(self) -> None:
        """Write what is buffered, log the end and close the log. Idempotent."""
        if self.closed:
            return
        try:
            if self._dirty:
                self._log_player()
                self._write_midi()
            self.log("close", accepts=self.accepts)
        finally:
            self.closed = True
            self._log.close()

    # -- reading back --------------------------------------------------------------------
    @property
    def accepted_notes(self) -> list[Note]:
        return list(self._tracks["accepted"].notes)

    @property
    def harmony_notes(self) -> list[Note]:
        return list(self._tracks["harmony"].notes)

    @property
    def player_notes(self) -> list[Note]:
        return list(self._tracks["player"].notes)

    def __enter__(self) -> "SessionCapture":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
