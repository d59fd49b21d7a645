"""Corpus extraction: single tunes checked by hand against their ABC text, the
meter/pickup logic, the BWV split, de-duplication, the validation split and the cache.

Expected ticks are worked out from the ABC by hand (quarter = 12 ticks; with L:1/8 an
eighth is 6, with L:1/16 a sixteenth is 3).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from assistant.music import Melody, Meter, Note
from assistant.train import corpus as corpus_mod
from assistant.train.corpus import (
    chorale_files,
    extract_file,
    extract_tunes,
    is_eval_bwv,
    is_valid,
    meters_from_bars,
    remove_eval_duplicates,
    split_abc,
)


def _abc(tmp_path: Path, text: str, name: str = "tune.abc") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _triples(m: Melody) -> list[tuple[int, int, int]]:
    return [(n.onset, n.duration, n.pitch) for n in m.notes]


@pytest.fixture(scope="module")
def kinder_tunes() -> dict[str, str]:
    pytest.importorskip("music21")
    text = corpus_mod.read_text(corpus_mod.corpus_dir() / "essenFolksong" / "kinder0.abc")
    return dict(split_abc(text))


def _one(tmp_path: Path, text: str, collection: str = "kinder") -> Melody:
    melodies = extract_tunes(_abc(tmp_path, text), collection)
    assert len(melodies) == 1
    return melodies[0]


# ---------------------------------------------------------------- pure helpers


def test_split_abc_keeps_file_header_and_x_numbers():
    text = "%header line\nL:1/8\n\nX:3\nT:a\nK:C\nCDEF|\n\nX:7\nT:b\nK:C\nGABc|\n"
    tunes = split_abc(text)
    assert [k for k, _ in tunes] == ["3", "7"]
    assert all(t.startswith("%header line\nL:1/8\n") for _, t in tunes)
    assert "GABc" in tunes[1][1] and "CDEF" not in tunes[1][1]
    assert split_abc("X:1\nK:C\nC|\nX:1\nK:C\nD|\n")[1][0] == "1.2"  # repeated X: stays unique


def test_meters_from_bars_pickup_change_and_resync():
    # 4/4 with a quarter pickup: first full bar at 12, first meter at 12 - 48.
    assert meters_from_bars([(0, 12, 4, 4), (12, 48, 4, 4), (60, 36, 4, 4)]) == [Meter(-36, 4, 4)]
    # meter change at its bar line
    assert meters_from_bars([(0, 24, 2, 4), (24, 24, 2, 4), (48, 36, 3, 4), (84, 36, 3, 4)]) == [
        Meter(0, 2, 4), Meter(48, 3, 4)]
    # short bar before a repeat + pickup after it that complete a bar: no new meter
    bars = [(0, 12, 4, 4), (12, 48, 4, 4), (60, 36, 4, 4), (96, 12, 4, 4), (108, 48, 4, 4)]
    assert meters_from_bars(bars) == [Meter(-36, 4, 4)]
    # a bar line off the running grid opens a new meter of the same signature
    assert meters_from_bars([(0, 48, 4, 4), (48, 36, 4, 4), (84, 48, 4, 4)]) == [Meter(0), Meter(84)]
    assert meters_from_bars([]) == [Meter(0)]


def test_bwv_split_boundaries(tmp_path):
    assert not is_eval_bwv("bwv252.mxl")
    assert is_eval_bwv("bwv253.mxl")
    assert is_eval_bwv("bwv438.mxl")
    assert not is_eval_bwv("bwv439.mxl")
    assert not is_eval_bwv("bwv248.12-2.mxl")
    bach = tmp_path / "bach"
    bach.mkdir()
    for name in ("bwv252.mxl", "bwv253.mxl", "bwv438.mxl", "bwv439.mxl", "bwv300.mxl",
                 "bwv277.mxl", "bwv277.krn", "bwv9.5.mxl", "notes.txt"):
        (bach / name).write_text("")
    train, evals, dupes = chorale_files(tmp_path)
    assert sorted(train) == ["bach/bwv252.mxl", "bach/bwv439.mxl", "bach/bwv9.5.mxl"]
    assert evals == ["bach/bwv253.mxl", "bach/bwv277.mxl", "bach/bwv300.mxl", "bach/bwv438.mxl"]
    assert dupes == ["bach/bwv277.krn"]


def _mel(mid: str, pitches: list[int], collection: str = "essenFolksong") -> Melody:
    return Melody(mid, collection, [Note(6 * i, 6, p) for i, p in enumerate(pitches)])


def test_dedup_transposed_prefix_and_different():
    tune = [60, 62, 64, 65, 67, 65, 64, 62, 60, 60, 62, 64, 62, 60, 59, 60, 62, 64]
    evals = [_mel("bach/bwv300.mxl", tune, "chorales")]
    train = [
        _mel("a", [p + 5 for p in tune]),                    # transposed copy
        _mel("b", tune),                                     # exact copy
        _mel("c", [p - 2 for p in tune[:16]] + [70, 71, 72]),  # first 16 match, ending differs
        _mel("d", tune[:15] + [61, 62, 64]),                 # differs inside the first 16
        _mel("e", [p + 1 for p in tune[:10]]),               # a short fragment: kept
    ]
    kept, removed = remove_eval_duplicates(train, evals)
    assert [m.id for m in removed] == ["a", "b", "c"]
    assert [m.id for m in kept] == ["d", "e"]
    short_eval = [_mel("k#1", [60, 64, 67, 72], "kinder")]
    kept, removed = remove_eval_duplicates([_mel("x", [50, 54, 57, 62]), _mel("y", [60, 64, 67, 72, 60])],
                                           short_eval)
    assert [m.id for m in removed] == ["x"] and [m.id for m in kept] == ["y"]
    assert corpus_mod.find_eval_duplicates(train, evals) == {k: "bach/bwv300.mxl" for k in "abc"}


def test_validation_split_is_deterministic_and_about_five_percent():
    ids = [f"essenFolksong/erk10.abc#{i}" for i in range(2000)]
    first = [is_valid(i) for i in ids]
    assert first == [is_valid(i) for i in ids]
    assert 60 <= sum(first) <= 140
    assert is_valid("bach/bwv26.6.mxl") == is_valid("bach/bwv26.6.mxl")


# -------------------------------------------------------------- hand-made ABC


def test_ties_merged_chords_highest_grace_dropped_rests_kept(tmp_path):
    pytest.importorskip("music21")
    m = _one(tmp_path, "X:1\nM:4/4\nL:1/4\nK:C\nC2 D2-|D2 E2|F4-|F4|\n", "test")
    assert _triples(m) == [(0, 24, 60), (24, 48, 62), (72, 24, 64), (96, 96, 65)]
    m = _one(tmp_path, 'X:1\nM:4/4\nL:1/4\nK:C\n[CEG]2 [DF]2|{g}A2 "Am"B2|c z z c|[c4e4]|\n', "test")
    assert _triples(m) == [(0, 24, 67), (24, 24, 65), (48, 24, 69), (72, 24, 71),
                           (96, 12, 72), (132, 12, 72), (144, 48, 76)]
    assert m.id == "tune.abc#1" and m.meters == [Meter(0, 4, 4)]
    assert all(n.velocity == Note(0, 1, 60).velocity for n in m.notes)


def test_repeats_kept_as_written_and_6_8_pickup(tmp_path):
    pytest.importorskip("music21")
    m = _one(tmp_path, "X:5\nM:6/8\nL:1/8\nK:D\nA|d2d f2f|a3 a2:|\n|:f|e2e e2A|d3 d2|]\n", "test")
    assert m.meters == [Meter(-30, 6, 8)]
    assert [n.pitch for n in m.notes] == [69, 74, 74, 78, 78, 81, 81, 78, 76, 76, 76, 69, 74, 74]
    # pickup 6 + bar 36 + short bar 30 + pickup 6 + bar 36 + short bar 30: nothing played twice
    assert m.notes[-1].end == 144


def test_free_meter_bars_get_their_own_length(tmp_path):
    pytest.importorskip("music21")
    # "M: none" (218 Essen tunes): bar lines but no meter; each bar is its own meter.
    m = _one(tmp_path, "X:1\nM: none\nL:1/4\nK:C\nCDE|FGAB|c4|d/e/f/|\n", "test")
    assert m.meters == [Meter(0, 3, 4), Meter(36, 4, 4), Meter(132, 3, 8)]
    assert corpus_mod.free_signature(30) == (5, 8) and corpus_mod.free_signature(9) == (3, 16)


def test_broken_tune_is_counted_not_fatal(tmp_path):
    pytest.importorskip("music21")
    path = _abc(tmp_path, "X:1\nM:3/0\nL:1/8\nK:C\nCDEF|GABc|\n\nX:2\nM:2/4\nL:1/8\nK:C\nCDEF|GABc|\n\n"
                          "X:3\nM:2/4\nL:1/8\nK:C\nCD|\n")
    results = extract_file(path, "test")
    assert [(r.id, r.status) for r in results] == [
        ("tune.abc#1", "failed"), ("tune.abc#2", "ok"), ("tune.abc#3", "too_short")]
    assert results[0].error
    assert [m.id for m in extract_tunes(path, "test")] == ["tune.abc#2"]


def test_worker_processes_give_the_in_process_result():
    pytest.importorskip("music21")
    tune = "X:{}\nM:2/4\nL:1/8\nK:G\n{}|GABc|dedc|\n"
    batches = [[(f"t.abc#{i}", "test", "abc", tune.format(i, "DE" * i), False)] for i in range(1, 4)]
    batches.append([("t.abc#9", "test", "abc", "X:9\nM:3/0\nK:C\nC|\n", False)])
    assert corpus_mod._run_batches(batches, 2, False) == corpus_mod._run_batches(batches, 1, False)


# ---------------------------------------------------------------- the corpus


def test_kinder_tune_1_by_hand(tmp_path, kinder_tunes):
    # M:2/4 L:1/8 K:F; " | A2GG | F2z / C | AAGG | F2z / F | BBGG | ccA / A | BBGG | ccA2 /
    # B2GG | F2z2": starts on a downbeat (the line opens with a bar line); the bar
    # "ccA2 B2GG" has no bar line in the middle and is two bars long.
    m = _one(tmp_path, kinder_tunes["1"])
    assert m.meters == [Meter(0, 2, 4)]
    A, G, F, C, B, c = 69, 67, 65, 60, 70, 72  # K:F: B is B flat
    assert _triples(m) == [
        (0, 12, A), (12, 6, G), (18, 6, G),
        (24, 12, F), (42, 6, C),
        (48, 6, A), (54, 6, A), (60, 6, G), (66, 6, G),
        (72, 12, F), (90, 6, F),
        (96, 6, B), (102, 6, B), (108, 6, G), (114, 6, G),
        (120, 6, c), (126, 6, c), (132, 6, A), (138, 6, A),
        (144, 6, B), (150, 6, B), (156, 6, G), (162, 6, G),
        (168, 6, c), (174, 6, c), (180, 12, A), (192, 12, B), (204, 6, G), (210, 6, G),
        (216, 12, F),
    ]


def test_kinder_tune_24_pickup_3_4(tmp_path, kinder_tunes):
    # M:3/4 L:1/8 K:G; "B2 | d2B2B2 | B3AA2 | c2A2A2 | B4 / B2 | ...": a quarter
    # pickup, so the first full bar starts at 12 and the 3/4 meter at 12 - 36 = -24.
    m = _one(tmp_path, kinder_tunes["24"])
    assert m.meters == [Meter(-24, 3, 4)]
    assert _triples(m)[:12] == [
        (0, 12, 71), (12, 12, 74), (24, 12, 71), (36, 12, 71), (48, 18, 71), (66, 6, 69),
        (72, 12, 69), (84, 12, 72), (96, 12, 69), (108, 12, 69), (120, 24, 71), (144, 12, 71)]
    assert len(m.notes) == 45  # 11 + 11 + 11 + 12 per line
    assert m.notes[-1] == Note(552, 24, 67)  # 4 lines of 144 ticks; the final G4 is a half note


def test_kinder_tune_29_and_34_pickups(tmp_path, kinder_tunes):
    # 29: M:2/4 L:1/16, "G2 | d2d2e2e2 | d4B2 ...": an eighth pickup -> first meter at 6 - 24.
    m = _one(tmp_path, kinder_tunes["29"])
    assert m.meters == [Meter(-18, 2, 4)]
    assert _triples(m)[:7] == [(0, 6, 67), (6, 6, 74), (12, 6, 74), (18, 6, 76), (24, 6, 76),
                               (30, 12, 74), (42, 6, 71)]
    # 34: M:6/8 L:1/16, "dc | B3cB2A2B2A2 | G6z4 ...": a two-sixteenth pickup -> 6 - 36.
    m = _one(tmp_path, kinder_tunes["34"])
    assert m.meters == [Meter(-30, 6, 8)]
    assert _triples(m)[:8] == [(0, 3, 74), (3, 3, 72), (6, 9, 71), (15, 3, 72), (18, 6, 71),
                               (24, 6, 69), (30, 6, 71), (36, 6, 69)]
    assert m.notes[8] == Note(42, 18, 67) and m.notes[9].onset == 72  # G6 then the rest z4


def test_chorale_soprano_bwv253():
    pytest.importorskip("music21")
    path = corpus_mod.corpus_dir() / "bach" / "bwv253.mxl"
    (m,) = extract_tunes(str(path), "chorales")
    assert m.id == "bach/bwv253.mxl"
    assert m.meters[0] == Meter(-36, 4, 4)  # quarter-note pickup in 4/4
    assert _triples(m)[:6] == [(0, 12, 73), (12, 6, 73), (18, 6, 74), (24, 12, 76), (36, 12, 73), (48, 12, 69)]


def test_chorale_with_instruments_takes_the_soprano():
    pytest.importorskip("music21")
    # bwv12.7's first part is an oboe; the melody is the Soprano part.
    (m,) = extract_tunes(str(corpus_mod.corpus_dir() / "bach" / "bwv12.7.mxl"), "bach")
    from music21 import converter

    score = converter.parse(str(corpus_mod.corpus_dir() / "bach" / "bwv12.7.mxl"))
    soprano = [p for p in score.parts if p.partName == "Soprano"][0]
    first = [int(n.pitch.ps) for n in soprano.flatten().notes][:4]
    assert [n.pitch for n in m.notes][:4] == first


# ------------------------------------------------------------------- the cache


def test_load_corpus_caches_dedups_and_splits(tmp_path, monkeypatch):
    calls = []
    evals = {"chorales": [_mel("bach/bwv300.mxl", list(range(60, 80)), "chorales")],
             "kinder": [_mel("essenFolksong/kinder0.abc#1", [60, 62, 64, 65, 67], "kinder")]}
    train = [_mel(f"essenFolksong/erk10.abc#{i}", [60 + i % 7, 62, 64, 60 + i % 5, 59]) for i in range(200)]
    train.append(_mel("bach/bwv1.6.mxl", list(range(50, 70)), "bach"))  # transposed eval chorale

    def fake_extract(with_train, workers, progress):
        calls.append(with_train)
        stats = {c: corpus_mod._new_stats() for c in (*corpus_mod.EVAL_SETS, *corpus_mod.TRAIN_COLLECTIONS)}
        return ({k: list(v) for k, v in evals.items()}, list(train) if with_train else [], stats)

    monkeypatch.setattr(corpus_mod, "_extract", fake_extract)
    monkeypatch.setattr(corpus_mod, "music21_version", lambda: "0.test")
    c = corpus_mod.load_corpus(cache_dir=tmp_path, workers=1, progress=False)
    assert calls == [True]
    assert c.report["bach"]["duplicates_removed"] == 1 and c.report["bach"]["melodies"] == 0
    assert c.report["bach"]["duplicate_ids"] == {"bach/bwv1.6.mxl": "bach/bwv300.mxl"}
    assert len(c.train) + len(c.valid) == 200 and 0 < len(c.valid) < 30
    assert all(is_valid(m.id) for m in c.valid) and not any(is_valid(m.id) for m in c.train)
    assert c.eval_sets["kinder"][0].notes == evals["kinder"][0].notes
    again = corpus_mod.load_corpus(cache_dir=tmp_path, workers=1, progress=False)
    assert calls == [True] and [m.id for m in again.train] == [m.id for m in c.train]
    assert corpus_mod.load_eval_sets(cache_dir=tmp_path)["chorales"][0].id == "bach/bwv300.mxl"
    assert calls == [True]  # the eval sets came from their own cache
    corpus_mod.load_corpus(cache_dir=tmp_path, workers=1, progress=False, force=True)
    assert calls == [True, True]
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"corpus-v{corpus_mod.EXTRACTION_VERSION}-music21-0.test.pkl",
                     f"eval-v{corpus_mod.EXTRACTION_VERSION}-music21-0.test.pkl"]
    (tmp_path / files[0]).write_bytes(b"not a pickle")
    corpus_mod.load_corpus(cache_dir=tmp_path, workers=1, progress=False)
    assert calls == [True, True, True]  # a damaged cache is rebuilt, not fatal
    with open(tmp_path / files[0], "rb") as f:
        assert pickle.load(f)["version"] == corpus_mod.EXTRACTION_VERSION


def test_bad_workers_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "music21_version", lambda: "0.test")
    with pytest.raises(corpus_mod.UserError, match="--workers"):
        corpus_mod.load_corpus(cache_dir=tmp_path, workers=0, progress=False)


def test_unwritable_cache_fails_before_extracting(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "music21_version", lambda: "0.test")
    monkeypatch.setattr(corpus_mod, "_extract", lambda *a: pytest.fail("extracted before checking the cache"))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(corpus_mod.UserError, match="cache folder"):
        corpus_mod.load_corpus(cache_dir=blocker / "cache", progress=False)
