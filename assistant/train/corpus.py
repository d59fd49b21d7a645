"""Training and evaluation melodies from the corpus that ships inside ``music21``.

Collections (``<music21>/corpus/...``):

* training: ``essenFolksong/*.abc`` except ``kinder0.abc``, ``oneills1850/*.abc``,
  ``ryansMammoth/*.abc`` and the Bach chorales in ``bach/`` whose BWV number lies
  outside 253..438 (soprano line only);
* evaluation, never trained on: ``chorales`` (soprano lines of BWV 253..438, sorted by
  BWV number) and ``kinder`` (``essenFolksong/kinder0.abc``, in file order). These are
  the sets of M. Pearce's thesis (2005); ``PEARCE`` holds his counts.

Every training melody whose interval sequence equals that of an evaluation melody, or
whose first 16 pitches match an evaluation melody's first 16 up to transposition, is
removed (Bach harmonised the same tunes several times, in several keys).

One melody per tune (ABC) or per chorale: the top line of the first part (for a
chorale the part named Soprano, which is not always the first one), flattened, ties
merged, grace notes and chord symbols dropped, chords reduced to their highest note,
rests kept as gaps, repeats kept as written. Time is in ticks (quarter = 12); a note
off that grid is rounded and counted. Meters follow the written bar lines, with a
negative first start for a pickup; a bar of a tune without a meter ("M: none") is its
own meter.

Threads and processes: everything here is meant for the main thread of a training or
evaluation command. ``load_corpus`` starts worker *processes*
(``ProcessPoolExecutor``); the worker entry point ``_work`` and ``extract_file`` /
``extract_tunes`` run in any one process, on one thread at a time. The pure helpers
(``split_abc``, ``meters_from_bars``, ``remove_eval_duplicates``, ``is_valid``) are
thread-safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from importlib import metadata, util
from pathlib import Path

from ..errors import UserError
from ..music import TICKS_PER_QUARTER, Melody, Meter, Note
from ..music.tokens import monophonic

EXTRACTION_VERSION = 1
"""Bump when the extraction changes what it produces; old caches are then ignored."""

TRAIN_COLLECTIONS = ("essenFolksong", "oneills1850", "ryansMammoth", "bach")
EVAL_SETS = ("chorales", "kinder")
EVAL_BWV = (253, 438)
KINDER_FILE = "essenFolksong/kinder0.abc"
PREFIX_PITCHES = 16
MIN_NOTES = 4
VALID_PERCENT = 5
PEARCE = {"chorales": {"melodies": 185, "notes": 9227}, "kinder": {"melodies": 213, "notes": 8393}}
"""Counts of the evaluation sets in M. Pearce's thesis (2005), for comparison.

The kinder figure is 8393 notes: our extraction gives exactly that, while 2691 (a figure
once quoted for it) cannot be this file's count: its shortest of 213 tunes has 13 notes,
so at least 2769 in all. 2691 is most likely another row of Pearce's table."""

_ABC_PER_TASK = 24
_FILES_PER_TASK = 4
_BWV_RE = re.compile(r"^bwv(\d+)", re.IGNORECASE)
_X_RE = re.compile(r"^X:", re.MULTILINE)
_SCORE_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn")


@dataclass
class Corpus:
    """Extracted melodies.

    ``train``/``valid``: training melodies split by piece (``is_valid``);
    ``eval_sets``: ``'chorales'`` and ``'kinder'``; ``report``: one dict per collection
    (``melodies, notes, failed, too_short, off_grid, duplicates_removed`` and a few
    more) under the collection's name, plus ``seconds`` (extraction time), ``split``,
    ``pearce`` and ``versions``.
    """

    train: list[Melody]
    valid: list[Melody]
    eval_sets: dict[str, list[Melody]]
    report: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- paths


def corpus_dir() -> Path:
    """The ``corpus`` folder of the installed music21 (found without importing it)."""
    spec = util.find_spec("music21")
    if spec is None or not spec.origin:
        raise UserError("music21 is not installed: install the train extra, pip install -e '.[train]'")
    return Path(spec.origin).parent / "corpus"


def music21_version() -> str:
    try:
        return metadata.version("music21")
    except metadata.PackageNotFoundError:
        raise UserError("music21 is not installed: install the train extra, pip install -e '.[train]'") from None


