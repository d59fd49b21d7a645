"""``midi-assistant eval --harmony``: how well chords are predicted, and how they fit the melody.

For each evaluation set of the chord corpus (``chorales``: BWV 253-438, all four
voices labelled per beat; ``tunes``: the held-out 10% of the chord-annotated tunes
of ryansMammoth and oneills1850, which turn out to carry none: the set is empty and
says so) and each predictor it reports:

* ``chord_nll_bits``: mean -log2 p(true chord of the beat) over all beats, with the
  true chords of the earlier beats as history (teacher forcing);
* ``top1`` / ``top3``: share of beats whose true chord is the most likely one / among
  the three most likely (same history);
* ``note_in_chord``: share of sixteenth-note frames with a sounding melody note whose
  pitch class is a tone of the beat's chord (silent frames skipped, N.C. counts as
  outside), per piece, then averaged over pieces, as ReaLchords defines it. For the
  model and the bigram it is measured *free running*, each beat's chord chosen from
  the chords the predictor itself chose before (``chord_model.choose_chord``: the most
  likely real chord, or with a melody head the chord that best fits its predicted melody,
  as the live accompaniment chooses): that is what the live accompaniment plays.
  ``note_in_chord_teacher_forced`` is the same with the true history;
* ``seventh_share``: the share of seventh chords among the real chords played running free
  (for ``true``: among the labels), to show that a better fit is not bought with bigger chords;
* how the chords move, running free (for ``true``: the labels): ``chord_change_rate`` (beats
  whose chord differs from the beat before), ``bar_change_rate`` (bars with a change),
  ``quality_shares`` (each chord quality's share of the real chords) and ``chord_entropy``
  (bits, of the histogram of chords played).

``--melody-weight`` and ``--seventh-credit`` override ``choose_chord``'s settings; ``--valid``
scores the validation pieces in place of the chorales (to tune those settings).

Predictors: ``model`` (``models/harmony.onnx``, strictly causal);
``model_ahead`` (the same model told each beat's melody note in advance, as it is
for the assistant's own suggestions and accepted phrases); ``reactive`` (told the note
only when it starts on the beat, after the decision tick: what the live accompaniment
hears when it waits for the player's note; a held note, a rest or a later note is not
told); ``bigram`` (p(chord | previous chord),
counted on the training pieces in all 12 transpositions, add-k smoothing with k
chosen on the validation pieces); ``rule`` (the diatonic triad of the tracked key
that contains the latest melody note heard at the decision tick; no
probabilities, so no ``chord_nll_bits`` or ``top3``); ``rule_ahead`` (the same rule
with the note sounding at the beat itself); ``true`` (the labels).

Every predictor but the ``*_ahead`` ones sees only what the live engine would of
the player: the melody up to one tick before the beat (``chord_model.DECISION_TICKS``).

Needs the ``train`` extra (music21, for the corpus); main thread.
"""

from __future__ import annotations

import bisect
import math
import time
from pathlib import Path

import numpy as np

from ..live.chord_model import (
    AHEAD, BOS_CHORD, DECISION_TICKS, MELODY_WEIGHT, SEVENTH_CREDIT, ChordModel, causal, choose_chord, piece_inputs,
    sounding_at,
)
from ..music.harmony import (
    CHORD_VOCAB_SIZE, NO_CHORD, QUALITIES, KeyTracker, chord_pitch_classes, chord_quality, rule_chord, transpose_chord,
)
from ..music import Note, bar_start

LN2 = math.log(2)
HARMONY_SETS = ("chorales", "tunes")
FRAME_TICKS = 3  # a sixteenth note


# ----------------------------------------------------------------- note in chord


