"""Chord-labelled melodies for the chord model, from the corpus inside ``music21``.

Each piece is a melody (ticks, quarter = 12) plus one chord id per beat
(``harmony`` vocabulary, ``NO_CHORD`` = 0) and, where known, its key.

Sources (``<music21>/corpus/...``):

* Bach chorales (``bach/``, the same files and the same held-out BWV 253..438 as the
  melody corpus, ``corpus.chorale_files``). The melody is the Soprano part
  (``corpus._soprano``, ``corpus._melody_from_part``); the chord of each beat is
  *recognised* from all parts with ``harmony.recognise_chord`` (``beat_chord``): every
  note of every part weighs its overlap in ticks with the beat, twice that for a note
  sounding at the beat's onset (so passing notes weigh less); the bass is the lowest
  pitch sounding at the onset (else the lowest in the beat). The key is music21's
  ``score.analyze('key')``.
* Tunes with chord symbols: ``TUNE_COLLECTIONS`` (ABC, one piece per ``X:`` tune). The
  chord of a beat is the last chord symbol at or before it (N.C. before the first);
  ``symbol_chord`` maps a ``ChordSymbol`` onto the vocabulary by root and kind. A tune
  counts only with at least ``MIN_SYMBOLS`` symbols that map. Quoted texts whose root
  letter is lower case ("f" for forte, "e") are not chord symbols (ABC roots are
  upper case) and are ignored. The key comes from the tune's ``K:`` field.

  Measured on music21 10.5: ``ryansMammoth`` and ``oneills1850`` carry (almost) no
  chord symbols at all: their quoted texts are fingerings, dynamics, "D.C.", "Segue",
  collectors' names. ``nottingham-dataset`` (two tunes in music21's corpus) is the
  only ABC source with real ones, so it is read too.

Split: evaluation sets ``chorales`` (BWV 253..438) and ``tunes`` (``is_eval_tune``: a
salted hash of the tune id, ``TUNE_EVAL_PERCENT`` of the tunes). Training chorales or
tunes whose soprano/melody duplicates an evaluation one (``corpus.find_eval_duplicates``)
are dropped; the rest split train/valid with ``corpus.is_valid``.

Threads and processes as in ``corpus``: ``load_chord_corpus`` is for the main thread
and starts worker processes; ``extract_chord_file`` and the worker entry point
``_chord_work`` run in any one process; the pure helpers (``beat_chord``,
``label_beats``, ``symbol_beats``, ``piece_span``, ``is_eval_tune``,
``label_summary``) are thread-safe.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..music.harmony import NO_CHORD, QUALITIES, beat_grid, chord_index, chord_quality, recognise_chord
from ..music import Melody, Meter, Note, bar_start
from . import corpus as _c
from .corpus import (
    MIN_NOTES,
    _batches,
    _check_writable,
    _items_of_file,
    _melody_from_part,
    _quiet,
    _read_pickle,
    _run_batches,
    _soprano,
    _ticks,
    _workers,
    _write_pickle,
    chorale_files,
    corpus_dir,
    default_cache_dir,
    find_eval_duplicates,
    is_valid,
    music21_version,
)

CHORD_EXTRACTION_VERSION = 2  # 2: a seventh must earn its fourth tone (harmony.SEVENTH_COST)
"""Bump when the extraction changes what it produces; old caches are then ignored."""

TUNE_COLLECTIONS = ("ryansMammoth", "oneills1850", "nottingham-dataset")
CHORD_EVAL_SETS = ("chorales", "tunes")
TUNE_EVAL_PERCENT = 10
MIN_SYMBOLS = 2
ONSET_WEIGHT = 2
"""A note sounding at the beat's onset weighs this many times its overlap."""