def default_cache_dir() -> Path:
    env = os.environ.get("MIDI_ASSISTANT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "midi-assistant"


def _cache_paths(cache_dir) -> tuple[Path, Path]:
    base = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    tag = f"v{EXTRACTION_VERSION}-music21-{music21_version()}"
    return base / f"corpus-{tag}.pkl", base / f"eval-{tag}.pkl"


def bwv_number(name: str) -> int | None:
    """The BWV number of a file name such as ``bwv248.12-2.mxl`` (``248``), else None."""
    m = _BWV_RE.match(Path(name).name)
    return int(m.group(1)) if m else None


def is_eval_bwv(name: str) -> bool:
    n = bwv_number(name)
    return n is not None and EVAL_BWV[0] <= n <= EVAL_BWV[1]


def chorale_files(root: Path | None = None) -> tuple[list[str], list[str], list[str]]:
    """(training, evaluation, skipped duplicates): relative paths of the ``bach`` scores.

    One file per score: where the same name exists as ``.mxl`` and ``.xml``/``.krn``,
    the MusicXML one is kept (``bwv277.krn`` repeats ``bwv277.mxl``). Evaluation files
    are sorted by BWV number, then name. Whether a file is a chorale at all (it has a
    Soprano part) is decided when it is parsed.
    """
    root = root or corpus_dir()
    by_stem: dict[str, list[str]] = {}
    for p in sorted((root / "bach").iterdir()):
        if p.is_file() and bwv_number(p.name) is not None and p.suffix.lower() in _SCORE_SUFFIXES:
            by_stem.setdefault(p.name[: -len(p.suffix)], []).append(p.name)
    train, evals, dupes = [], [], []
    rank = {s: i for i, s in enumerate(_SCORE_SUFFIXES)}
    for stem, names in by_stem.items():
        names.sort(key=lambda n: rank[Path(n).suffix.lower()])
        dupes += [f"bach/{n}" for n in names[1:]]
        (evals if is_eval_bwv(names[0]) else train).append(f"bach/{names[0]}")
    evals.sort(key=lambda rel: (bwv_number(rel.split("/")[-1]), rel))
    return train, evals, dupes


# ----------------------------------------------------------------------- ABC text


def read_text(path: str | os.PathLike) -> str:
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def split_abc(text: str) -> list[tuple[str, str]]:
    """Single tunes of an ABC file as ``(key, text)``; key is the X: number.

    Lines before the first ``X:`` (the file header) are prepended to every tune. A
    file without ``X:`` is one tune with key ``"1"``. A repeated or missing X: number
    gets ``"<n>.<index>"`` so that keys stay unique.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    starts = [m.start() for m in _X_RE.finditer(text)]
    if not starts:
        return [("1", text)] if text.strip() else []
    header = text[: starts[0]]
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, s in enumerate(starts):
        body = text[s: starts[i + 1] if i + 1 < len(starts) else len(text)]
        number = body[2: body.find("\n") if "\n" in body else len(body)].strip() or "?"
        key = number if number not in seen and re.fullmatch(r"\d+", number) else f"{number}.{i + 1}"
        seen.add(key)
        out.append((key, header + body))
    return out


# ------------------------------------------------------------------ note extraction


def _ticks(ql) -> tuple[int, bool]:
    """Ticks of a quarterLength value and whether it was off the grid."""
    exact = float(ql) * TICKS_PER_QUARTER
    t = round(exact)
    return t, abs(exact - t) > 1e-6


def meters_from_bars(bars: list[tuple[int, int, int, int]]) -> list[Meter]:
    """Meters from written bars ``(start, length, numerator, denominator)`` in ticks.

    Every bar line is a downbeat. A short first bar is a pickup: the first meter then
    starts one bar before its end (negative start). Later, a bar that starts off the
    running grid opens a new meter, except a short bar that ends on the grid (a pickup
    after a section end). A time-signature change opens a new meter at its bar.
    """
    meters: list[Meter] = []
    n = len(bars)
    for i, (start, length, num, den) in enumerate(bars):
        bar = Meter(0, num, den).bar_ticks if num > 0 and den > 0 else 0
        if bar <= 0 or length <= 0:
            continue
        if not meters:
            pickup = length < bar and i < n - 1
            meters.append(Meter(start + length - bar if pickup else start, num, den))
            continue
        cur = meters[-1]
        if (num, den) == (cur.numerator, cur.denominator):
            if (start - cur.start) % bar == 0:
                continue
            if length < bar and (start + length - cur.start) % bar == 0:
                continue
        meters.append(Meter(start, num, den))
    return meters or [Meter(0)]


def _time_signature(ts) -> tuple[int, int] | None:
    try:
        num, den = int(ts.numerator), int(ts.denominator)
    except (AttributeError, TypeError, ValueError):
        return None
    return (num, den) if num > 0 and den > 0 else None


def _part_meters(part) -> list[Meter]:
    from music21 import meter, stream

    measures = list(part.getElementsByClass(stream.Measure))
    if not measures:
        first = part.recurse().getElementsByClass(meter.TimeSignature).first()
        sig = _time_signature(first) if first is not None else None
        return [Meter(0, *sig)] if sig else [Meter(0)]
    bars = []
    sig: tuple[int, int] | None = None
    for i, m in enumerate(measures):
        if m.timeSignature is not None:
            sig = _time_signature(m.timeSignature) or sig
        start, _ = _ticks(m.offset)
        end = measures[i + 1].offset if i + 1 < len(measures) else m.offset + m.highestTime
        length = _ticks(end)[0] - start
        bars.append((start, length, *(sig or free_signature(length))))
    return meters_from_bars(bars)


def free_signature(ticks: int) -> tuple[int, int]:
    """A signature exactly ``ticks`` long, for bars of a tune without one ("M: none").

    Such tunes (218 in Essen) have bar lines but no meter; each bar then gets its own
    length, so bar lines stay downbeats and no false downbeat falls inside a bar.
    """
    if ticks <= 0:
        return (4, 4)
    for unit, den in ((12, 4), (6, 8), (3, 16)):
        if ticks % unit == 0:
            return (ticks // unit, den)
    return (ticks, 48)


def _melody_from_part(part, melody_id: str, collection: str) -> tuple[Melody, int]:
    """The top line of ``part`` and how many of its notes were off the tick grid."""
    from music21 import chord, harmony, note

    raw: list[tuple[int, int, int, str | None]] = []  # onset, end, pitch, tie type
    off_grid = 0
    for el in part.flatten().getElementsByClass((note.Note, chord.Chord)):
        if isinstance(el, harmony.Harmony) or el.duration.isGrace or el.quarterLength <= 0:
            continue
        if isinstance(el, chord.Chord):
            if not el.notes:
                continue
            top = max(el.notes, key=lambda n: n.pitch.ps)
            pitch, tie = top.pitch, top.tie or el.tie
        else:
            pitch, tie = el.pitch, el.tie
        onset, off1 = _ticks(el.offset)
        end, off2 = _ticks(el.offset + el.quarterLength)
        off_grid += off1 or off2
        midi = int(round(pitch.ps))
        if not 0 <= midi <= 127:
            continue
        raw.append((onset, max(end, onset + 1), midi, tie.type if tie is not None else None))
    raw.sort(key=lambda r: (r[0], -r[2]))
    merged: list[list[int]] = []
    open_ties: dict[int, int] = {}  # pitch -> index in merged of a note whose tie is open
    for onset, end, midi, tie in raw:
        idx = open_ties.get(midi)
        if tie in ("stop", "continue") and idx is not None and merged[idx][1] == onset:
            merged[idx][1] = end
            if tie == "stop":
                del open_ties[midi]
            continue
        merged.append([onset, end, midi])
        if tie in ("start", "continue"):
            open_ties[midi] = len(merged) - 1
        else:
            open_ties.pop(midi, None)
    notes = monophonic([Note(o, e - o, p) for o, e, p in merged])
    return Melody(melody_id, collection, notes, _part_meters(part)), off_grid


def _soprano(score):
    """The part named Soprano (first such), else the first part; None if no parts."""
    parts = list(score.parts) if hasattr(score, "parts") else []
    for p in parts:
        name = (p.partName or p.id or "")
        if isinstance(name, str) and name.strip().lower().startswith("soprano"):
            return p, True
    return (parts[0], False) if parts else (None, False)


@contextlib.contextmanager
def _quiet():
    """Silence music21's warnings and stderr chatter during one parse."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


_PLAIN_PART = None


def _plain_part_class():
    """A ``Part`` whose ``makeBeams`` does nothing: beaming is half of music21's ABC
    import time and means nothing to a melody. Built on first use (imports music21)."""
    global _PLAIN_PART
    if _PLAIN_PART is None:
        from music21 import stream

        class PlainPart(stream.Part):
            def makeBeams(self, *args, **kwargs):  # noqa: ARG002 - beams are not needed
                return None

        _PLAIN_PART = PlainPart
    return _PLAIN_PART


def _parse_abc(text: str):
    """The first voice of one ABC tune as a music21 ``Part``, or None if it has no voice.

    Does what ``abcFormat.translate.abcToStreamScore`` does for its first part.
    """
    from music21 import abcFormat
    from music21.abcFormat import translate

    handler = abcFormat.ABCFile().readstr(text)
    voices = handler.splitByVoice()
    if not voices:
        return None
    first = voices[0] if len(voices) == 1 else voices[0] + voices[1]
    return translate.abcToStreamPart(first, _plain_part_class()())


@dataclass
class ItemResult:
    """What one tune or one score gave: status is ok, failed, too_short or not_chorale."""

    id: str
    status: str
    melody: Melody | None = None
    off_grid: int = 0
    error: str = ""


def _extract_item(melody_id: str, collection: str, kind: str, payload: str, chorale: bool) -> ItemResult:
    """One ABC tune (kind ``abc``, payload its text) or one score file (``file``, a path)."""
    try:
        with _quiet():
            if kind == "abc":
                part, is_soprano = _parse_abc(payload), True
            else:
                from music21 import converter

                part, is_soprano = _soprano(converter.parse(payload))
            if chorale and not is_soprano and not payload.lower().endswith(".krn"):
                return ItemResult(melody_id, "not_chorale", error="no Soprano part")
            if part is None:
                return ItemResult(melody_id, "too_short")
            melody, off_grid = _melody_from_part(part, melody_id, collection)
    except Exception as err:  # noqa: BLE001 - a bad tune must never stop the extraction
        msg = f"{type(err).__name__}: {err}".splitlines()[0][:200]
        return ItemResult(melody_id, "failed", error=msg)
    if len(melody.notes) < MIN_NOTES:
        return ItemResult(melody_id, "too_short", off_grid=off_grid)
    return ItemResult(melody_id, "ok", melody, off_grid)


def _relative_id(path: Path) -> str:
    try:
        return path.resolve().relative_to(corpus_dir().resolve()).as_posix()
    except (ValueError, UserError):
        return path.name


def _items_of_file(path: Path, collection: str, rel: str | None = None) -> list[tuple]:
    """Work items ``(id, collection, kind, payload, chorale)`` of one file."""
    rel = rel or _relative_id(path)
    if path.suffix.lower() == ".abc":
        return [(f"{rel}#{key}", collection, "abc", text, False) for key, text in split_abc(read_text(path))]
    chorale = rel.startswith("bach/")
    return [(rel, collection, "file", str(path), chorale)]


def extract_file(path: str | os.PathLike, collection: str) -> list[ItemResult]:
    """Every tune (ABC) or the score of one file, in this process, one result each."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"no such corpus file: {p} (give the path of an .abc or MusicXML file)")
    return [_extract_item(*item) for item in _items_of_file(p, collection)]


def extract_tunes(path: str, collection: str) -> list[Melody]:
    """The melodies of one file, in this process (tunes that fail or are too short are left out)."""
    return [r.melody for r in extract_file(path, collection) if r.melody is not None]


# -------------------------------------------------------------------- packing


def _pack(m: Melody) -> tuple:
    return (m.id, m.collection, [(n.onset, n.duration, n.pitch) for n in m.notes],
            [(x.start, x.numerator, x.denominator) for x in m.meters])


def _unpack(t: tuple) -> Melody:
    mid, coll, notes, meters = t
    return Melody(mid, coll, [Note(o, d, p) for o, d, p in notes], [Meter(*x) for x in meters])


def _work(items: list[tuple]) -> list[tuple]:
    """Worker-process entry point: extract a batch of items, results packed for pickling."""
    out = []
    for item in items:
        r = _extract_item(*item)
        out.append((r.id, r.status, _pack(r.melody) if r.melody else None, r.off_grid, r.error))
    return out


# ------------------------------------------------------------------ dedup, split


def _intervals(pitches: list[int]) -> tuple[int, ...]:
    return tuple(b - a for a, b in zip(pitches, pitches[1:]))


def find_eval_duplicates(train: Iterable[Melody], eval_melodies: Iterable[Melody],
                         prefix: int = PREFIX_PITCHES) -> dict[str, str]:
    """``{training id: evaluation id}`` for every training melody whose whole pitch
    sequence, or whose first ``prefix`` pitches, equal an evaluation melody's up to
    transposition (interval sequences are compared, so exact copies are found too)."""
    whole: dict[tuple[int, ...], str] = {}
    heads: dict[tuple[int, ...], str] = {}
    for m in eval_melodies:
        p = m.pitches
        whole.setdefault(_intervals(p), m.id)
        if len(p) >= prefix:
            heads.setdefault(_intervals(p[:prefix]), m.id)
    found: dict[str, str] = {}
    for m in train:
        p = m.pitches
        match = whole.get(_intervals(p))
        if match is None and len(p) >= prefix:
            match = heads.get(_intervals(p[:prefix]))
        if match is not None:
            found[m.id] = match
    return found


def remove_eval_duplicates(train: Iterable[Melody], eval_melodies: Iterable[Melody],
                           prefix: int = PREFIX_PITCHES) -> tuple[list[Melody], list[Melody]]:
    """``(kept, removed)``: removed are the melodies ``find_eval_duplicates`` names."""
    train = list(train)
    dup = find_eval_duplicates(train, eval_melodies, prefix)
    return [m for m in train if m.id not in dup], [m for m in train if m.id in dup]


def is_valid(melody_id: str) -> bool:
    """Whether a piece goes to the validation split (stable: a hash of its id)."""
    return int(hashlib.sha1(melody_id.encode("utf-8")).hexdigest(), 16) % 100 < VALID_PERCENT


# ------------------------------------------------------------------- extraction


def _new_stats() -> dict:
    return {"tunes": 0, "melodies": 0, "notes": 0, "failed": 0, "too_short": 0, "off_grid": 0,
            "duplicates_removed": 0, "failed_ids": []}


def _plan(root: Path, with_train: bool) -> tuple[list[tuple], dict]:
    """All work items, eval sets first, and notes for the report."""
    train_bach, eval_bach, dupes = chorale_files(root)
    items: list[tuple] = []
    for rel in eval_bach:
        items += _items_of_file(root / rel, "chorales", rel)
    items += _items_of_file(root / KINDER_FILE, "kinder", KINDER_FILE)
    if with_train:
        for coll in ("essenFolksong", "oneills1850", "ryansMammoth"):
            for p in sorted((root / coll).glob("*.abc")):
                rel = f"{coll}/{p.name}"
                if rel != KINDER_FILE:
                    items += _items_of_file(p, coll, rel)
        for rel in train_bach:
            items += _items_of_file(root / rel, "bach", rel)
    return items, {"skipped_duplicate_files": dupes}


def _batches(items: list[tuple]) -> list[list[tuple]]:
    out: list[list[tuple]] = []
    cur: list[tuple] = []
    for it in items:
        limit = _ABC_PER_TASK if it[2] == "abc" else _FILES_PER_TASK
        if cur and (len(cur) >= limit or cur[0][1] != it[1] or cur[0][2] != it[2]):
            out.append(cur)
            cur = []
        cur.append(it)
    if cur:
        out.append(cur)
    return out


def _run_batches(batches: list[list[tuple]], workers: int, progress: bool, work=None,
                 label: str = "corpus", unit: str = "tunes") -> list[list[tuple]]:
    """Results per batch, in batch order; in-process when ``workers`` is 1.

    ``work`` (default ``_work``) is the module-level function that turns one batch
    into its list of results; ``label`` and ``unit`` name the progress bar. Workers
    are forked where the platform can (no main-module guard needed in the caller's
    script) and all of them are started before the progress bar starts its refresh
    thread, so no thread is ever forked.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    work = work or _work
    total = sum(len(b) for b in batches)
    results: list[list[tuple] | None] = [None] * len(batches)
    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
                   TimeElapsedColumn(), console=Console(stderr=True), disable=not progress, transient=False)
    if workers <= 1 or len(batches) <= 1:
        with bar:
            task = bar.add_task("extract", total=total)
            for i, b in enumerate(batches):
                results[i] = work(b)
                bar.advance(task, len(b))
        return [r or [] for r in results]

    import multiprocessing
    from concurrent.futures.process import BrokenProcessPool

    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    if ctx.get_start_method() == "fork":
        import music21  # noqa: F401 - imported once here, shared by the forked workers
    try:
        with ProcessPoolExecutor(max_workers=min(workers, len(batches)), mp_context=ctx) as pool:
            futures = {pool.submit(work, b): i for i, b in enumerate(batches)}  # workers start here
            with bar:
                task = bar.add_task("extract", total=total)
                for fut in as_completed(futures):
                    i = futures[fut]
                    results[i] = fut.result()
                    bar.advance(task, len(batches[i]))
    except BrokenProcessPool:
        raise UserError("a corpus extraction worker died (out of memory?): run again with --workers 1") from None
    return [r or [] for r in results]