def note_in_chord(melody, beats: list[tuple[int, int]], chords) -> float | None:
    """Share of sixteenth frames with a sounding melody note that is a tone of the beat's chord.

    ``beats`` gives the beat ticks; ``chords[i]`` is the chord played on beat ``i``.
    None when no frame has a sounding note.
    """
    counts = frame_pitch_classes(melody, beats)
    frames = counts.sum()
    if not frames:
        return None
    hits = sum(counts[j, list(chord_pitch_classes(int(c)))].sum() for j, c in enumerate(chords[:len(beats)]))
    return float(hits / frames)


def frame_pitch_classes(melody, beats: list[tuple[int, int]]) -> np.ndarray:
    """Counts [T, 12] of the sixteenth frames of each beat by the pitch class sounding in them,
    on the frames ``note_in_chord`` scores (so its hits are these counts summed over chord tones)."""
    out = np.zeros((len(beats), 12))
    if not beats:
        return out
    ticks = [t for t, _ in beats]
    j = 0
    for n in melody.notes:
        first = max(n.onset, ticks[0])
        f = first + (-(first - ticks[0]) % FRAME_TICKS)
        while f < n.end:
            while j + 1 < len(ticks) and ticks[j + 1] <= f:
                j += 1
            while j > 0 and ticks[j] > f:
                j -= 1
            out[j, n.pitch % 12] += 1
            f += FRAME_TICKS
    return out


# ------------------------------------------------------------------- bigram


class ChordBigram:
    """p(chord | previous chord) with add-k smoothing, counted in all 12 transpositions."""

    def __init__(self, k: float = 0.1):
        self.counts = np.zeros((CHORD_VOCAB_SIZE + 1, CHORD_VOCAB_SIZE))
        self.k = k

    def fit(self, pieces) -> "ChordBigram":
        for p in pieces:
            seq = [BOS_CHORD] + [c for _, c in p.beats]
            for s in range(12):
                moved = [c if c == BOS_CHORD else transpose_chord(c, s) for c in seq]
                for a, b in zip(moved, moved[1:]):
                    self.counts[a, b] += 1
        return self

    def log_probs(self, previous: int) -> np.ndarray:
        row = self.counts[previous] + self.k
        return np.log(row / row.sum())

    def choose_k(self, pieces, options=(0.01, 0.03, 0.1, 0.3, 1.0)) -> float:
        """Set ``k`` to the option with the lowest loss on ``pieces``; returns it."""
        best = None
        for k in options:
            self.k = k
            nll = -sum(self.log_probs(a)[b] for p in pieces
                       for a, b in zip([BOS_CHORD] + [c for _, c in p.beats], [c for _, c in p.beats]))
            if best is None or nll < best[0]:
                best = (nll, k)
        self.k = best[1]
        return self.k


# ------------------------------------------------------------------- per piece


def _scores(logp_rows: np.ndarray, truth: np.ndarray) -> tuple[list[float], list[int], list[int]]:
    nll = [-float(logp_rows[i, truth[i]]) / LN2 for i in range(len(truth))]
    order = np.argsort(-logp_rows, axis=1)
    top1 = [int(order[i, 0] == truth[i]) for i in range(len(truth))]
    top3 = [int(truth[i] in order[i, :3]) for i in range(len(truth))]
    return nll, top1, top3


def seventh_counts(chords) -> tuple[int, int]:
    """``(seventh chords, real chords)`` among ``chords`` (N.C. is not a real chord)."""
    real = [int(c) for c in chords if int(c) != NO_CHORD]
    return sum(len(chord_pitch_classes(c)) == 4 for c in real), len(real)


def movement(chords) -> dict:
    """How chords move in one piece: ``changes`` (beats whose chord differs from the beat
    before), ``beats`` after the first, ``bar_changes``/``bars`` the same per bar (a bar
    changes when any of its beats does), and the chord labels played, for the shares by
    quality and the entropy of the histogram (see ``summarise``)."""
    return {"changes": [sum(int(a != b) for a, b in zip(chords, chords[1:]))], "steps": [max(0, len(chords) - 1)],
            "played": [int(c) for c in chords]}


