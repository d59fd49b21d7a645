"""PPM* variable-order Markov models over small integer alphabets (IDyOM-style).

This is the statistical baseline and the in-session adaptation model: a
long-term model (LTM) learnt from a corpus and a short-term model (STM) learnt
from the melody being played, combined note by note with :func:`combine`. It
follows M. Pearce's IDyOM (thesis, 2005; Pearce & Wiggins 2004):

* **Counts.** ``c(x | s)`` is the number of times symbol ``x`` followed context
  ``s`` within one training sequence (contexts never cross a sequence boundary).
  With *update exclusion* a second count is kept that grows only when a symbol
  had to be reached by escaping: when ``x`` follows history ``h``, let ``L`` be
  the longest suffix of ``h`` seen before. If ``x`` never followed ``L``, the
  count of ``x`` is raised in the longest shorter suffix that ``x`` did follow;
  every context in which ``x`` is new starts at 1. (This is IDyOM's rule: a
  symbol predicted by the longest context raises no excluded count at all.)
* **Context (PPM*, Cleary & Teahan 1997).** Among the suffixes of the context
  that occurred in training followed by something, take the shortest
  *deterministic* one (one distinct continuation) if any, else the longest one.
  With ``order=k`` instead: the longest matching suffix no longer than ``k``.
  The update-excluded counts are used only when the longest context was taken
  (no deterministic context, no truncation by ``order``); otherwise the plain
  counts, as in IDyOM.
* **Blending (interpolated smoothing)** from the selected order down to order 0
  and then a uniform order -1: ``p = sum_k e_k * w_k * c_k(x) / N_k`` with
  ``w_k = N_k / (N_k + T_k / d)`` and ``e_{k-1} = e_k * (1 - w_k)``, where
  ``N_k`` sums the counts of the symbols *not* seen in the next higher context
  (IDyOM's exclusion; the numerators keep every count) and ``T_k`` counts
  the distinct symbols (escape C; A: 1; B: counts less 1; D: counts less 1/2
  with ``d = 2``; X ("AX"): one plus the number of symbols seen exactly once). Order -1 gives ``1 / (|A| + 1 - t_0)``
  (``t_0`` symbols seen at order 0) to every symbol; the result is normalised,
  so every probability is positive.

Data structure: a generalised suffix automaton (built online; states are
classes of contexts with the same end positions, so every context of a state has
the same continuations and counts). It is exact for unbounded order and grows
linearly: on melodies about 1.3 states and 2 transitions per symbol. Counts are
kept online by walking suffix links, order 0 in numpy arrays. Per state: three
machine ints and either nothing, one packed int (one transition: three states
in four) or a dict. Measured: the pitch LTM over the whole training corpus
(0.76 M notes, 11 k melodies) has 1.0 M states, takes about 80 MB and 3-5 s to
build; so unbounded order is kept for the big LTM too (``order_study`` in
``assistant/train/ppm_eval.py``: bounds 6/8/10 cost 0.004-0.04 bits/note).
Update-excluded counts are kept per state and symbol (a state stands for
several context lengths); IDyOM keeps them on suffix-tree edges and also skips
the increment where the context reached is deterministic. That variant, and the
textbook rule (raise the count also when the longest context predicts the
symbol), move the reproduction figures by under 0.003 bits/note.

Threads: a ``PPM`` is plain data with no lock. ``predict`` only reads;
``train``, ``observe`` and ``reset_sequence`` mutate. Use one model from one
thread at a time (the engine thread owns its STM); hand another thread a
``copy()``. Nothing here blocks or allocates beyond the model and one output
array per call; ``predict`` on an STM of 500 symbols takes tens of microseconds.
"""

from __future__ import annotations

import math
from array import array
from typing import Sequence

import numpy as np