KIND_TO_QUALITY: dict[str, str] = {
    "major": "maj", "minor": "min", "diminished": "dim", "augmented": "aug",
    "dominant-seventh": "7", "major-seventh": "maj7", "minor-seventh": "m7",
    "half-diminished-seventh": "m7b5", "suspended-fourth": "sus4",
    "diminished-seventh": "dim", "major-sixth": "maj", "minor-sixth": "min",
    "dominant-ninth": "7", "dominant-11th": "7", "dominant-13th": "7",
    "major-ninth": "maj7", "minor-ninth": "m7", "minor-11th": "m7",
    "suspended-second": "maj", "power": "maj",
}
"""music21 ``chordKind`` -> vocabulary quality; any other kind is unmapped (N.C.)."""

_MINOR_MODES = frozenset({"minor", "aeolian", "dorian", "phrygian", "locrian"})
_K_FIELD_RE = re.compile(r"^K:[ \t]*(\S*)", re.MULTILINE)
_CHORD_BATCH = "chords"


@dataclass
class ChordPiece:
    """One melody with a chord per beat.

    ``beats``: ``(tick, chord id)`` for every beat from the first beat of the first
    bar that has a note to the end of the last note, in order (beats of a pickup bar
    before the first note are N.C.). ``key``: ``(tonic pitch class, is minor)`` or None.
    """

    id: str
    collection: str
    melody: Melody
    beats: list[tuple[int, int]]
    key: tuple[int, bool] | None


@dataclass
class ChordCorpus:
    """``train``/``valid`` (chorales and tunes, split by piece), ``eval_sets``
    (``'chorales'``, ``'tunes'``) and ``report`` (see ``load_chord_corpus``)."""

    train: list[ChordPiece]
    valid: list[ChordPiece]
    eval_sets: dict[str, list[ChordPiece]]
    report: dict = field(default_factory=dict)


@dataclass
class ChordItemResult:
    """What one score or tune gave. ``status``: ok, failed, not_chorale, too_short or
    no_chords; ``info``: counters for the report (``unmapped_kinds``, ``ignored_texts``,
    ``symbols``, ``off_grid``, ``key_failed``)."""

    id: str
    status: str
    piece: ChordPiece | None = None
    info: dict = field(default_factory=dict)
    error: str = ""


# ------------------------------------------------------------------ pure helpers


def is_eval_tune(tune_id: str) -> bool:
    """Whether a tune is held out for evaluation (stable, by tune). The hash is salted:
    ``is_valid`` uses the plain sha1 % 100 < 5, which would otherwise fall entirely
    inside the evaluation tunes and leave no tune for validation."""
    digest = hashlib.sha1(f"chord-eval:{tune_id}".encode()).hexdigest()
    return int(digest, 16) % 100 < TUNE_EVAL_PERCENT


def piece_span(notes: list[Note], meters: list[Meter]) -> tuple[int, int]:
    """``(start, end)``: the downbeat of the first bar with a note, the end of the last note."""
    if not notes:
        return 0, 0
    first = min(n.onset for n in notes)
    return bar_start(meters, first), max(n.end for n in notes)