def _bar_changes(piece, chords) -> tuple[int, int]:
    """(bars in which the chord changes at least once, bars after the first) of one piece."""
    meters = piece.melody.meters
    bars: dict[int, list[int]] = {}
    for (tick, _), chord in zip(piece.beats, chords):
        bars.setdefault(bar_start(meters, tick), []).append(int(chord))
    ordered = [bars[k] for k in sorted(bars)]
    changed = sum(int(len(set(b)) > 1 or b[0] != prev[-1]) for prev, b in zip(ordered, ordered[1:]))
    return changed, max(0, len(ordered) - 1)


def _piece_figures(piece, truth: np.ndarray, logp: np.ndarray, choose_next, tf_chords=None) -> dict:
    """Figures of one predictor on one piece: ``logp`` [T, V] under the true history, and
    ``choose_next(t, previous)`` giving the chord it plays at beat ``t`` running free;
    ``tf_chords``: the chords it plays with the true history (default: the most likely)."""
    nll, top1, top3 = _scores(logp, truth)
    free, previous = [], BOS_CHORD
    for t in range(len(truth)):
        previous = choose_next(t, previous)
        free.append(previous)
    sevenths, real = seventh_counts(free)
    bar_changed, bars = _bar_changes(piece, free)
    return {"nll": nll, "top1": top1, "top3": top3, **movement(free), "bar_changes": [bar_changed], "bars": [bars],
            "nic": note_in_chord(piece.melody, piece.beats, free),
            "nic_tf": note_in_chord(piece.melody, piece.beats,
                                    np.argmax(logp, axis=1) if tf_chords is None else tf_chords),
            "sevenths": [sevenths], "real": [real]}


def reactive(feats: np.ndarray, piece) -> np.ndarray:
    """``feats`` as the live accompaniment sees them when it waits for the player: the
    lookahead block kept for a beat whose melody note starts after its decision tick and
    at or before the beat (heard within the reaction window), cleared for the others (a
    note held across the beat, a rest, a note after the beat)."""
    out = causal(feats)
    notes = piece.melody.notes
    onsets = [n.onset for n in notes]
    for i, (tick, _) in enumerate(piece.beats):
        k = bisect.bisect_right(onsets, tick) - 1
        if k >= 0 and tick - DECISION_TICKS < onsets[k] <= tick and notes[k].end > tick:
            out[i, AHEAD:] = feats[i, AHEAD:]
    return out


def model_piece(model: ChordModel, piece, ahead: bool | str = False, decision: dict | None = None) -> dict:
    """The model's figures on one piece; ``ahead``: True, it also knows each beat's melody
    note in advance (as for the assistant's own suggestions); ``"reactive"``, only the note
    that starts on the beat (as the live accompaniment, which waits for it); False,
    strictly causal. ``decision``: keyword arguments of ``choose_chord`` (``weight``,
    ``seventh_credit``) for a model with a melody head."""
    prev, feats, truth = piece_inputs(piece.melody, piece.beats)
    if ahead == "reactive":
        feats = reactive(feats, piece)
    elif not ahead:
        feats = causal(feats)
    decision = decision or {}
    state = [np.zeros((model.state_layers, 1, model.hidden), dtype=np.float32)]

    def choose_next(t: int, previous: int) -> int:
        rows, state[0], melody = model.peek_full(previous, feats[t], state[0])
        return choose_chord(rows, melody, **decision)

    logp, melody = model.forward_all_full(prev, feats)
    tf_chords = None if melody is None else [choose_chord(logp[t], melody[t], **decision) for t in range(len(truth))]
    return _piece_figures(piece, truth, logp, choose_next, tf_chords)


def bigram_piece(bigram: ChordBigram, piece) -> dict:
    truth = np.array([c for _, c in piece.beats])
    prev = np.concatenate([[BOS_CHORD], truth[:-1]])
    logp = np.stack([bigram.log_probs(int(a)) for a in prev])
    return _piece_figures(piece, truth, logp, lambda t, previous: choose_chord(bigram.log_probs(previous)))