def _extract(with_train: bool, workers: int, progress: bool) -> tuple[dict[str, list[Melody]], list[Melody], dict]:
    """Eval sets, training melodies (before dedup) and per-collection stats."""
    root = corpus_dir()
    if not root.is_dir():
        raise UserError(f"the music21 corpus is missing at {root}: "
                        "reinstall music21 (pip install --force-reinstall music21)")
    items, notes = _plan(root, with_train)
    collection_of = {it[0]: it[1] for it in items}
    stats: dict[str, dict] = {c: _new_stats() for c in (*EVAL_SETS, *(TRAIN_COLLECTIONS if with_train else ()))}
    eval_sets: dict[str, list[Melody]] = {k: [] for k in EVAL_SETS}
    train: list[Melody] = []
    for batch in _run_batches(_batches(items), workers, progress):
        for mid, status, packed, off_grid, error in batch:
            coll = collection_of[mid]
            s = stats[coll]
            s["tunes"] += 1
            s["off_grid"] += off_grid
            if status == "ok":
                m = _unpack(packed)
                (eval_sets[coll] if coll in EVAL_SETS else train).append(m)
            elif status == "failed":
                s["failed"] += 1
                if len(s["failed_ids"]) < 50:
                    s["failed_ids"].append(f"{mid}: {error}")
            elif status == "not_chorale":
                s.setdefault("not_chorale", []).append(mid)
            else:
                s["too_short"] += 1
    stats["chorales"].update(notes)
    return eval_sets, train, stats


