"""Session capture: valid file after every accept, exact ticks, crash safety, clear errors."""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from datetime import datetime

import mido
import pytest

from assistant.app import session as session_mod
from assistant.errors import UserError
from assistant.midi.midifile import conductor_track, notes_to_track, read_midi
from assistant.music import Meter, Note
from assistant.app.session import FILE_TPB, SessionCapture

T0 = datetime(2024, 5, 6, 7, 8, 9)


def track(path, name):
    return next(t for t in read_midi(path).tracks if t.name == name)


def note_events(path, name):
    """(absolute file tick, type, note, velocity) of the named track."""
    midi = mido.MidiFile(str(path))
    for t in midi.tracks:
        if t.name == name:
            now, out = 0, []
            for msg in t:
                now += msg.time
                if msg.type in ("note_on", "note_off"):
                    out.append((now, msg.type, msg.note, msg.velocity))
            return out
    raise AssertionError(name)


def test_file_named_and_valid_from_the_start(tmp_path):
    s = SessionCapture(tmp_path / "sessions", 90, [Meter(0, 3, 4)], started_at=T0)
    assert s.path == tmp_path / "sessions" / "session-20240506-070809.mid"
    assert s.log_path.name == "session-20240506-070809.jsonl"
    content = read_midi(s.path)
    assert [t.name for t in content.tracks] == ["conductor", "player", "accepted", "harmony"]
    assert content.meters == [Meter(0, 3, 4)] and content.tempo == mido.bpm2tempo(90)
    assert content.midi.ticks_per_beat == FILE_TPB
    s.close()


def test_names_are_unique(tmp_path):
    a = SessionCapture(tmp_path, 120, None, started_at=T0)
    b = SessionCapture(tmp_path, 120, None, started_at=T0)
    (tmp_path / "session-20240506-070809-3.mid").write_bytes(b"")  # someone else's
    c = SessionCapture(tmp_path, 120, None, started_at=T0)
    assert [x.path.name for x in (a, b, c)] == [
        "session-20240506-070809.mid", "session-20240506-070809-2.mid", "session-20240506-070809-4.mid"]
    for x in (a, b, c):
        x.close()


def test_accept_writes_exactly_the_accepted_notes_at_their_ticks(tmp_path):
    s = SessionCapture(tmp_path, 120, None, started_at=T0)
    first = [Note(48, 12, 72, 90), Note(60, 6, 74, 91), Note(66, 6, 76, 92)]
    s.accept(first, "alt 2")
    assert track(s.path, "accepted").notes == first
    assert note_events(s.path, "accepted")[:2] == [(48 * 40, "note_on", 72, 90), (60 * 40, "note_off", 72, 0)]
    second = [Note(96, 24, 67, 80)]
    s.accept(second)
    assert track(s.path, "accepted").notes == first + second
    markers = [m.text for m in mido.MidiFile(str(s.path)).tracks[2] if m.type == "marker"]
    assert markers == ["alt 2", "accept 2"]
    assert track(s.path, "player").notes == [] and track(s.path, "harmony").notes == []
    s.accept([Note(96, 48, 55, 70)], "C", track="harmony")
    assert track(s.path, "harmony").notes == [Note(96, 48, 55, 70)]
    s.close()


def test_player_notes_written_with_accept_flush_and_close(tmp_path):
    s = SessionCapture(tmp_path, 120, None, started_at=T0)
    s.add_player_note(Note(0, 12, 60, 70))
    assert track(s.path, "player").notes == []  # buffered: no I/O on add
    s.accept([Note(48, 12, 72)])
    assert track(s.path, "player").notes == [Note(0, 12, 60, 70)]
    s.add_player_note(Note(12, 12, 62, 71))
    assert s.flush(min_interval_s=3600) is False  # too soon
    assert s.flush() is True and s.flush() is False  # nothing new
    assert track(s.path, "player").notes == [Note(0, 12, 60, 70), Note(12, 12, 62, 71)]
    s.add_player_note(Note(24, 12, 64, 72))
    s.close()
    s.close()
    assert len(track(s.path, "player").notes) == 3
    lines = [json.loads(line) for line in s.log_path.read_text().splitlines()]
    assert [r["event"] for r in lines] == ["start", "played", "accept", "played", "played", "close"]
    assert lines[2]["notes"] == [[48, 12, 72, 80]] and lines[0]["tempo_bpm"] == 120.0
    with pytest.raises(RuntimeError):
        s.accept([Note(0, 1, 60)])


