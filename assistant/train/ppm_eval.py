"""The PPM baseline on melodies: scoring, the IDyOM reproduction, sampling.

Viewpoints, one PPM alphabet each (functions reused by the evaluation command):

* **pitch**: the MIDI pitch (``pitch_symbols``);
* **rhythm**: ``(rest before the note, duration)`` in ticks; the first note's rest is
  its distance from the downbeat of its bar (``rhythm_pairs``);
* **linked**: ``(rest, duration, pitch)`` (``linked_triples``). As in IDyOM, the
  linked alphabet is the product of the rhythm and pitch alphabets, with index
  ``rhythm * P + pitch``: ``p(pitch | rhythm)`` is then one row of the linked
  distribution, renormalised.

Alphabets are built from the melodies a ``PPMScorer`` is given (training melodies
plus optional ``vocab`` melodies, e.g. the evaluation set, as IDyOM derives its
alphabets from the dataset); pitches and pairs are mapped to ints by
``SymbolTable``, in sorted order. A scorer with ``open_alphabet=True`` reserves one
extra symbol, *other*, per table: a pitch or rhythm pair met later that is not in
the table is scored as *other* (so its information content is that of "some unseen
pair", a lower bound) and counted in the result's ``unseen``. With
``open_alphabet=False`` such a symbol raises ``ValueError``.

Models (IDyOM defaults, which are Pearce's best settings, thesis 2005 ch. 6): the
long-term model (LTM) has escape C, blending, unbounded order, no update
exclusion; the short-term model (STM) escape X (AX), blending, unbounded order,
update exclusion. They are combined per note by ``assistant.music.ppm.combine``.

Reproduction (``reproduce``, seed 0; Pearce's figures in brackets), pitch only,
bits/note: chorales (186 melodies, 9336 notes; Pearce 185 / 9227) LTM 2.450
(2.444), LTM+ & STM 2.371 (2.342); kinder (213 / 8393, as Pearce) LTM 2.444
(2.428), LTM+ & STM 2.162 (2.106). Other fold seeds move these by about 0.01.
The combination is a geometric mean with bias 2 (best geometric bias: 2 on the
chorales, 1 on kinder; an arithmetic mean with bias 3 gives 2.357 and 2.154;
IDyOM's default LTM-STM bias 7 gives 2.408 and 2.220).

Memory and order: the PPM is a suffix automaton, linear in what it learnt, so
unbounded order costs nothing extra: the pitch LTM over the whole training corpus
(0.76 M symbols) has 1.0 M states, takes about 80 MB and 5 s to build; see
``order_study`` for the bits/note of order bounds 6/8/10 against unbounded.

Threads: everything here is for the main thread of an evaluation command. A
``PPMScorer`` is not locked; ``score(learn=False)`` and ``generate`` leave its
long-term models unchanged, ``score(learn=True)`` changes them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np

from ..music import Melody, Meter, Note, bar_position, bar_start, next_bar_start
from ..music.ppm import PPM, combine

PITCHES = 128

PEARCE_TARGETS = {
    "chorales": {"ltm": 2.444, "both_plus": 2.342},
    "kinder": {"ltm": 2.428, "both_plus": 2.106},
}
"""Pearce (2005), pitch only, 10-fold cross-validation: LTM alone, and LTM+ with STM."""

DEFAULT_BIAS = 2.0
DEFAULT_METHOD = "geometric"
VIEWPOINT_BIAS = 2.0
"""Bias between the pitch and linked viewpoints (IDyOM's default viewpoint bias)."""


@dataclass(frozen=True)
class ModelSettings:
    """The settings of one PPM (see ``assistant.music.ppm.PPM``)."""

    order: int | None = None
    escape: str = "C"
    update_exclusion: bool = False

    def make(self, alphabet_size: int) -> PPM:
        return PPM(alphabet_size, order=self.order, escape=self.escape,
                   update_exclusion=self.update_exclusion)


LTM = ModelSettings(order=None, escape="C", update_exclusion=False)
STM = ModelSettings(order=None, escape="X", update_exclusion=True)


# ------------------------------------------------------------------- viewpoints


def pitch_symbols(melody: Melody) -> list[int]:
    """MIDI pitches, one per note."""
    return [n.pitch for n in melody.notes]


def rhythm_pairs(melody: Melody) -> list[tuple[int, int]]:
    """``(rest before the note, duration)`` in ticks, one per note.

    The rest of the first note is its distance from the downbeat of its bar; later
    rests are measured from the end of the previous note (never negative).
    """
    out = []
    prev_end = None
    for n in melody.notes:
        if prev_end is None:
            rest = n.onset - bar_start(melody.meters, n.onset)
        else:
            rest = max(0, n.onset - prev_end)
        out.append((rest, n.duration))
        prev_end = n.end
    return out


def linked_triples(melody: Melody) -> list[tuple[int, int, int]]:
    """``(rest, duration, pitch)`` per note: the rhythm pair and the pitch together."""
    return [(r, d, n.pitch) for (r, d), n in zip(rhythm_pairs(melody), melody.notes)]


class SymbolTable:
    """Values (pitches, rhythm pairs) to ints ``0..n-1`` in sorted order.

    With ``other=True`` one more index, ``other``, stands for any value not in the
    table. ``index`` returns ``other`` for such a value, or raises ``ValueError``
    when there is none.
    """

    def __init__(self, values: Iterable, other: bool = False) -> None:
        self.values = sorted(set(values))
        self._index = {v: i for i, v in enumerate(self.values)}
        self.other = len(self.values) if other else None

    def __len__(self) -> int:
        return len(self.values) + (1 if self.other is not None else 0)

    def __contains__(self, value) -> bool:
        return value in self._index

    def index(self, value) -> int:
        i = self._index.get(value)
        if i is not None:
            return i
        if self.other is None:
            raise ValueError(f"{value!r} is not in the alphabet (and the alphabet is closed)")
        return self.other

    def value(self, index: int):
        """The value of ``index`` (``None`` for *other*)."""
        return None if index == self.other else self.values[index]


# ----------------------------------------------------------------------- scorer


def _ic(p: float) -> float:
    return -math.log2(p)


class PPMScorer:
    """Long-term PPMs for pitch, rhythm and the linked viewpoint, plus fresh STMs per melody.

    ``train``: the training melodies (may be empty). ``vocab``: more melodies whose
    symbols join the alphabets but are not learnt (e.g. the evaluation set).
    ``pitch_alphabet``: ``"observed"`` (the pitches of ``train`` + ``vocab``, as
    IDyOM) or ``"midi"`` (0..127). ``viewpoints``: which of ``"pitch"``,
    ``"rhythm"``, ``"linked"`` to model (``rhythm`` and ``linked`` go together for
    the pitch-given-rhythm and joint figures).
    """

    def __init__(self, train: Sequence[Melody], vocab: Sequence[Melody] = (), *,
                 pitch_alphabet: str = "observed", open_alphabet: bool = True,
                 ltm: ModelSettings = LTM, stm: ModelSettings = STM,
                 bias: float = DEFAULT_BIAS, method: str = DEFAULT_METHOD,
                 viewpoints: Sequence[str] = ("pitch", "rhythm", "linked")) -> None:
        unknown = set(viewpoints) - {"pitch", "rhythm", "linked"}
        if unknown:
            raise ValueError(f"unknown viewpoints {sorted(unknown)}")
        if pitch_alphabet not in ("observed", "midi"):
            raise ValueError(f"pitch_alphabet must be 'observed' or 'midi', got {pitch_alphabet!r}")
        train = list(train)
        every = train + list(vocab)
        if pitch_alphabet == "midi":
            self.pitches = SymbolTable(range(PITCHES), other=False)
        else:
            self.pitches = SymbolTable((p for m in every for p in pitch_symbols(m)), other=open_alphabet)
        self.rhythms = SymbolTable((r for m in every for r in rhythm_pairs(m)), other=open_alphabet)
        self.ltm_settings, self.stm_settings = ltm, stm
        self.bias, self.method = bias, method
        self.viewpoints = tuple(v for v in ("pitch", "rhythm", "linked") if v in viewpoints)
        self.sizes = {"pitch": len(self.pitches), "rhythm": len(self.rhythms),
                      "linked": len(self.rhythms) * len(self.pitches)}
        self.ltm = {v: ltm.make(self.sizes[v]) for v in self.viewpoints}
        for m in train:
            seqs = self.encode(m)
            for v in self.viewpoints:
                self.ltm[v].train(seqs[v])

    # ............................................................. encoding

    def encode(self, melody: Melody) -> dict[str, list[int]]:
        """Symbol sequences of ``melody`` per viewpoint (``"unseen"``: notes off the alphabets)."""
        p_idx = [self.pitches.index(p) for p in pitch_symbols(melody)]
        r_idx = [self.rhythms.index(r) for r in rhythm_pairs(melody)]
        npitch = len(self.pitches)
        unseen = sum(1 for p, r in zip(p_idx, r_idx)
                     if p == self.pitches.other or r == self.rhythms.other)
        return {"pitch": p_idx, "rhythm": r_idx,
                "linked": [r * npitch + p for r, p in zip(r_idx, p_idx)], "unseen": unseen}

    # .............................................................. scoring

    def _dist(self, v: str, seq: list[int], i: int, stms: dict[str, PPM] | None) -> np.ndarray:
        d = self.ltm[v].predict(seq[:i])
        if stms is not None:
            d = combine([d, stms[v].predict(seq[:i])], self.bias, self.method)
        return d

    def score(self, melody: Melody, stm: bool = True, learn: bool = False) -> dict:
        """Per-note information content (bits, ``-log2 p``) of ``melody``.

        Returns float64 arrays, one value per note: ``pitch_only`` (pitch model),
        ``rhythm`` (rhythm model), ``pitch_given_rhythm`` (linked model:
        ``p(r, p) / sum_p' p(r, p')``), ``joint`` (``rhythm +
        pitch_given_rhythm``) and ``pitch_given_rhythm_combined`` (that linked
        row and the pitch model's distribution combined like two IDyOM
        viewpoints, ``combine`` with ``VIEWPOINT_BIAS``: the sparse linked
        alphabet alone does worse than pitch only), for the viewpoints
        modelled; and ``unseen``, the
        number of notes whose pitch or rhythm pair is not in the alphabets. With
        ``stm`` the LTM and a fresh STM (which learns the melody as it goes) are
        combined at every note. With ``learn`` the LTMs learn the melody as it is
        predicted and keep it (IDyOM's LTM+).
        """
        seqs = self.encode(melody)
        n = len(melody.notes)
        stms = {v: self.stm_settings.make(self.sizes[v]) for v in self.viewpoints} if stm else None
        out: dict = {"unseen": seqs["unseen"]}
        npitch = len(self.pitches)
        if "pitch" in self.viewpoints:
            out["pitch_only"] = np.empty(n)
        if "rhythm" in self.viewpoints:
            out["rhythm"] = np.empty(n)
        if "linked" in self.viewpoints:
            out["pitch_given_rhythm"] = np.empty(n)
        both = "pitch" in self.viewpoints and "linked" in self.viewpoints
        if both:
            out["pitch_given_rhythm_combined"] = np.empty(n)
        for i in range(n):
            d_pitch = row = None
            for v in self.viewpoints:
                seq = seqs[v]
                d = self._dist(v, seq, i, stms)
                x = seq[i]
                if v == "pitch":
                    out["pitch_only"][i] = _ic(d[x])
                    d_pitch = d
                elif v == "rhythm":
                    out["rhythm"][i] = _ic(d[x])
                else:
                    r, p = divmod(x, npitch)
                    row = d[r * npitch:(r + 1) * npitch]
                    row = row / row.sum()
                    out["pitch_given_rhythm"][i] = _ic(row[p])
                    if both:
                        c = combine([d_pitch, row], VIEWPOINT_BIAS, self.method)
                        out["pitch_given_rhythm_combined"][i] = _ic(c[p])
                if stms is not None:
                    stms[v].observe(x)
                if learn:
                    self.ltm[v].observe(x)
        if learn:
            for v in self.viewpoints:
                self.ltm[v].reset_sequence()
        if "rhythm" in out and "pitch_given_rhythm" in out:
            out["joint"] = out["rhythm"] + out["pitch_given_rhythm"]
        return out

    # ........................................................... generation

    def generate(self, prompt_notes: Sequence[Note], meters: Sequence[Meter], n_notes: int | None = None,
                 bars: int | None = None, rng: np.random.Generator | int | None = None,
                 temperature: float = 1.0) -> list[Note]:
        """Sample a continuation of ``prompt_notes``: per note the rhythm pair from the
        rhythm LTM and STM combined, then the pitch from the linked models given that
        rhythm. Stops after ``n_notes`` notes, or at the ``bars``-th downbeat after
        the end of the prompt (a note running past it is shortened). The STMs learn
        the prompt and the generated notes; the LTMs are not changed.
        """
        if "rhythm" not in self.viewpoints or "linked" not in self.viewpoints:
            raise ValueError("generate needs the rhythm and linked viewpoints")
        if (n_notes is None) == (bars is None):
            raise ValueError("give exactly one of n_notes and bars")
        if not self.rhythms.values or not self.pitches.values:
            raise ValueError("generate needs a scorer whose alphabets are not empty")
        meters = list(meters) or [Meter(0)]
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        prompt = sorted(prompt_notes, key=lambda n: n.onset)
        stms = {v: self.stm_settings.make(self.sizes[v]) for v in ("rhythm", "linked")}
        r_seq: list[int] = []
        l_seq: list[int] = []
        if prompt:
            enc = self.encode(Melody("prompt", "prompt", list(prompt), meters))
            r_seq, l_seq = list(enc["rhythm"]), list(enc["linked"])
            for r, lk in zip(r_seq, l_seq):
                stms["rhythm"].observe(r)
                stms["linked"].observe(lk)
            cursor = max(n.end for n in prompt)
            first = False
        else:
            cursor = 0 if bar_position(meters, 0) == 0 else next_bar_start(meters, 0)
            first = True
        velocity = prompt[-1].velocity if prompt else 80
        end = None
        if bars is not None:
            end = cursor if bar_position(meters, cursor) == 0 else next_bar_start(meters, cursor)
            for _ in range(int(bars)):
                end = next_bar_start(meters, end)
        limit = n_notes if n_notes is not None else 64 * int(bars)
        npitch = len(self.pitches)
        out: list[Note] = []
        while len(out) < limit:
            dr = self._dist("rhythm", r_seq, len(r_seq), stms)
            if self.rhythms.other is not None:
                dr = dr.copy()
                dr[self.rhythms.other] = 0.0
            r = _sample(dr, rng, temperature)
            rest, dur = self.rhythms.value(r)
            onset = (bar_start(meters, cursor) if first else cursor) + rest
            if end is not None and onset >= end:
                break
            dl = self._dist("linked", l_seq, len(l_seq), stms)
            row = dl[r * npitch:(r + 1) * npitch].copy()
            if self.pitches.other is not None:
                row[self.pitches.other] = 0.0
            p = _sample(row, rng, temperature)
            if end is not None:
                dur = min(dur, end - onset)
            out.append(Note(onset, dur, self.pitches.value(p), velocity))
            for v, seq, x in (("rhythm", r_seq, r), ("linked", l_seq, r * npitch + p)):
                seq.append(x)
                stms[v].observe(x)
            cursor = onset + dur
            first = False
        return out


def _sample(dist: np.ndarray, rng: np.random.Generator, temperature: float) -> int:
    p = np.asarray(dist, dtype=np.float64)
    if temperature != 1.0:
        p = np.where(p > 0, np.power(np.maximum(p, 1e-300), 1.0 / temperature), 0.0)
    p = p / p.sum()
    return int(rng.choice(len(p), p=p))


def generate(prompt_notes: Sequence[Note], meters: Sequence[Meter], n_notes: int | None = None,
             bars: int | None = None, rng: np.random.Generator | int | None = None, *,
             scorer: PPMScorer, temperature: float = 1.0) -> list[Note]:
    """``scorer.generate(...)``: a continuation sampled from the PPM LTM+STM (rhythm, then pitch)."""
    return scorer.generate(prompt_notes, meters, n_notes=n_notes, bars=bars, rng=rng,
                           temperature=temperature)


# ----------------------------------------------------------------- reproduction


def folds_of(n: int, k: int = 10, seed: int = 0) -> list[list[int]]:
    """``k`` folds of ``range(n)``: a seeded shuffle cut into near-equal parts, each sorted."""
    order = np.random.default_rng(seed).permutation(n)
    return [sorted(int(i) for i in part) for part in np.array_split(order, k)]


def _combined_ic(p1: np.ndarray, p2: np.ndarray, x: np.ndarray, bias: float, method: str) -> np.ndarray:
    """Per-row ``-log2`` of ``combine([p1[i], p2[i]])[x[i]]``, vectorised over rows."""
    hmax = math.log2(p1.shape[1])
    ws = []
    for p in (p1, p2):
        h = -(p * np.log2(p)).sum(axis=1)
        rel = np.clip(h / hmax, 1e-12, 1.0) if hmax > 0 else np.ones_like(h)
        ws.append(rel ** (-bias))
    w1, w2 = ws
    tot = w1 + w2
    rows = np.arange(len(x))
    if method == "arithmetic":
        c = (w1[:, None] * p1 + w2[:, None] * p2) / tot[:, None]
    else:
        logc = (w1 / tot)[:, None] * np.log(p1) + (w2 / tot)[:, None] * np.log(p2)
        c = np.exp(logc - logc.max(axis=1, keepdims=True))
    c = c / c.sum(axis=1, keepdims=True)
    return -np.log2(c[rows, x])


def _melody_means(ic: np.ndarray, lengths: list[int]) -> float:
    """Mean over melodies of each melody's mean (Pearce's figure)."""
    bounds = np.cumsum([0] + lengths)
    return float(np.mean([ic[a:b].mean() for a, b in zip(bounds[:-1], bounds[1:])]))


def reproduce_set(melodies: Sequence[Melody], *, folds: int = 10, seed: int = 0,
                  ltm: ModelSettings = LTM, stm: ModelSettings = STM,
                  pitch_alphabet: str = "observed",
                  biases: Sequence[float] = (0, 1, 2, 3, 4, 5, 6, 7, 8, 16),
                  methods: Sequence[str] = ("geometric", "arithmetic")) -> dict:
    """Pearce's protocol on one evaluation set, pitch only.

    10-fold cross-validation by melody; the LTM of a fold learns the other nine
    folds. Per test melody, in set order: ``ltm`` (the LTM alone), ``stm`` (a fresh
    STM alone), ``ltm_plus`` (the LTM also learns each test melody note by note
    as it is predicted, and keeps it for the fold's later melodies: IDyOM's LTM+),
    ``both`` (LTM with STM) and ``both_plus`` (LTM+ with STM), combined with each
    bias and method listed. Figures: mean over melodies of each melody's mean
    information content (bits/note).
    """
    alphabet = (SymbolTable(range(PITCHES)) if pitch_alphabet == "midi"
                else SymbolTable(p for m in melodies for p in pitch_symbols(m)))
    size = len(alphabet)
    seqs = [[alphabet.index(p) for p in pitch_symbols(m)] for m in melodies]
    parts = folds_of(len(seqs), folds, seed)
    order: list[int] = []
    d_ltm, d_plus, d_stm = [], [], []
    for part in parts:
        test = set(part)
        model = ltm.make(size)
        for i, s in enumerate(seqs):
            if i not in test:
                model.train(s)
        plus = model.copy()
        for i in part:
            s = seqs[i]
            short = stm.make(size)
            for j, x in enumerate(s):
                ctx = s[:j]
                d_ltm.append(model.predict(ctx))
                d_plus.append(plus.predict(ctx))
                d_stm.append(short.predict(ctx))
                short.observe(x)
                plus.observe(x)
            plus.reset_sequence()
            order.append(i)
    lengths = [len(seqs[i]) for i in order]
    x = np.array([sym for i in order for sym in seqs[i]])
    P_ltm, P_plus, P_stm = np.array(d_ltm), np.array(d_plus), np.array(d_stm)
    rows = np.arange(len(x))
    result = {
        "melodies": len(seqs), "notes": int(len(x)), "alphabet": size,
        "ltm": _melody_means(-np.log2(P_ltm[rows, x]), lengths),
        "ltm_plus": _melody_means(-np.log2(P_plus[rows, x]), lengths),
        "stm": _melody_means(-np.log2(P_stm[rows, x]), lengths),
    }
    grid: dict = {}
    for method in methods:
        for bias in biases:
            key = f"{method}/{bias:g}"
            grid[key] = {
                "both": _melody_means(_combined_ic(P_ltm, P_stm, x, bias, method), lengths),
                "both_plus": _melody_means(_combined_ic(P_plus, P_stm, x, bias, method), lengths),
            }
    best = min(grid, key=lambda kk: grid[kk]["both_plus"])
    default = f"{DEFAULT_METHOD}/{DEFAULT_BIAS:g}"
    result["both"] = grid[default]["both"]
    result["both_plus"] = grid[default]["both_plus"]
    result["best_combination"] = {"setting": best, **grid[best]}
    result["grid"] = grid
    return result


def reproduce(eval_sets: dict[str, Sequence[Melody]], **kwargs) -> dict:
    """Pearce's reproduction on each evaluation set (see ``reproduce_set``), with the
    published targets, the settings and the differences (ours - published)."""
    start = time.perf_counter()
    out: dict = {"settings": {"ltm": asdict(kwargs.get("ltm", LTM)), "stm": asdict(kwargs.get("stm", STM)),
                              "combination": {"method": DEFAULT_METHOD, "bias": DEFAULT_BIAS},
                              "folds": kwargs.get("folds", 10), "seed": kwargs.get("seed", 0),
                              "pitch_alphabet": kwargs.get("pitch_alphabet", "observed"),
                              "figure": "mean over melodies of the mean information content per note (bits)"}}
    for name, melodies in eval_sets.items():
        res = reproduce_set(melodies, **kwargs)
        target = PEARCE_TARGETS.get(name)
        if target:
            res["target"] = target
            res["difference"] = {k: round(res[k] - v, 3) for k, v in target.items()}
        out[name] = res
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


# ------------------------------------------------------------------ order study


def order_study(train: Sequence[Melody], eval_sets: dict[str, Sequence[Melody]],
                orders: Sequence[int | None] = (6, 8, 10, None)) -> dict:
    """Pitch bits/note of an LTM trained on ``train`` for each order bound, on each
    evaluation set: the LTM alone and LTM with STM (default combination); plus
    the model's size and build time."""
    every = list(train) + [m for ms in eval_sets.values() for m in ms]
    alphabet = SymbolTable(p for m in every for p in pitch_symbols(m))
    size = len(alphabet)
    train_seqs = [[alphabet.index(p) for p in pitch_symbols(m)] for m in train]
    out: dict = {"train_melodies": len(train_seqs), "train_notes": sum(map(len, train_seqs)), "alphabet": size}
    t = time.perf_counter()
    base = LTM.make(size)
    for s in train_seqs:
        base.train(s)
    out["build_seconds"] = round(time.perf_counter() - t, 1)
    out["states"] = base.num_states
    for order in orders:
        model = base
        model.order = order
        key = "unbounded" if order is None else str(order)
        res = {}
        for name, melodies in eval_sets.items():
            lengths, ltm_ic, both_ic = [], [], []
            for m in melodies:
                s = [alphabet.index(p) for p in pitch_symbols(m)]
                short = STM.make(size)
                for j, x in enumerate(s):
                    d = model.predict(s[:j])
                    ltm_ic.append(_ic(d[x]))
                    both_ic.append(_ic(combine([d, short.predict(s[:j])], DEFAULT_BIAS, DEFAULT_METHOD)[x]))
                    short.observe(x)
                lengths.append(len(s))
            res[name] = {"ltm": round(_melody_means(np.array(ltm_ic), lengths), 4),
                         "both": round(_melody_means(np.array(both_ic), lengths), 4)}
        out[key] = res
    return out


# -------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant.train.ppm_eval",
                                     description="PPM baseline: Pearce (2005) reproduction and order study.")
    parser.add_argument("--reproduce", action="store_true", help="10-fold reproduction on the evaluation sets")
    parser.add_argument("--orders", action="store_true",
                        help="bits/note of a corpus LTM with order bounds 6/8/10/unbounded")
    parser.add_argument("--pitch-alphabet", choices=("observed", "midi"), default="observed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not (args.reproduce or args.orders):
        parser.error("give --reproduce and/or --orders")
    from .corpus import load_corpus, load_eval_sets

    result: dict = {}
    if args.reproduce:
        result["reproduce"] = reproduce(load_eval_sets(progress=False), seed=args.seed,
                                        pitch_alphabet=args.pitch_alphabet)
    if args.orders:
        corpus = load_corpus(progress=False)
        result["orders"] = order_study(corpus.train, corpus.eval_sets)
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