def rule_chords(melody, beats, ahead: bool = False) -> list[int]:
    """The rule baseline's chord per beat, from what is heard before each decision tick;
    with ``ahead`` the note sounding at the beat itself is used when there is one."""
    tracker = KeyTracker()
    notes = melody.notes
    fed = 0
    out = []
    for tick, _ in beats:
        decision = tick - DECISION_TICKS
        while fed < len(notes) and notes[fed].onset < decision:
            n = notes[fed]
            tracker.update(Note(n.onset, max(1, min(n.end, decision) - n.onset), n.pitch))
            fed += 1
        est = tracker.estimate
        current = notes[fed - 1].pitch if fed else None
        if ahead:
            at = sounding_at(notes[max(0, fed - 2):fed + 2], tick)
            current = at.pitch if at is not None else current
        out.append(rule_chord(est.key if est else None, current))
    return out


def rule_piece(piece, ahead: bool = False) -> dict:
    truth = [c for _, c in piece.beats]
    chords = rule_chords(piece.melody, piece.beats, ahead)
    sevenths, real = seventh_counts(chords)
    bar_changed, bars = _bar_changes(piece, chords)
    return {"top1": [int(a == b) for a, b in zip(chords, truth)],
            "nic": note_in_chord(piece.melody, piece.beats, chords), "sevenths": [sevenths], "real": [real],
            **movement(chords), "bar_changes": [bar_changed], "bars": [bars]}


def _mean(xs) -> float | None:
    xs = [x for x in xs if x is not None]
    return round(float(np.mean(xs)), 4) if xs else None


def summarise(results: list[dict]) -> dict:
    out = {}
    pooled = {k: [v for r in results for v in r.get(k, [])] for k in ("nll", "top1", "top3")}
    if pooled["nll"]:
        out["chord_nll_bits"] = _mean(pooled["nll"])
    if pooled["top1"]:
        out["top1"] = _mean(pooled["top1"])
    if pooled["top3"]:
        out["top3"] = _mean(pooled["top3"])
    out["note_in_chord"] = _mean(r.get("nic") for r in results)
    if any("nic_tf" in r for r in results):
        out["note_in_chord_teacher_forced"] = _mean(r.get("nic_tf") for r in results)
    real = sum(sum(r.get("real", [])) for r in results)
    if real:
        out["seventh_share"] = round(sum(sum(r.get("sevenths", [])) for r in results) / real, 4)
    out.update(movement_summary(results))
    return out


def movement_summary(results: list[dict]) -> dict:
    """``chord_change_rate`` (per beat) and ``bar_change_rate`` (per bar), the share of each
    chord quality among the real chords played (``quality_shares``, N.C. apart) and the
    entropy in bits of the histogram of chords played (``chord_entropy``), over all pieces."""
    out: dict = {}
    steps = sum(sum(r.get("steps", [])) for r in results)
    if steps:
        out["chord_change_rate"] = round(sum(sum(r["changes"]) for r in results) / steps, 4)
    bars = sum(sum(r.get("bars", [])) for r in results)
    if bars:
        out["bar_change_rate"] = round(sum(sum(r["bar_changes"]) for r in results) / bars, 4)
    played = [c for r in results for c in r.get("played", [])]
    real = [c for c in played if c != NO_CHORD]
    if real:
        counts = {q: 0 for q in QUALITIES}
        for c in real:
            counts[chord_quality(c)] += 1
        out["quality_shares"] = {q: round(n / len(real), 4) for q, n in counts.items()}
        hist = np.bincount(np.asarray(played), minlength=CHORD_VOCAB_SIZE).astype(np.float64)
        p = hist[hist > 0] / hist.sum()
        out["chord_entropy"] = round(float(-(p * np.log2(p)).sum()), 4)
    return out