def test_capture_player_off(tmp_path):
    with SessionCapture(tmp_path, 120, None, capture_player=False) as s:
        s.add_player_note(Note(0, 12, 60))
        s.accept([Note(12, 12, 62)])
    assert track(s.path, "player").notes == [] and track(s.path, "accepted").notes == [Note(12, 12, 62)]


def test_encoding_matches_midifile_for_many_notes(tmp_path):
    """Our cached block encoder writes the same events as notes_to_track + mido."""
    rng = random.Random(3)
    notes = [Note(rng.randrange(0, 2000), rng.randrange(1, 300), rng.randrange(40, 90), rng.randrange(1, 128))
             for _ in range(400)]
    s = SessionCapture(tmp_path, 100, [Meter(0), Meter(96, 3, 4)], started_at=T0)
    for i, n in enumerate(notes):
        s.add_player_note(n)
        if i % 97 == 0:
            s.flush()
    s.close()
    expected = mido.MidiFile(type=1, ticks_per_beat=FILE_TPB)
    expected.tracks = [conductor_track(mido.bpm2tempo(100), [Meter(0), Meter(96, 3, 4)], FILE_TPB),
                       notes_to_track(notes, FILE_TPB, 0, "player")]
    got = mido.MidiFile(str(s.path))
    assert list(got.tracks[0]) == list(expected.tracks[0])
    assert list(got.tracks[1]) == list(expected.tracks[1])


def test_odd_notes_are_clipped_not_fatal(tmp_path):
    with SessionCapture(tmp_path, 120, None) as s:
        s.add_player_note(Note(-6, 12, 60, 200))
        s.add_player_note(Note(-24, 12, 61, 0))
        with pytest.raises(ValueError, match="pitch 128"):
            s.accept([Note(0, 12, 60), Note(0, 12, 128)])
        assert s.accepted_notes == []  # a rejected accept changes nothing
    assert track(s.path, "player").notes == [Note(0, 6, 60, 127), Note(0, 1, 61, 1)]


def test_unwritable_folder_is_a_user_error_naming_it(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match=r"cannot write session files in .*file/sessions .*session.folder"):
        SessionCapture(blocker / "sessions", 120, None)
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(UserError, match="cannot write session files in .*locked"):
            SessionCapture(locked, 120, None)


def test_failed_write_keeps_the_old_file_and_loses_nothing(tmp_path, monkeypatch):
    s = SessionCapture(tmp_path, 120, None, started_at=T0)
    s.accept([Note(0, 12, 60)])

    def full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(session_mod, "write_atomically", full)
    with pytest.raises(UserError, match="cannot write .*session-20240506-070809.mid .No space left"):
        s.accept([Note(12, 12, 62)])
    assert track(s.path, "accepted").notes == [Note(0, 12, 60)]  # the old file is intact
    monkeypatch.undo()
    s.accept([Note(24, 12, 64)])
    assert track(s.path, "accepted").notes == [Note(0, 12, 60), Note(12, 12, 62), Note(24, 12, 64)]
    s.close()
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".jsonl", ".mid"]  # no temporary files


CHILD = textwrap.dedent("""
    import sys, time
    from assistant.music import Note
    from assistant.app.session import SessionCapture
    s = SessionCapture(sys.argv[1], 120, None)
    print(s.path, flush=True)
    for k in range(5):
        s.add_player_note(Note(48 * k, 12, 60 + k, 64))
        s.accept([Note(48 * k + 24, 12, 72 + k, 100)], f"alt {k}")
        print("accepted", k, flush=True)
    s.add_player_note(Note(999, 12, 50, 64))  # buffered only: may be lost
    time.sleep(60)
""")


def test_sigkill_right_after_accept_loses_nothing_accepted(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        path = child.stdout.readline().strip()
        for k in range(5):
            assert child.stdout.readline().split() == ["accepted", str(k)]
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    assert child.returncode == -signal.SIGKILL
    assert track(path, "accepted").notes == [Note(48 * k + 24, 12, 72 + k, 100) for k in range(5)]
    assert track(path, "player").notes == [Note(48 * k, 12, 60 + k, 64) for k in range(5)]
    log = [json.loads(line) for line in open(path[:-4] + ".jsonl")]
    assert [r["label"] for r in log if r["event"] == "accept"] == [f"alt {k}" for k in range(5)]