ESCAPES = ("A", "B", "C", "D", "X")
_ESCAPE_KD = {"A": (0.0, 1.0), "B": (-1.0, 1.0), "C": (0.0, 1.0), "D": (-0.5, 2.0), "X": (0.0, 1.0)}
_WINDOW = 16
"""Context symbols matched at first; doubled while the match fills the window."""
_SHIFT = 32
_MASK = (1 << _SHIFT) - 1


class PPM:
    """A PPM* model over the symbols ``0 .. alphabet_size - 1``.

    ``order``: ``None`` for unbounded order (PPM*), else the maximum context
    length. ``escape``: ``"A"``, ``"B"``, ``"C"``, ``"D"`` or ``"X"`` (``"AX"``
    is accepted for X). ``update_exclusion``: keep and use update-excluded
    counts (IDyOM uses them in its STM, not in its LTM).
    """

    __slots__ = ("alphabet_size", "order", "escape", "update_exclusion", "_k", "_d",
                 "_len", "_link", "_next", "_cnt", "_ue", "_root_c0", "_root_ue",
                 "_last", "_seq", "_end", "_symbols")

    def __init__(self, alphabet_size: int, order: int | None = None, escape: str = "C",
                 update_exclusion: bool = True) -> None:
        if not isinstance(alphabet_size, int) or alphabet_size < 1:
            raise ValueError(f"alphabet_size must be a positive int, got {alphabet_size!r}")
        if alphabet_size >= 1 << 30:
            raise ValueError("alphabet_size too large")
        if order is not None and (not isinstance(order, int) or order < 0):
            raise ValueError(f"order must be None or an int >= 0, got {order!r}")
        esc = str(escape).upper()
        if esc == "AX":
            esc = "X"
        if esc not in ESCAPES:
            raise ValueError(f"escape must be one of {ESCAPES} (or 'AX'), got {escape!r}")
        self.alphabet_size = alphabet_size
        self.order = order
        self.escape = esc
        self.update_exclusion = bool(update_exclusion)
        self._k, self._d = _ESCAPE_KD[esc]
        self._end = alphabet_size  # internal end-of-sequence symbol, never predicted
        # Automaton states; state 0 is the root (the empty context). Per state: the
        # longest context length, the suffix link, the number of end positions
        # (occurrences), and the transitions: None, one transition packed into an int
        # ((symbol << 32) | target), or a dict symbol -> target for two or more.
        self._len = array("i", [0])
        self._link = array("i", [-1])
        self._cnt = array("i", [0])
        self._next: list = [None]
        # Update-excluded counts per state and symbol (only with update exclusion).
        self._ue: list[dict[int, int]] | None = [{}] if self.update_exclusion else None
        # Order-0 counts as arrays (the root is the widest state: vectorised).
        self._root_c0 = np.zeros(alphabet_size + 1, dtype=np.int64)
        self._root_ue = np.zeros(alphabet_size + 1, dtype=np.int64) if self.update_exclusion else None
        self._last = 0
        self._seq: list[int] = []
        self._symbols = 0

    # ------------------------------------------------------------------ learning

    def train(self, sequence: Sequence[int]) -> None:
        """Learn one whole sequence (a melody) as a sequence of its own.

        The model's running sequence (``observe``) is left where it was.
        """
        seq = self._checked(sequence)
        saved_last, saved_seq = self._last, self._seq
        self._last, self._seq = 0, []
        for x in seq:
            self._extend(x)
        self._extend(self._end)
        self._last, self._seq = saved_last, saved_seq

    def observe(self, symbol: int) -> None:
        """Append ``symbol`` to the running sequence and learn it (STM, LTM+)."""
        x = int(symbol)
        if not 0 <= x < self.alphabet_size:
            raise ValueError(f"symbol {symbol!r} outside the alphabet 0..{self.alphabet_size - 1}")
        self._extend(x)
        self._seq.append(x)

    def reset_sequence(self) -> None:
        """End the running sequence (its end is learnt) and start a new one; counts are kept."""
        if self._seq:
            self._extend(self._end)
        self._last = 0
        self._seq = []

    @property
    def sequence(self) -> list[int]:
        """A copy of the running sequence (what ``observe`` has appended since the last reset)."""
        return list(self._seq)

    @property
    def num_states(self) -> int:
        return len(self._len)

    @property
    def num_symbols(self) -> int:
        """Symbols learnt so far, sequence ends included."""
        return self._symbols

    def symbol_counts(self) -> np.ndarray:
        """How often each symbol was learnt (order-0 counts), a copy."""
        return self._root_c0[: self.alphabet_size].copy()

    def copy(self) -> "PPM":
        """An independent deep copy (counts and running sequence)."""
        other = PPM.__new__(PPM)
        for name in ("alphabet_size", "order", "escape", "update_exclusion", "_k", "_d",
                     "_last", "_end", "_symbols"):
            setattr(other, name, getattr(self, name))
        other._len = self._len[:]
        other._link = self._link[:]
        other._cnt = self._cnt[:]
        other._next = [t.copy() if t.__class__ is dict else t for t in self._next]
        other._ue = None if self._ue is None else [d.copy() for d in self._ue]
        other._root_c0 = self._root_c0.copy()
        other._root_ue = None if self._root_ue is None else self._root_ue.copy()
        other._seq = list(self._seq)
        return other

    def _checked(self, sequence: Sequence[int]) -> list[int]:
        seq = [int(x) for x in sequence]
        a = self.alphabet_size
        for x in seq:
            if not 0 <= x < a:
                raise ValueError(f"symbol {x!r} outside the alphabet 0..{a - 1}")
        return seq

    def _new_state(self, length: int, link: int, trans, cnt: int, ue: dict[int, int] | None) -> int:
        self._len.append(length)
        self._link.append(link)
        self._cnt.append(cnt)
        self._next.append(trans)
        if self._ue is not None:
            self._ue.append(ue if ue is not None else {})
        return len(self._len) - 1

    def _set(self, s: int, x: int, dst: int) -> None:
        t = self._next[s]
        if t is None:
            self._next[s] = (x << _SHIFT) | dst
        elif t.__class__ is int:
            if t >> _SHIFT == x:
                self._next[s] = (x << _SHIFT) | dst
            else:
                self._next[s] = {t >> _SHIFT: t & _MASK, x: dst}
        else:
            t[x] = dst

    def _clone(self, p: int, q: int, x: int) -> int:
        """Split state ``q`` (reached from ``p`` on ``x``): the shorter contexts go to a clone."""
        link, nxt = self._link, self._next
        t = nxt[q]
        clone = self._new_state(self._len[p] + 1, link[q], t.copy() if t.__class__ is dict else t,
                                self._cnt[q], None if self._ue is None else self._ue[q].copy())
        link[q] = clone
        while p != -1 and _get(nxt[p], x) == q:
            self._set(p, x, clone)
            p = link[p]
        return clone

    def _extend(self, x: int) -> None:
        """Add symbol ``x`` after the running sequence (generalised suffix automaton step)."""
        lens, link, nxt, ue = self._len, self._link, self._next, self._ue
        last = self._last
        q = _get(nxt[last], x)
        if q is not None:
            # The whole running sequence occurred before, followed by x: no new state.
            # x is predicted by the longest context, so no update-excluded count changes.
            cur = q if lens[q] == lens[last] + 1 else self._clone(last, q, x)
        else:
            # The context in which IDyOM decides novelty: the running sequence itself if
            # it occurred before, else the longest suffix that did.
            active = last if (last == 0 or nxt[last] is not None) else link[last]
            cur = self._new_state(lens[last] + 1, 0, None, 0, None)
            p = last
            while p != -1 and _get(nxt[p], x) is None:
                self._set(p, x, cur)
                if ue is not None:
                    ue[p][x] = 1
                    if p == 0:
                        self._root_ue[x] = 1
                p = link[p]
            if p != -1:
                q = _get(nxt[p], x)
                if ue is not None and p != active:
                    ue[p][x] += 1
                    if p == 0:
                        self._root_ue[x] += 1
                if lens[q] == lens[p] + 1:
                    link[cur] = q
                else:
                    link[cur] = self._clone(p, q, x)
        # Every context ending here gained one occurrence.
        cnt = self._cnt
        s = cur
        while s != -1:
            cnt[s] += 1
            s = link[s]
        self._root_c0[x] += 1
        self._last = cur
        self._symbols += 1

    # ---------------------------------------------------------------- prediction

    def predict(self, context: Sequence[int]) -> np.ndarray:
        """P(next symbol | context) over the alphabet: float64, sums to 1, no zeros.

        ``context`` may be any sequence of symbols (it need not be the running
        sequence); only its last symbols matter, and a symbol outside the
        alphabet matches nothing. The model is not changed.
        """
        lens, link, nxt = self._len, self._link, self._next
        s, length = self._locate(context)
        use_ue = self._ue is not None
        order = self.order
        if order is not None:
            if length > order:
                if order == 0:
                    s = 0
                else:
                    while lens[link[s]] >= order:
                        s = link[s]
                use_ue = False
        elif s != 0 and nxt[s].__class__ is int:
            # PPM*: the shortest deterministic context (determinism only grows with length).
            while True:
                t = link[s]
                if t == 0 or nxt[t].__class__ is not int:
                    break
                s = t
            use_ue = False
        return self._blend(s, use_ue)

    def _locate(self, context: Sequence[int]) -> tuple[int, int]:
        """State and length of the longest suffix of ``context`` seen followed by something."""
        lens, link, nxt = self._len, self._link, self._next
        size = self.alphabet_size
        n = len(context)
        window = _WINDOW
        while True:
            start = n - window if n > window else 0
            s = 0
            length = 0
            for i in range(start, n):
                c = context[i]
                if not 0 <= c < size:
                    c = -1  # matches nothing (and never the internal end symbol)
                while True:
                    t = nxt[s]
                    if t is None:
                        d = None
                    elif t.__class__ is int:
                        d = t & _MASK if t >> _SHIFT == c else None
                    else:
                        d = t.get(c)
                    if d is not None or s == 0:
                        break
                    s = link[s]
                    length = lens[s]
                if d is None:
                    length = 0
                else:
                    s = d
                    length += 1
            if s != 0 and nxt[s] is None:
                # Seen only at the very end of the running sequence: nothing followed it yet.
                s = link[s]
                length = lens[s]
            if start == 0 or length < n - start or nxt[s].__class__ is not dict:
                # Exact: the whole context was read, or the match is shorter than the
                # window, or a deterministic context lies within the window.
                return s, length
            window *= 2

    def _blend(self, s: int, use_ue: bool) -> np.ndarray:
        """Interpolated estimate from state ``s`` down to order -1 (IDyOM's mixture)."""
        nxt, link, cnt = self._next, self._link, self._cnt
        ue = self._ue if use_ue else None
        end = self._end
        k, d = self._k, self._d
        esc_x = self.escape == "X"
        esc_a = self.escape == "A"
        size = self.alphabet_size
        sparse: dict[int, float] = {}
        escape = 1.0
        excluded = ()
        while s > 0:
            t = nxt[s]
            if t.__class__ is int:
                items = ((t >> _SHIFT, t & _MASK),)
            else:
                items = t.items()
            counts = ue[s] if ue is not None else None
            pairs = []
            total = 0.0
            singles = 0
            for x, dst in items:
                if x == end:
                    continue
                c = counts[x] if counts is not None else cnt[dst]
                if c == 1:
                    singles += 1
                pairs.append((x, c + k))
                if x not in excluded:
                    total += c + k
            if pairs:
                if esc_a:
                    denom = total + 1.0
                elif esc_x:
                    denom = total + (singles + 1) / d
                else:
                    denom = total + len(pairs) / d
                weight = total / denom if denom > 0 else 0.0
                if total > 0:
                    f = escape * weight / total
                    for x, c in pairs:
                        sparse[x] = sparse.get(x, 0.0) + f * c
                escape *= 1.0 - weight
                excluded = {x for x, _ in pairs}
            else:
                excluded = ()
            s = link[s]
        # The root, vectorised over the alphabet.
        counts0 = (self._root_ue if use_ue and self._root_ue is not None else self._root_c0)[:size]
        present = counts0 > 0
        t0 = int(np.count_nonzero(present))
        if t0:
            ck = (counts0 + k) * present
            total = float(ck.sum())
            for x in excluded:
                total -= float(ck[x])
            if esc_a:
                denom = total + 1.0
            elif esc_x:
                denom = total + (int(np.count_nonzero(counts0 == 1)) + 1) / d
            else:
                denom = total + t0 / d
            weight = total / denom if denom > 0 else 0.0
            if total > 0:
                out = ck * (escape * weight / total)
            else:
                out = np.zeros(size)
            escape *= 1.0 - weight
        else:
            out = np.zeros(size)
        out += escape / (size + 1 - t0)
        for x, v in sparse.items():
            out[x] += v
        out /= out.sum()
        return out