def _fill_counts(stats: dict, coll: str, melodies: list[Melody]) -> None:
    stats[coll]["melodies"] = len(melodies)
    stats[coll]["notes"] = sum(len(m.notes) for m in melodies)


def _eval_report(eval_sets: dict[str, list[Melody]], stats: dict) -> None:
    for name in EVAL_SETS:
        _fill_counts(stats, name, eval_sets[name])
        stats[name]["pearce"] = dict(PEARCE[name])


def _write_pickle(path: Path, payload: dict) -> None:
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is shared
        os.replace(tmp, path)
    except OSError as err:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise UserError(f"cannot write the corpus cache {path}: {err.strerror} "
                        "(set --cache-dir or MIDI_ASSISTANT_CACHE to a writable folder)") from None


def _check_writable(folder: Path) -> None:
    """Fail before a long extraction, not after it, if the cache cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise UserError(f"cannot write the corpus cache folder {folder}: {err.strerror} "
                        "(set --cache-dir or MIDI_ASSISTANT_CACHE to a writable folder)") from None


def _read_pickle(path: Path, version: int = EXTRACTION_VERSION) -> dict | None:
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as f:
            payload = pickle.load(f)
    except Exception:  # noqa: BLE001 - a damaged cache is re-extracted
        print(f"corpus: cache {path} is unreadable; extracting again", file=sys.stderr)
        return None
    if not isinstance(payload, dict) or payload.get("version") != version:
        return None
    return payload


def _workers(workers: int | None) -> int:
    if workers is None:
        return os.cpu_count() or 1
    if not isinstance(workers, int) or workers < 1:
        raise UserError(f"--workers must be a whole number of 1 or more, got {workers!r}")
    return workers


def load_eval_sets(cache_dir: str | os.PathLike | None = None, workers: int | None = None,
                   progress: bool = True, force: bool = False) -> dict[str, list[Melody]]:
    """Only the evaluation sets (``'chorales'``, ``'kinder'``), from their own small cache."""
    workers = _workers(workers)
    _, eval_path = _cache_paths(cache_dir)
    payload = None if force else _read_pickle(eval_path)
    if payload is None:
        _check_writable(eval_path.parent)
        start = time.perf_counter()
        eval_sets, _, stats = _extract(False, workers, progress)
        _eval_report(eval_sets, stats)
        stats["seconds"] = round(time.perf_counter() - start, 1)
        payload = {"version": EXTRACTION_VERSION, "report": stats,
                   "eval_sets": {k: [_pack(m) for m in v] for k, v in eval_sets.items()}}
        _write_pickle(eval_path, payload)
    return {k: [_unpack(t) for t in v] for k, v in payload["eval_sets"].items()}


def load_corpus(cache_dir: str | os.PathLike | None = None, workers: int | None = None,
                progress: bool = True, force: bool = False) -> Corpus:
    """Training, validation and evaluation melodies: extracted once, then from the cache."""
    workers = _workers(workers)
    corpus_path, eval_path = _cache_paths(cache_dir)
    payload = None if force else _read_pickle(corpus_path)
    if payload is None:
        _check_writable(corpus_path.parent)
        start = time.perf_counter()
        eval_sets, train_all, stats = _extract(True, workers, progress)
        _eval_report(eval_sets, stats)
        every_eval = [m for v in eval_sets.values() for m in v]
        dup = find_eval_duplicates(train_all, every_eval)
        kept = [m for m in train_all if m.id not in dup]
        for m in train_all:
            if m.id in dup:
                stats[m.collection]["duplicates_removed"] += 1
                stats[m.collection].setdefault("duplicate_ids", {})[m.id] = dup[m.id]
        for coll in TRAIN_COLLECTIONS:
            _fill_counts(stats, coll, [m for m in kept if m.collection == coll])
        train = [m for m in kept if not is_valid(m.id)]
        valid = [m for m in kept if is_valid(m.id)]
        seconds = round(time.perf_counter() - start, 1)
        report = {**stats, "seconds": seconds,
                  "split": {"train": {"melodies": len(train), "notes": sum(len(m.notes) for m in train)},
                            "valid": {"melodies": len(valid), "notes": sum(len(m.notes) for m in valid)}},
                  "pearce": PEARCE,
                  "versions": {"extraction": EXTRACTION_VERSION, "music21": music21_version()},
                  "cache": str(corpus_path)}
        packed_eval = {k: [_pack(m) for m in v] for k, v in eval_sets.items()}
        payload = {"version": EXTRACTION_VERSION, "report": report, "eval_sets": packed_eval,
                   "train": [_pack(m) for m in train], "valid": [_pack(m) for m in valid]}
        _write_pickle(corpus_path, payload)
        eval_stats = {k: stats[k] for k in EVAL_SETS}
        _write_pickle(eval_path, {"version": EXTRACTION_VERSION, "report": {**eval_stats, "seconds": seconds},
                                  "eval_sets": packed_eval})
    return Corpus(train=[_unpack(t) for t in payload["train"]],
                  valid=[_unpack(t) for t in payload["valid"]],
                  eval_sets={k: [_unpack(t) for t in v] for k, v in payload["eval_sets"].items()},
                  report=payload["report"])


# ---------------------------------------------------------------------------- CLI


def summary_lines(report: dict) -> list[str]:
    """The extraction report as lines for a terminal."""
    lines = []
    for coll in (*TRAIN_COLLECTIONS, *EVAL_SETS):
        s = report.get(coll)
        if not s:
            continue
        line = (f"{coll:14s} {s['melodies']:6d} melodies {s['notes']:8d} notes  "
                f"failed {s['failed']}  too short {s['too_short']}  off-grid notes {s['off_grid']}  "
                f"duplicates removed {s['duplicates_removed']}")
        if coll in PEARCE:
            line += f"  (Pearce: {PEARCE[coll]['melodies']} melodies, {PEARCE[coll]['notes']} notes)"
        lines.append(line)
    for coll in (*TRAIN_COLLECTIONS, *EVAL_SETS):
        s = report.get(coll) or {}
        for key, what in (("not_chorale", "not a chorale, skipped"),
                          ("skipped_duplicate_files", "same score as an .mxl, skipped")):
            if s.get(key):
                lines.append(f"{coll}: {what}: {', '.join(s[key])}")
        for failure in s.get("failed_ids", [])[:5]:
            lines.append(f"{coll}: failed: {failure}")
    split = report.get("split", {})
    if split:
        lines.append(f"split: train {split['train']['melodies']} melodies / {split['train']['notes']} notes, "
                     f"valid {split['valid']['melodies']} melodies / {split['valid']['notes']} notes")
    lines.append(f"extraction took {report.get('seconds', 0)} s; cache {report.get('cache', '')}")
    return lines
