"""Chord corpus: chorale beats recognised from all four voices and checked by hand
against the score, tune chords read from ABC chord symbols, the symbol mapping, the
split and the cache. Real music21 on a handful of files; never the whole corpus.

Ticks: quarter = 12. The chorale pitches quoted in the comments were read off the
scores (music21's parse of the .mxl files).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from assistant.music.harmony import NO_CHORD, chord_index, chord_name, parse_chord_name
from assistant.music import Melody, Meter, Note
from assistant.train import chord_corpus as cc
from assistant.train import corpus as corpus_mod
from assistant.train.chord_corpus import (
    ChordPiece,
    beat_chord,
    beat_weights,
    extract_chord_file,
    is_eval_tune,
    label_beats,
    symbol_beats,
)

A, C, D, E, F, G, B = 9, 0, 2, 4, 5, 7, 11


def _names(beats):
    return [(t, chord_name(c)) for t, c in beats]


def _abc(tmp_path: Path, text: str, name: str = "tune.abc") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------- pure helpers


def test_onset_notes_count_double_and_bass_is_lowest_at_onset():
    # C-E-G held for the beat, a passing F in the second half, a low D that enters late
    notes = [Note(0, 12, 60), Note(0, 12, 64), Note(0, 12, 67), Note(6, 6, 65), Note(6, 6, 50)]
    arrays = cc._note_arrays(notes)
    weights, bass = beat_weights(arrays, 0, 12)
    assert weights[C] == weights[E] == weights[G] == 24 and weights[F] == 6 and weights[D] == 6
    assert bass == 60  # the D enters after the onset: the bass is the lowest note sounding at it
    assert beat_chord(notes, 0, 12) == chord_index(C, "maj")
    # nothing sounds at the onset: the lowest in the beat is the bass
    assert beat_weights(cc._note_arrays([Note(3, 6, 50), Note(3, 9, 62)]), 0, 12)[1] == 50
    # a held note counts double at the next beat too; a silent beat is N.C.
    assert beat_weights(cc._note_arrays([Note(0, 24, 60)]), 12, 12)[0][C] == 24
    assert label_beats([Note(0, 12, 60), Note(0, 12, 64), Note(0, 12, 67)], [Meter(0, 2, 4)], 0, 24) == [
        (0, chord_index(C, "maj")), (12, NO_CHORD)]


def test_symbol_beats_take_the_last_symbol_at_or_before_each_beat():
    meters = [Meter(-12, 3, 4)]  # quarter pickup in 3/4
    g, d7 = chord_index(G, "maj"), chord_index(D, "7")
    beats = symbol_beats([(0, g), (30, d7), (48, NO_CHORD)], meters, -12, 60)
    assert beats == [(-12, NO_CHORD), (0, g), (12, g), (24, g), (36, d7), (48, NO_CHORD)]


def test_eval_tune_split_is_stable_by_tune_and_leaves_tunes_for_validation():
    ids = [f"ryansMammoth/File{i // 7}.abc#{i % 7 + 1}" for i in range(3000)]
    held = [i for i in ids if is_eval_tune(i)]
    assert held == [i for i in ids if is_eval_tune(i)]  # stable
    assert 0.08 < len(held) / len(ids) < 0.12
    files = {i.split("#")[0] for i in held}
    assert any(f"{f}#{k}" not in held for f in files for k in range(1, 8))  # by tune, not by file
    rest = [i for i in ids if not is_eval_tune(i)]
    assert 0.03 < sum(map(corpus_mod.is_valid, rest)) / len(rest) < 0.07  # validation keeps its 5 %


def _piece(pid, coll, pitches, key=None):
    notes = [Note(12 * i, 12, p) for i, p in enumerate(pitches)]
    return ChordPiece(pid, coll, Melody(pid, coll, notes, [Meter(0)]),
                      [(12 * i, chord_index(p % 12, "maj")) for i, p in enumerate(pitches)], key)


def test_split_holds_out_tunes_and_chorales_and_drops_duplicates():
    tunes = [_piece(f"ryansMammoth/T{i}.abc#1", "ryansMammoth", [60 + i % 5, 62, 64, 65 + i % 3, 67 + i % 4])
             for i in range(300)]
    eval_chorale = _piece("bach/bwv300.mxl", "chorales", list(range(60, 80)))
    copy = _piece("bach/bwv1.6.mxl", "bach", list(range(55, 75)))  # the same soprano, transposed
    other = _piece("bach/bwv2.6.mxl", "bach", [60, 67, 60, 67, 60, 67])
    stats = {c: cc._new_stats() for c in ("chorales", "bach", *cc.TUNE_COLLECTIONS)}
    train, valid, evals = cc._split([eval_chorale, copy, other, *tunes], stats)
    assert [p.id for p in evals["chorales"]] == ["bach/bwv300.mxl"]
    assert {p.id for p in evals["tunes"]} == {p.id for p in tunes if is_eval_tune(p.id)}
    assert all(p.collection == "tunes" and p.melody.collection == "tunes" for p in evals["tunes"])
    kept = {p.id for p in train + valid}
    assert "bach/bwv1.6.mxl" not in kept and "bach/bwv2.6.mxl" in kept
    assert stats["bach"]["duplicates_removed"] == 1
    assert not kept & {p.id for v in evals.values() for p in v}
    assert {p.id for p in valid} == {i for i in kept if corpus_mod.is_valid(i)}


# ---------------------------------------------------------------- chorales


def test_chorale_bwv253_beats_by_hand():
    pytest.importorskip("music21")
    (r,) = extract_chord_file(corpus_mod.corpus_dir() / "bach" / "bwv253.mxl", "chorales")
    assert r.status == "ok", r.error
    p = r.piece
    assert p.id == "bach/bwv253.mxl" and p.collection == "chorales"
    assert p.key == (A, False)  # A major
    assert p.melody.meters[0] == Meter(-36, 4, 4)
    beats = dict(p.beats)
    # the pickup bar's beats before the first note are N.C.
    assert [t for t, _ in p.beats[:4]] == [-36, -24, -12, 0] and beats[-36] == beats[-12] == NO_CHORD
    # 0: A2 E4 A4 C#5, the tonic triad of the key
    assert beats[0] == chord_index(A, "maj")
    # 24: G#3 E4 B4 E5: E major in first inversion
    assert beats[24] == chord_index(E, "maj")
    # 84: D3 A3 F#4 D5
    assert beats[84] == chord_index(D, "maj")
    assert [t for t, _ in p.beats] == list(range(-36, p.beats[-1][0] + 1, 12))
    assert p.beats[-1][0] < max(n.end for n in p.melody.notes) <= p.beats[-1][0] + 12


def test_chorale_bwv26_6_minor_key_and_passing_notes():
    pytest.importorskip("music21")
    (r,) = extract_chord_file(corpus_mod.corpus_dir() / "bach" / "bwv26.6.mxl", "bach")
    p = r.piece
    assert p.key == (A, True)  # A minor
    beats = dict(p.beats)
    assert p.beats[0] == (0, chord_index(A, "min"))  # A3 C4 E4 A4
    assert beats[12] == chord_index(E, "maj")  # G#3 B3 E4 B4
    # 120: F#3 A3 under the held C5 and D5, then G#3 B3 B4 pass: D7 over F#
    assert beats[120] == chord_index(D, "7")
    # 144: D3 F4 A4 B4: the half-diminished ii of A minor
    assert beats[144] == chord_index(B, "m7b5")
    # 156: E3 E4 G#4 under the held B4, D4 and A4 pass: E (a passing seventh leaves the triad)
    assert beats[156] == chord_index(E, "maj")


# ---------------------------------------------------------------- tunes


def _symbols_in_abc(text: str) -> list[int]:
    body = text[text.index("\nK:"):]
    body = body[body.index("\n", 1):]
    return [parse_chord_name(s) for s in re.findall(r'"([A-G][^"]*)"', body)]


def _collapse(seq):
    return [c for i, c in enumerate(seq) if i == 0 or seq[i - 1] != c]


def test_nottingham_tune_follows_its_chord_symbols(tmp_path):
    pytest.importorskip("music21")
    # ryansMammoth and oneills1850 have no chord symbols (fingerings and dynamics only):
    # the Nottingham tunes that music21 ships are the ABC tunes that do.
    text = dict(corpus_mod.split_abc(corpus_mod.read_text(
        corpus_mod.corpus_dir() / "nottingham-dataset" / "reelsa-c.abc")))["80"]
    (r,) = extract_chord_file(_abc(tmp_path, text, "reelsa-c.abc"), "nottingham-dataset")
    assert r.status == "ok", r.error
    p = r.piece
    assert p.key == (D, False)  # K:D
    assert p.melody.meters[0] == Meter(-36, 4, 4)  # a quarter pickup "A|"
    # 'A|"D"A/2d/2d/2c/2 d/2e/2f/2d/2|"Em"e/2d/2c/2B/2 "A"AA/2B/2|"C"=c/2B/2...'
    assert _names(p.beats[:13]) == [
        (-36, "N.C."), (-24, "N.C."), (-12, "N.C."), (0, "N.C."),
        (12, "D"), (24, "D"), (36, "D"), (48, "D"), (60, "Em"), (72, "Em"), (84, "A"), (96, "A"), (108, "C")]
    # every symbol falls on a beat here, so the beats spell the symbols in order
    labels = [c for _, c in p.beats if c != NO_CHORD]
    assert _collapse(labels) == _collapse(_symbols_in_abc(text))
    assert r.info["symbols"] == len(_symbols_in_abc(text))


def test_chord_symbol_kinds_map_onto_the_vocabulary(tmp_path):
    pytest.importorskip("music21")
    chords = ["G", "D7", "Em", "Am7", "A/C#", "Bbm", "F#m7b5", "D/f+", "Gsus4", "C6", "Cm6", "Edim7",
              "C9", "Bbmaj7", "Caug", "f", "CmM7", "N.C.", "Em7/D"]
    tune = "X:1\nT:t\nM:4/4\nL:1/4\nK:G\n" + "|".join(f'"{c}"G4' for c in chords) + "|\n"
    (r,) = extract_chord_file(_abc(tmp_path, tune), "test")
    assert r.status == "ok", r.error
    by_bar = [c for _, c in r.piece.beats[::4]]
    expected = ["G", "D7", "Em", "Am7", "A", "Bbm", "F#m7b5", "D", "Gsus4", "C", "Cm", "Edim",
                "C7", "Bbmaj7", "Caug", "Caug",  # "f" is a dynamic, not a chord: the last chord holds
                "N.C.", "N.C.", "Em7"]  # minor-major seventh: outside the vocabulary, N.C.
    assert [chord_name(c) for c in by_bar] == expected
    assert r.info["ignored_texts"] == {"f": 1}
    assert r.info["unmapped_kinds"] == {"minor-major-seventh": 1}
    assert r.piece.key == (G, False)


def test_tune_keys_and_tunes_without_chords(tmp_path):
    pytest.importorskip("music21")
    body = '"Am"ABcd|"E7"efge|\n'
    keys = {"Ador": (A, True), "Dmix": (D, False), "F#m": (6, True), "Bb": (10, False), "none": None}
    for k, want in keys.items():
        (r,) = extract_chord_file(_abc(tmp_path, f"X:1\nM:4/4\nL:1/4\nK:{k}\n{body}"), "test")
        assert r.piece.key == want, k
    # fingerings and a single chord are not enough
    (r,) = extract_chord_file(_abc(tmp_path, 'X:1\nM:4/4\nL:1/4\nK:D\n"4"AB"0"cd|"G"efge|\n'), "test")
    assert r.status == "no_chords" and r.piece is None


def test_broken_tune_is_counted_not_raised(tmp_path):
    pytest.importorskip("music21")
    path = _abc(tmp_path, 'X:1\nM:3/0\nL:1/8\nK:C\n"C"CDEF|"G"GABc|\n\nX:2\nM:2/4\nL:1/8\nK:C\n"C"CDEF|"G"GABc|\n')
    results = extract_chord_file(path, "test")
    assert [(r.id, r.status) for r in results] == [("tune.abc#1", "failed"), ("tune.abc#2", "ok")]
    assert results[0].error
    assert _names(results[1].piece.beats) == [(0, "C"), (12, "C"), (24, "G"), (36, "G")]


def test_worker_processes_give_the_in_process_result():
    pytest.importorskip("music21")
    tune = 'X:{}\nM:2/4\nL:1/8\nK:G\n"G"{}|"D7"GABc|dedc|\n'
    batches = [[(f"t.abc#{i}", "test", "abc", tune.format(i, "DE" * i), False)] for i in range(1, 4)]
    batches.append([("t.abc#9", "test", "abc", "X:9\nM:3/0\nK:C\nC|\n", False)])
    two = corpus_mod._run_batches(batches, 2, False, work=cc._chord_work)
    assert two == corpus_mod._run_batches(batches, 1, False, work=cc._chord_work)
    assert [b[0][1] for b in two] == ["ok", "ok", "ok", "failed"]


# ---------------------------------------------------------------- the cache


def test_load_chord_corpus_caches_and_reports(tmp_path, monkeypatch):
    calls = []
    pieces = [_piece("bach/bwv300.mxl", "chorales", [60, 62, 64, 65, 67], (C, False)),
              *[_piece(f"oneills1850/x.abc#{i}", "oneills1850", [60, 61 + i % 10, 62 + i // 10, 60])
                for i in range(100)]]  # 100 different tunes: none is a duplicate of a held-out one

    def fake_extract(workers, progress):
        calls.append(workers)
        stats = {c: cc._new_stats() for c in ("chorales", "bach", *cc.TUNE_COLLECTIONS)}
        return list(pieces), stats, {"items": len(pieces)}

    monkeypatch.setattr(cc, "_extract", fake_extract)
    monkeypatch.setattr(cc, "music21_version", lambda: "0.test")
    first = cc.load_chord_corpus(cache_dir=tmp_path, workers=1, progress=False)
    again = cc.load_chord_corpus(cache_dir=tmp_path, workers=1, progress=False)
    assert calls == [1]
    assert (tmp_path / f"chords-v{cc.CHORD_EXTRACTION_VERSION}-music21-0.test.pkl").is_file()
    assert [p.id for p in again.train] == [p.id for p in first.train]
    assert again.eval_sets["chorales"][0].beats == pieces[0].beats
    assert again.eval_sets["chorales"][0].key == (C, False)
    assert len(again.train) + len(again.valid) + len(again.eval_sets["tunes"]) == 100
    labels = again.report["labels"]
    assert labels["chorales"]["beats"] == 5 and labels["chorales"]["tonic_triad"] == 0.2
    assert np.isclose(sum(labels["train"]["qualities"].values()) + labels["train"]["no_chord"], 1.0)
    assert cc.summary_lines(again.report)
    cc.load_chord_corpus(cache_dir=tmp_path, workers=1, progress=False, force=True)
    assert calls == [1, 1]