def _get(t, x: int):
    """Target of the transition on ``x`` from a transition slot, or None."""
    if t is None:
        return None
    if t.__class__ is int:
        return t & _MASK if t >> _SHIFT == x else None
    return t.get(x)


def entropy(dist: np.ndarray) -> float:
    """Shannon entropy in bits of a distribution with no zeros."""
    d = np.asarray(dist, dtype=np.float64)
    return float(-(d * np.log2(d)).sum())


def combine(dists: Sequence[np.ndarray], bias: float = 2.0, method: str = "geometric") -> np.ndarray:
    """Entropy-weighted combination of distributions over one alphabet (IDyOM).

    Each distribution gets the weight ``(H(d) / H_max) ** -bias`` with
    ``H_max = log2(alphabet size)``: the more certain a model, the more it
    counts; ``bias = 0`` gives equal weights. ``method``: ``"geometric"``
    (weighted geometric mean, then normalised) or ``"arithmetic"``. Inputs must
    be positive; so is the result, which sums to 1. Pure; any thread.
    """
    if method not in ("geometric", "arithmetic"):
        raise ValueError(f"method must be 'geometric' or 'arithmetic', got {method!r}")
    arrs = [np.asarray(d, dtype=np.float64) for d in dists]
    if not arrs:
        raise ValueError("combine needs at least one distribution")
    if len(arrs) == 1:
        return arrs[0] / arrs[0].sum()
    n = arrs[0].shape[0]
    hmax = math.log2(n) if n > 1 else 0.0
    weights = []
    for a in arrs:
        if a.shape != (n,):
            raise ValueError("distributions must have the same length")
        rel = entropy(a) / hmax if hmax > 0 else 1.0
        rel = min(max(rel, 1e-12), 1.0)
        weights.append(rel ** (-bias))
    wsum = sum(weights)
    if method == "arithmetic":
        out = sum(w * a for w, a in zip(weights, arrs)) / wsum
    else:
        logp = sum((w / wsum) * np.log(a) for w, a in zip(weights, arrs))
        out = np.exp(logp - logp.max())
    return out / out.sum()


def short_term_model(alphabet_size: int = 128) -> PPM:
    """A fresh short-term model for blending with the neural model: unbounded order,
    escape C, update exclusion.

    Chosen on the validation split (150 melodies, pitch given rhythm, bits/note):
    neural alone 2.738; blended with escape C + update exclusion 2.709 / 2.696 /
    2.693 at bias 2 / 3 / 4; escape X (IDyOM's STM, which the PPM baseline keeps)
    2.747 at bias 2. The live engine, ``continue`` and the evaluation all use this
    factory, so what is measured is what runs.
    """
    return PPM(alphabet_size, order=None, escape="C", update_exclusion=True)