def evaluate_set(model: ChordModel, bigram: ChordBigram, pieces, decision: dict | None = None) -> dict:
    if not pieces:
        return {"pieces": 0, "beats": 0,
                "note": "no pieces: music21's ryansMammoth and oneills1850 carry no chord symbols "
                        "(their quoted texts are fingerings), so there are no chord-annotated tunes to hold out"}
    entry = {
        "pieces": len(pieces), "beats": sum(len(p.beats) for p in pieces),
        "model": summarise([model_piece(model, p, decision=decision) for p in pieces]),
        "bigram": summarise([bigram_piece(bigram, p) for p in pieces]),
        "rule": summarise([rule_piece(p) for p in pieces]),
        "model_ahead": summarise([model_piece(model, p, ahead=True, decision=decision) for p in pieces]),
        "reactive": summarise([model_piece(model, p, ahead="reactive", decision=decision) for p in pieces]),
        "rule_ahead": summarise([rule_piece(p, ahead=True) for p in pieces]),
        "true": {"note_in_chord": _mean(note_in_chord(p.melody, p.beats, [c for _, c in p.beats]) for p in pieces),
                 "no_chord_share": _mean([int(c == NO_CHORD) for p in pieces for _, c in p.beats]),
                 "seventh_share": round(sum(seventh_counts([c for _, c in p.beats])[0] for p in pieces)
                                        / max(1, sum(seventh_counts([c for _, c in p.beats])[1] for p in pieces)),
                                        4),
                 **movement_summary([{**movement([c for _, c in p.beats]),
                                      **dict(zip(("bar_changes", "bars"),
                                                 ([x] for x in _bar_changes(p, [c for _, c in p.beats]))))}
                                     for p in pieces])},
    }
    m, b, r, t = entry["model"], entry["bigram"], entry["rule"], entry["true"]
    entry["targets"] = {
        "nll_below_bigram": m["chord_nll_bits"] < b["chord_nll_bits"],
        "top1_above_both_baselines": m["top1"] > max(b["top1"], r["top1"]),
        "note_in_chord_within_0.05_of_true": abs(m["note_in_chord"] - t["note_in_chord"]) <= 0.05,
    }
    return entry


def run_harmony(args) -> dict:
    """The ``eval --harmony`` report as a dict (see the module docstring)."""
    from ..live.chord_model import DEFAULT_HARMONY_MODEL
    from ..errors import UserError
    from ..live.model_file import has_card, sha256_of
    from ..train.chord_corpus import load_chord_corpus

    started = time.monotonic()
    path = Path(args.harmony_model) if getattr(args, "harmony_model", None) else DEFAULT_HARMONY_MODEL
    model = ChordModel.load(path, warmup=False, verify=has_card(path, "eval --harmony"))
    corpus = load_chord_corpus()
    names = [s.strip() for s in (args.sets or ",".join(HARMONY_SETS)).split(",") if s.strip()]
    unknown = [n for n in names if n not in corpus.eval_sets]
    if unknown:
        raise UserError(f"unknown harmony evaluation set {', '.join(unknown)}; choose from {', '.join(HARMONY_SETS)}")
    bigram = ChordBigram().fit(corpus.train)
    k = bigram.choose_k(corpus.valid)
    decision = {k: v for k, v in (("weight", getattr(args, "melody_weight", None)),
                                  ("seventh_credit", getattr(args, "seventh_credit", None))) if v is not None}
    result: dict = {"model": str(path), "model_sha256": sha256_of(path), "bigram_k": k}
    if model.has_melody:
        result["decision"] = {"weight": decision.get("weight", MELODY_WEIGHT),
                              "seventh_credit": decision.get("seventh_credit", SEVENTH_CREDIT)}
    for name in names:
        pieces = corpus.eval_sets[name][: args.limit] if args.limit else corpus.eval_sets[name]
        if getattr(args, "valid", False) and name == "chorales":
            pieces = corpus.valid  # the validation pieces instead (to tune the decision without the test set)
        result[name] = evaluate_set(model, bigram, pieces, decision)
    result["seconds"] = round(time.monotonic() - started, 1)
    return result