def _note_arrays(notes: list[Note]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    onset = np.array([n.onset for n in notes], dtype=np.int64)
    end = np.array([n.end for n in notes], dtype=np.int64)
    pitch = np.array([n.pitch for n in notes], dtype=np.int64)
    return onset, end, pitch


def beat_weights(arrays, tick: int, length: int) -> tuple[np.ndarray, int | None]:
    """Pitch-class weights [12] of the beat ``[tick, tick + length)`` and its bass
    (MIDI pitch, None when nothing sounds); ``arrays`` from ``_note_arrays``."""
    onset, end, pitch = arrays
    overlap = np.minimum(end, tick + length) - np.maximum(onset, tick)
    inside = overlap > 0
    weights = np.zeros(12)
    if not inside.any():
        return weights, None
    at_onset = (onset <= tick) & (end > tick)
    w = overlap * np.where(at_onset, ONSET_WEIGHT, 1)
    np.add.at(weights, pitch[inside] % 12, w[inside])
    bass = int(pitch[at_onset].min()) if at_onset.any() else int(pitch[inside].min())
    return weights, bass


def beat_chord(notes_or_arrays, tick: int, length: int) -> int:
    """The chord id that the notes (all voices) form over one beat."""
    arrays = notes_or_arrays if isinstance(notes_or_arrays, tuple) else _note_arrays(notes_or_arrays)
    weights, bass = beat_weights(arrays, tick, length)
    return recognise_chord(weights, bass)[0]


def label_beats(notes: list[Note], meters: list[Meter], start: int, end: int) -> list[tuple[int, int]]:
    """``(tick, chord id)`` of every beat in ``[start, end)`` from all the ``notes``."""
    if not notes:
        return [(t, NO_CHORD) for t, _, _ in beat_grid(meters, start, end)]
    arrays = _note_arrays(notes)
    return [(t, beat_chord(arrays, t, length)) for t, _, length in beat_grid(meters, start, end)]


def symbol_beats(symbols: list[tuple[int, int]], meters: list[Meter], start: int,
                 end: int) -> list[tuple[int, int]]:
    """``(tick, chord id)`` of every beat: the last symbol ``(tick, chord)`` at or
    before the beat, N.C. before the first one."""
    symbols = sorted(symbols, key=lambda s: s[0])  # stable: the later of two at one tick wins
    ticks = [s[0] for s in symbols]
    out = []
    for t, _, _ in beat_grid(meters, start, end):
        i = bisect.bisect_right(ticks, t)
        out.append((t, symbols[i - 1][1] if i else NO_CHORD))
    return out


def label_summary(pieces: list[ChordPiece]) -> dict:
    """Pieces, beats, share of N.C. and of each quality, share of beats on the key's
    tonic triad (pieces with a key) and how often the chord changes from beat to beat."""
    labels = [c for p in pieces for _, c in p.beats]
    n = len(labels)
    counts = Counter(chord_quality(c) or "N.C." for c in labels)
    tonic = keyed = changes = pairs = 0
    for p in pieces:
        seq = [c for _, c in p.beats]
        changes += sum(a != b for a, b in zip(seq, seq[1:]))
        pairs += max(0, len(seq) - 1)
        if p.key is not None:
            home = chord_index(p.key[0], "min" if p.key[1] else "maj")
            keyed += len(seq)
            tonic += sum(c == home for c in seq)
    return {"pieces": len(pieces), "beats": n,
            "no_chord": round(counts.get("N.C.", 0) / n, 4) if n else 0.0,
            "qualities": {q: round(counts.get(q, 0) / n, 4) if n else 0.0 for q in QUALITIES},
            "tonic_triad": round(tonic / keyed, 4) if keyed else 0.0,
            "changes_per_beat": round(changes / pairs, 4) if pairs else 0.0}


# ------------------------------------------------------------------ chord symbols


def _flat_fifth(cs) -> bool:
    for mod in getattr(cs, "chordStepModifications", None) or []:
        try:
            if int(mod.degree) == 5 and mod.interval is not None and int(mod.interval.semitones) == -1:
                return True
        except (TypeError, ValueError, AttributeError):
            continue
    return False


def _is_power(cs) -> bool:
    """``C5``: music21 gives kind '' with an "add 5" modification."""
    mods = getattr(cs, "chordStepModifications", None) or []
    return not cs.chordKind and any(getattr(m, "degree", None) == 5 for m in mods)


def symbol_chord(cs) -> tuple[str, int | str]:
    """Classify a music21 ``ChordSymbol``: ``("chord", id)``, ``("nc", NO_CHORD)``,
    ``("unmapped", kind)`` (a chord outside the vocabulary: N.C.) or ``("text", figure)``
    (not a chord symbol: ignored).

    Slash chords map by the chord before the slash (music21 reads Nottingham's
    "D/f+", D over F#, as an augmented chord); "m7b5" comes from music21 as a minor
    seventh with a flat-fifth modification.
    """
    from music21 import harmony

    if isinstance(cs, harmony.NoChord):
        return "nc", NO_CHORD
    figure = (getattr(cs, "figure", None) or "").strip()
    if figure and not ("A" <= figure[0] <= "G"):
        return "text", figure
    if "/" in figure and figure.split("/")[0]:
        try:
            cs = harmony.ChordSymbol(figure.split("/")[0])
        except Exception:  # noqa: BLE001 - music21 raises several types for bad figures
            return "unmapped", f"unparsed:{figure}"
    root = cs.root()
    if root is None:
        return "unmapped", cs.chordKind or "none"
    kind = cs.chordKind or ""
    if _is_power(cs):
        kind = "power"
    quality = KIND_TO_QUALITY.get(kind)
    if quality is not None and _flat_fifth(cs):
        quality = {"m7": "m7b5", "min": "dim"}.get(quality, quality)
    if quality is None:
        return "unmapped", kind or "none"
    return "chord", chord_index(root.pitchClass, quality)


def _tune_key(part, text: str) -> tuple[int, bool] | None:
    from music21 import key

    m = _K_FIELD_RE.search(text)
    if m is not None and m.group(1).lower().startswith("none"):
        return None
    ks = part.flatten().getElementsByClass(key.KeySignature).first()
    if ks is None:
        return None
    if isinstance(ks, key.Key) and ks.mode:
        return ks.tonic.pitchClass, ks.mode.lower() in _MINOR_MODES
    return ks.asKey("major").tonic.pitchClass, False


# ------------------------------------------------------------------ extraction


def _error(err: Exception) -> str:
    return f"{type(err).__name__}: {err}".splitlines()[0][:200] if str(err) else type(err).__name__


def _score_notes(score) -> tuple[list[Note], int]:
    """Every note of every part (chords expanded, grace notes skipped) and how many
    fell off the tick grid."""
    from music21 import chord, harmony, note

    out: list[Note] = []
    off_grid = 0
    for part in score.parts:
        for el in part.flatten().getElementsByClass((note.Note, chord.Chord)):
            if isinstance(el, harmony.Harmony) or el.duration.isGrace or el.quarterLength <= 0:
                continue
            onset, off1 = _ticks(el.offset)
            end, off2 = _ticks(el.offset + el.quarterLength)
            off_grid += off1 or off2
            pitches = [n.pitch for n in el.notes] if isinstance(el, chord.Chord) else [el.pitch]
            for p in pitches:
                midi = int(round(p.ps))
                if 0 <= midi <= 127:
                    out.append(Note(onset, max(1, end - onset), midi))
    out.sort(key=lambda n: (n.onset, n.pitch))
    return out, off_grid


def extract_chorale(path: str, piece_id: str, collection: str) -> ChordItemResult:
    """One chorale score: the soprano melody and the recognised chord of every beat."""
    from music21 import converter

    info: dict = {}
    score = converter.parse(path)
    part, is_soprano = _soprano(score)
    if not is_soprano and not str(path).lower().endswith(".krn"):
        return ChordItemResult(piece_id, "not_chorale", info=info, error="no Soprano part")
    if part is None:
        return ChordItemResult(piece_id, "too_short", info=info)
    melody, off_grid = _melody_from_part(part, piece_id, collection)
    notes, off_all = _score_notes(score)
    info["off_grid"] = off_all
    if len(melody.notes) < MIN_NOTES:
        return ChordItemResult(piece_id, "too_short", info=info)
    start, end = piece_span(notes, melody.meters)
    beats = label_beats(notes, melody.meters, start, end)
    try:
        k = score.analyze("key")
        key = (k.tonic.pitchClass, k.mode == "minor")
    except Exception:  # noqa: BLE001 - a piece without a key is still a piece
        key = None
        info["key_failed"] = 1
    return ChordItemResult(piece_id, "ok", ChordPiece(piece_id, collection, melody, beats, key), info)


def extract_tune(text: str, piece_id: str, collection: str) -> ChordItemResult:
    """One ABC tune: its melody and the chord symbol in force at every beat."""
    from music21 import harmony

    part = _c._parse_abc(text)
    info: dict = {"unmapped_kinds": {}, "ignored_texts": {}, "symbols": 0}
    if part is None:
        return ChordItemResult(piece_id, "too_short", info=info)
    melody, off_grid = _melody_from_part(part, piece_id, collection)
    info["off_grid"] = off_grid
    symbols: list[tuple[int, int]] = []
    mapped = 0
    for cs in part.flatten().getElementsByClass(harmony.ChordSymbol):
        what, value = symbol_chord(cs)
        if what == "text":
            info["ignored_texts"][value] = info["ignored_texts"].get(value, 0) + 1
            continue
        if what == "unmapped":
            info["unmapped_kinds"][value] = info["unmapped_kinds"].get(value, 0) + 1
            value = NO_CHORD
        mapped += what == "chord"
        symbols.append((_ticks(cs.offset)[0], value))
    info["symbols"] = mapped
    if mapped < MIN_SYMBOLS:
        return ChordItemResult(piece_id, "no_chords", info=info)
    if len(melody.notes) < MIN_NOTES:
        return ChordItemResult(piece_id, "too_short", info=info)
    start, end = piece_span(melody.notes, melody.meters)
    beats = symbol_beats(symbols, melody.meters, start, end)
    return ChordItemResult(piece_id, "ok", ChordPiece(piece_id, collection, melody, beats, _tune_key(part, text)),
                           info)


def _chord_item(piece_id: str, collection: str, kind: str, payload: str, chorale: bool) -> ChordItemResult:
    """One work item (as ``corpus._items_of_file`` makes them); never raises."""
    try:
        with _quiet():
            if kind == "abc":
                return extract_tune(payload, piece_id, collection)
            if not chorale:
                return ChordItemResult(piece_id, "failed", error="only chorale scores carry recognised chords")
            return extract_chorale(payload, piece_id, collection)
    except Exception as err:  # noqa: BLE001 - a bad piece must never stop the extraction
        return ChordItemResult(piece_id, "failed", error=_error(err))


def extract_chord_file(path: str | os.PathLike, collection: str) -> list[ChordItemResult]:
    """Every tune (ABC) or the chorale of one file, in this process, one result each."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"no such corpus file: {p} (give the path of an .abc or MusicXML file)")
    rel = _c._relative_id(p)
    items = _items_of_file(p, collection, rel)
    if p.suffix.lower() != ".abc":  # a chorale, wherever it lies
        items = [(i, c, k, pl, True) for i, c, k, pl, _ in items]
    return [_chord_item(*item) for item in items]


# -------------------------------------------------------------------- packing


def _pack(p: ChordPiece) -> tuple:
    return (p.id, p.collection, _c._pack(p.melody), list(p.beats), p.key)


def _unpack(t: tuple) -> ChordPiece:
    pid, coll, melody, beats, key = t
    return ChordPiece(pid, coll, _c._unpack(melody), [tuple(b) for b in beats], tuple(key) if key else None)


def _chord_work(items: list[tuple]) -> list[tuple]:
    """Worker-process entry point: a batch of items, results packed for pickling."""
    out = []
    for item in items:
        r = _chord_item(*item)
        out.append((r.id, r.status, _pack(r.piece) if r.piece else None, r.info, r.error))
    return out


# --------------------------------------------------------------------- corpus


def _cache_path(cache_dir) -> Path:
    base = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    return base / f"chords-v{CHORD_EXTRACTION_VERSION}-music21-{music21_version()}.pkl"


def _new_stats() -> dict:
    return {"items": 0, "pieces": 0, "beats": 0, "failed": 0, "failed_ids": [], "no_chords": 0,
            "too_short": 0, "not_chorale": [], "unmapped_kinds": {}, "ignored_texts": {},
            "chord_symbols": 0, "key_missing": 0, "off_grid": 0, "duplicates_removed": 0}


def _plan(root: Path) -> list[tuple]:
    train_bach, eval_bach, _ = chorale_files(root)
    items: list[tuple] = []
    for rel in eval_bach:
        items += _items_of_file(root / rel, "chorales", rel)
    for rel in train_bach:
        items += _items_of_file(root / rel, "bach", rel)
    for coll in TUNE_COLLECTIONS:
        folder = root / coll
        for p in sorted(folder.glob("*.abc")) if folder.is_dir() else []:
            items += _items_of_file(p, coll, f"{coll}/{p.name}")
    return items


def _merge_counts(into: dict, more: dict) -> None:
    for k, v in more.items():
        into[k] = into.get(k, 0) + v


def _extract(workers: int, progress: bool) -> tuple[list[ChordPiece], dict, dict]:
    """Every piece (source collection names) and per-collection stats."""
    root = corpus_dir()
    if not root.is_dir():
        raise UserError(f"the music21 corpus is missing at {root}: "
                        "reinstall music21 (pip install --force-reinstall music21)")
    items = _plan(root)
    collection_of = {it[0]: it[1] for it in items}
    stats = {c: _new_stats() for c in ("chorales", "bach", *TUNE_COLLECTIONS)}
    pieces: list[ChordPiece] = []
    batches = _run_batches(_batches(items), workers, progress, work=_chord_work, label="chords", unit="pieces")
    for batch in batches:
        for pid, status, packed, info, error in batch:
            s = stats[collection_of[pid]]
            s["items"] += 1
            s["off_grid"] += info.get("off_grid", 0)
            s["chord_symbols"] += info.get("symbols", 0)
            _merge_counts(s["unmapped_kinds"], info.get("unmapped_kinds", {}))
            _merge_counts(s["ignored_texts"], info.get("ignored_texts", {}))
            if status == "ok":
                piece = _unpack(packed)
                s["key_missing"] += piece.key is None
                pieces.append(piece)
            elif status == "failed":
                s["failed"] += 1
                if len(s["failed_ids"]) < 50:
                    s["failed_ids"].append(f"{pid}: {error}")
            elif status == "not_chorale":
                s["not_chorale"].append(pid)
            elif status == "no_chords":
                s["no_chords"] += 1
            else:
                s["too_short"] += 1
    return pieces, stats, {"items": len(items)}


def _as_tune_eval(p: ChordPiece) -> ChordPiece:
    melody = Melody(p.melody.id, "tunes", p.melody.notes, p.melody.meters)
    return ChordPiece(p.id, "tunes", melody, p.beats, p.key)


def _split(pieces: list[ChordPiece], stats: dict) -> tuple[list, list, dict]:
    eval_sets: dict[str, list[ChordPiece]] = {"chorales": [], "tunes": []}
    train_all: list[ChordPiece] = []
    for p in pieces:
        if p.collection == "chorales":
            eval_sets["chorales"].append(p)
        elif p.collection in TUNE_COLLECTIONS and is_eval_tune(p.id):
            eval_sets["tunes"].append(_as_tune_eval(p))
        else:
            train_all.append(p)
    order = {p.id: i for i, p in enumerate(pieces)}
    for v in eval_sets.values():
        v.sort(key=lambda p: order[p.id])  # chorales stay in BWV order
    every_eval = [p.melody for v in eval_sets.values() for p in v]
    dup = find_eval_duplicates([p.melody for p in train_all], every_eval)
    kept = []
    for p in train_all:
        if p.id in dup:
            stats[p.collection]["duplicates_removed"] += 1
            stats[p.collection].setdefault("duplicate_ids", {})[p.id] = dup[p.id]
        else:
            kept.append(p)
    for coll in ("bach", *TUNE_COLLECTIONS):
        mine = [p for p in kept if p.collection == coll]
        stats[coll]["pieces"] = len(mine)
        stats[coll]["beats"] = sum(len(p.beats) for p in mine)
    tunes_eval = Counter(p.id.split("/")[0] for p in eval_sets["tunes"])
    for coll in TUNE_COLLECTIONS:
        stats[coll]["held_out_for_tunes"] = tunes_eval.get(coll, 0)
    stats["chorales"]["pieces"] = len(eval_sets["chorales"])
    stats["chorales"]["beats"] = sum(len(p.beats) for p in eval_sets["chorales"])
    train = [p for p in kept if not is_valid(p.id)]
    valid = [p for p in kept if is_valid(p.id)]
    return train, valid, eval_sets


def load_chord_corpus(cache_dir: str | os.PathLike | None = None, workers: int | None = None,
                      progress: bool = True, force: bool = False) -> ChordCorpus:
    """Chord-labelled training, validation and evaluation pieces: extracted once, then
    read from the cache (``chords-v<N>-music21-<version>.pkl`` in ``cache_dir``).

    ``report``: one dict per source collection (``chorales``, ``bach`` and each of
    ``TUNE_COLLECTIONS``: ``items, pieces, beats, failed, failed_ids, no_chords,
    too_short, not_chorale, unmapped_kinds, ignored_texts, chord_symbols, key_missing,
    off_grid, duplicates_removed``), ``labels`` (``label_summary`` of ``train``,
    ``valid``, ``chorales``, ``tunes``), ``seconds``, ``versions`` and ``cache``.
    """
    workers = _workers(workers)
    path = _cache_path(cache_dir)
    payload = None if force else _read_pickle(path, CHORD_EXTRACTION_VERSION)
    if payload is None:
        _check_writable(path.parent)
        start = time.perf_counter()
        pieces, stats, plan = _extract(workers, progress)
        train, valid, eval_sets = _split(pieces, stats)
        report = {**stats,
                  "labels": {"train": label_summary(train), "valid": label_summary(valid),
                             **{k: label_summary(v) for k, v in eval_sets.items()}},
                  "items": plan["items"],
                  "seconds": round(time.perf_counter() - start, 1),
                  "versions": {"extraction": CHORD_EXTRACTION_VERSION, "music21": music21_version()},
                  "cache": str(path)}
        payload = {"version": CHORD_EXTRACTION_VERSION, "report": report,
                   "train": [_pack(p) for p in train], "valid": [_pack(p) for p in valid],
                   "eval_sets": {k: [_pack(p) for p in v] for k, v in eval_sets.items()}}
        _write_pickle(path, payload)
    return ChordCorpus(train=[_unpack(t) for t in payload["train"]],
                       valid=[_unpack(t) for t in payload["valid"]],
                       eval_sets={k: [_unpack(t) for t in v] for k, v in payload["eval_sets"].items()},
                       report=payload["report"])


# ------------------------------------------------------------------------ CLI


def _top(counts: dict, n: int = 8) -> str:
    return ", ".join(f"{k!r} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:n]) or "none"


def summary_lines(report: dict) -> list[str]:
    lines = []
    for coll in ("bach", "chorales", *TUNE_COLLECTIONS):
        s = report.get(coll)
        if not s:
            continue
        line = (f"{coll:18s} {s['pieces']:5d} pieces {s['beats']:7d} beats  of {s['items']} items: "
                f"failed {s['failed']}  no chords {s['no_chords']}  too short {s['too_short']}  "
                f"duplicates removed {s['duplicates_removed']}")
        if coll in TUNE_COLLECTIONS:
            line += f"  held out (tunes) {s.get('held_out_for_tunes', 0)}  chord symbols {s['chord_symbols']}"
        lines.append(line)
        if s["unmapped_kinds"]:
            lines.append(f"{coll}: unmapped chord kinds (N.C.): {_top(s['unmapped_kinds'])}")
        if s["ignored_texts"]:
            lines.append(f"{coll}: quoted texts that are no chord symbols (ignored): {_top(s['ignored_texts'])}")
        if s["not_chorale"]:
            lines.append(f"{coll}: not a chorale, skipped: {', '.join(s['not_chorale'])}")
        for failure in s["failed_ids"][:5]:
            lines.append(f"{coll}: failed: {failure}")
    for name, summ in report.get("labels", {}).items():
        qualities = "  ".join(f"{q} {v:.1%}" for q, v in summ["qualities"].items() if v)
        lines.append(f"labels {name:8s} {summ['pieces']:5d} pieces {summ['beats']:7d} beats  "
                     f"N.C. {summ['no_chord']:.1%}  {qualities}  tonic triad {summ['tonic_triad']:.1%}  "
                     f"changes/beat {summ['changes_per_beat']:.2f}")
    lines.append(f"extraction took {report.get('seconds', 0)} s; cache {report.get('cache', '')}")
    return lines
