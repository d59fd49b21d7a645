"""The melody model at run time: ONNX Runtime and numpy only.

``MelodyModel`` keeps the transformer's key/value cache for the melody heard so
far. The engine calls ``feed(note)`` as each note completes, so at a phrase end
the context is already encoded and a suggestion costs only its own steps.
``generate`` samples ``n`` alternatives in one batch and yields each note as soon
as it is sampled (the first note of every alternative after two or three steps),
so that the planner can schedule it while the rest is still being generated.
Constraints (pitch classes, range) are masks on the logits, never corrections
applied to notes afterwards.

Threading: one ``MelodyModel`` belongs to one thread (the generator worker); it is
not thread-safe. ONNX Runtime releases the GIL while it computes. The session
runs one intra-op thread without spinning, so it leaves the other core to the
scheduler and costs nothing while idle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..music import tokens as T
from ..music import Meter, Note, bar_start, meter_at
from ..resources import MODELS_DIR
from .model_file import open_session

DEFAULT_MELODY_MODEL = MODELS_DIR / "melody.onnx"


# ---------------------------------------------------------------- sampling

@dataclass(frozen=True)
class Constraints:
    """Logit masks for generated notes.

    ``pitch_classes``: allowed pitch classes (0 = C), None for all twelve.
    ``low``/``high``: inclusive MIDI pitch range.
    ``onset_pitch_classes``: ``((tick, pitch classes), ...)``: a note that begins
    exactly on one of these ticks may use only those classes instead (the chord
    scale lock: chord tones on the strong beats).
    """

    pitch_classes: frozenset[int] | None = None
    low: int = 0
    high: int = 127
    onset_pitch_classes: tuple[tuple[int, frozenset[int]], ...] = ()

    def pitch_mask(self) -> np.ndarray:
        """Bool [128] of allowed pitches; raises ValueError if none is allowed."""
        return _pitch_mask(self.low, self.high, self.pitch_classes)

    def onset_masks(self) -> dict[int, np.ndarray]:
        """``{tick: bool [128]}`` for the ticks of ``onset_pitch_classes``."""
        return {tick: _pitch_mask(self.low, self.high, classes) for tick, classes in self.onset_pitch_classes}


def _pitch_mask(low: int, high: int, classes: frozenset[int] | None) -> np.ndarray:
    allowed = np.zeros(128, dtype=bool)
    allowed[max(0, low):min(127, high) + 1] = True
    if classes is not None:
        allowed &= np.isin(np.arange(128) % 12, sorted(classes))
    if not allowed.any():
        raise ValueError(f"constraints allow no pitch: range {low}..{high}, pitch classes {sorted(classes or [])}")
    return allowed


def sample_rows(logits: np.ndarray, allowed: np.ndarray, temperature: float, top_p: float,
                rng: np.random.Generator) -> np.ndarray:
    """One token per row from ``logits`` [B, V] restricted to ``allowed`` [B, V] (bool).

    Temperature scales the logits; top-p keeps the smallest set of most likely
    tokens whose mass reaches ``top_p`` (always at least one). Masked tokens get
    probability exactly 0.
    """
    scaled = np.where(allowed, logits / max(temperature, 1e-4), -np.inf)
    scaled -= scaled.max(axis=1, keepdims=True)
    probs = np.exp(scaled)
    probs /= probs.sum(axis=1, keepdims=True)
    return sample_probs(probs, top_p, rng)


def sample_probs(probs: np.ndarray, top_p: float, rng: np.random.Generator) -> np.ndarray:
    """Nucleus sampling from normalised rows ``probs`` [B, V]; zero entries are never drawn."""
    order = np.argsort(-probs, axis=1)
    ranked = np.take_along_axis(probs, order, axis=1)
    cum = np.cumsum(ranked, axis=1)
    keep = (cum - ranked) < top_p
    keep[:, 0] = True
    ranked = np.where(keep & (ranked > 0), ranked, 0.0)
    cum = np.cumsum(ranked, axis=1)
    draw = rng.random(len(probs))[:, None] * cum[:, -1:]
    idx = np.minimum((cum <= draw).sum(axis=1), probs.shape[1] - 1)
    return order[np.arange(len(probs)), idx]


@dataclass
class Suggestion:
    """One generated alternative: notes in engine ticks, and its log-probability (nats)."""

    notes: list[Note] = field(default_factory=list)
    logprob: float = 0.0


# ---------------------------------------------------------------- the model

class MelodyModel:
    """Incremental melody model over an ONNX Runtime session; see the module docstring."""

    def __init__(self, session, config: dict, path: Path, window: int = 256):
        import onnxruntime as ort

        self._ort = ort
        self.session = session
        self.config = config
        self.path = path
        self.layers = config["n_layers"]
        self.heads = config["n_heads"]
        self.d_head = config["d_model"] // config["n_heads"]
        self.window = window
        self.meters: list[Meter] = [Meter(0)]
        self.reset()

    @classmethod
    def load(cls, path: str | Path | None = None, *, verify: bool = True, threads: int = 1,
             window: int = 256, warmup: bool = True) -> "MelodyModel":
        """Open a model file; with ``verify`` its sha256 must match its card (``UserError`` if not).
        ``warmup``: :meth:`warm_up` at its default settings."""
        path = Path(path) if path else DEFAULT_MELODY_MODEL
        session, config = open_session(path, verify=verify, threads=threads)
        model = cls(session, config, path, window=window)
        if warmup:
            model.warm_up()
        return model

    # -- state -----------------------------------------------------------

    def _empty_cache(self, batch: int = 1) -> np.ndarray:
        return np.zeros((self.layers, batch, self.heads, 0, self.d_head), dtype=np.float32)

    def reset(self, meters: list[Meter] | None = None, first_onset: int = 0) -> None:
        """Forget the melody; the next fed note starts a new one (BOS at its bar's downbeat)."""
        if meters is not None:
            self.meters = list(meters)
        self._keys = self._values = self._empty_cache()
        self._cursor: T.Cursor | None = None
        self._last_logits: np.ndarray | None = None
        self.history: list[int] = []  # pitches fed so far (for the short-term model)
        self._first_onset = first_onset

    @property
    def cached_tokens(self) -> int:
        return self._keys.shape[3]

    def warm_up(self, alternatives: int = 4, bars: int = 4) -> None:
        """Run the largest shapes a session with these settings uses: a prefill chunk, the
        cache at its full window, and ``alternatives`` continuations of ``bars`` bars over
        it. ONNX Runtime's arena grows to the largest tensors it has seen and keeps them:
        sized here, memory is flat from the first answer and no real call pays for an
        allocation. Larger settings chosen later grow it once, to their size. The fed
        state is restored. Caller's thread; takes tens of ms."""
        saved = (self._keys, self._values, self._cursor, self._last_logits, list(self.history))
        fill = self.window if self.window <= 4096 else 64  # an unbounded window (scoring) never slides
        notes, onset = [], 0
        while len(notes) * 2 < fill + 8:  # two tokens a note: past the window, so it slides
            notes.append(Note(onset, 6, 60 + len(notes) % 7))
            onset += 6
        self.feed_many(notes)  # the last chunk slid the window back to three quarters
        while self.cached_tokens + 2 <= fill:
            self.feed(Note(onset, 6, 60))
            onset += 6
        for _ in self.generate(bars=bars, n=alternatives, seed=0):
            pass
        self._keys, self._values, self._cursor, self._last_logits, self.history = saved

    def _run(self, toks, pos, met, keys, values):
        logits, k, v = self.session.run(None, {
            "tokens": toks, "positions": pos, "meters": met, "past_keys": keys, "past_values": values})
        return logits, k, v

    def _advance(self, triples: list[tuple[int, int, int]]) -> np.ndarray | None:
        """Feed ``(token, position, meter)`` triples at batch 1, sliding the cache window;
        the logits [1, len, V] (None for no triples)."""
        if not triples:
            return None
        arr = np.asarray(triples, dtype=np.int64).T[:, None, :]
        if self.cached_tokens + arr.shape[2] > self.window:
            keep = max(0, self.window * 3 // 4 - arr.shape[2])
            cut = self.cached_tokens - keep
            self._keys = np.ascontiguousarray(self._keys[:, :, :, cut:])
            self._values = np.ascontiguousarray(self._values[:, :, :, cut:])
        logits, self._keys, self._values = self._run(arr[0], arr[1], arr[2], self._keys, self._values)
        self._last_logits = logits[:, -1]
        return logits

    def feed(self, note: Note) -> float:
        """Advance the state by one completed note (onset, duration and pitch known); returns
        the probability the model gave its pitch, given its rhythm (for the short-term blend).

        Call from the generator worker only. A note overlapping the previous one is
        shortened by the vocabulary (the line is monophonic).
        """
        triples: list[tuple[int, int, int]] = []
        if self._cursor is None:
            self._cursor = T.start_cursor(self.meters, note.onset)
            triples.append((T.BOS, *self._cursor.features()))
        triples += T.note_tokens(self._cursor, note)
        logits = self._advance(triples)
        self.history.append(note.pitch)
        # the logits after the note's DUR token are its pitch's distribution
        row = logits[0, -2, T.PITCH_TOKENS].astype(np.float64)
        row = np.exp(row - row.max())
        return float(row[triples[-1][0] - T.PITCH_BASE] / row.sum())

    def feed_many(self, notes: list[Note]) -> None:
        """Prefill with several notes in one run (cold start, offline use)."""
        triples: list[tuple[int, int, int]] = []
        for note in notes:
            if self._cursor is None:
                self._cursor = T.start_cursor(self.meters, note.onset)
                triples.append((T.BOS, *self._cursor.features()))
            triples += T.note_tokens(self._cursor, note)
            self.history.append(note.pitch)
        for i in range(0, len(triples), self.window // 2):
            self._advance(triples[i:i + self.window // 2])

    @property
    def cursor_tick(self) -> int | None:
        """Where the fed melody's next event may begin (end of its last note), or None."""
        return None if self._cursor is None else self._cursor.tick

    # -- generation --------------------------------------------------------

    def generate(self, bars: int = 4, n: int = 4, temperature: float = 1.0, top_p: float = 0.95,
                 constraints: Constraints | None = None, seed: int | None = None,
                 start_tick: int | None = None, blend=None,
                 max_notes: int = 64) -> Iterator[tuple[int, Note]]:
        """Sample ``n`` continuations in one batch; yields ``(alternative, note)`` as notes complete.

        The continuation starts at ``start_tick`` (its first note exactly there) or,
        when None, freely after the fed melody. It ends at the ``bars``-th bar line
        after its start; a note crossing that line is shortened to it. ``blend`` is an
        optional :class:`assistant.music.stm_blend.StmBlend` that has observed the fed melody:
        each pitch distribution is blended with its short-term model (read, not changed).
        The fed state is not changed. Deterministic for a given ``seed``.
        """
        rng = np.random.default_rng(seed)
        constraints = constraints or Constraints()
        pitch_mask = constraints.pitch_mask()
        onset_masks = constraints.onset_masks()
        keys, values = self._keys, self._values
        if self._cursor is None:  # nothing heard: start a melody at the start tick's bar
            origin = start_tick if start_tick is not None else self._first_onset
            base = T.start_cursor(self.meters, origin)
            logits, keys, values = self._run(*[np.array([[x]], dtype=np.int64) for x in (T.BOS, *base.features())],
                                             keys, values)
            logits = logits[:, -1]
        else:
            base = T.Cursor(self._cursor.tick, self.meters, last=self._cursor.last)
            logits = self._last_logits
        first_exact = False
        if start_tick is not None and start_tick > base.tick:
            gap = start_tick - base.tick
            rests = []
            while gap > 0:
                step = min(gap, T.MAX_REST)
                tok = T.rest_token(step)
                base.apply(tok)
                rests.append((tok, *base.features()))
                gap -= step
            arr = np.asarray(rests, dtype=np.int64).T[:, None, :]
            logits, keys, values = self._run(arr[0], arr[1], arr[2], keys, values)
            logits = logits[:, -1]
            first_exact = True
        elif start_tick is not None:
            first_exact = start_tick == base.tick
        start = base.tick
        m = meter_at(self.meters, start)
        end = bar_start(self.meters, start) + bars * m.bar_ticks
        if end <= start:
            end += m.bar_ticks

        keys = np.repeat(keys, n, axis=1)
        values = np.repeat(values, n, axis=1)
        logits = np.repeat(logits, n, axis=0)
        cursors = [T.Cursor(base.tick, self.meters, last=base.last) for _ in range(n)]
        histories = [list(self.history) for _ in range(n)]
        done = np.zeros(n, dtype=bool)
        counts = np.zeros(n, dtype=int)
        allowed = np.zeros((n, T.VOCAB_SIZE), dtype=bool)
        while not done.all():
            for i, c in enumerate(cursors):
                allowed[i] = T.grammar_mask(c.last)
                if T.kind_of(c.last) == T.KIND_DUR:
                    allowed[i, T.PITCH_TOKENS] &= onset_masks.get(c.tick, pitch_mask)
                elif first_exact and counts[i] == 0:
                    allowed[i, T.REST_TOKENS] = False
                else:  # no rest may reach the end: every alternative gets notes
                    room = end - c.tick
                    if room <= T.MAX_REST:
                        allowed[i, T.REST_BASE + max(0, room - 1):T.DUR_BASE] = False
            probs = self._probabilities(logits, allowed, temperature, cursors, histories, blend)
            chosen = sample_probs(probs, top_p, rng)
            feats = np.zeros((3, n, 1), dtype=np.int64)
            for i, tok in enumerate(chosen):
                tok = int(tok)
                feats[0, i, 0] = tok
                if done[i]:
                    feats[1:, i, 0] = cursors[i].features()
                    continue
                note = cursors[i].apply(tok)
                feats[1:, i, 0] = cursors[i].features()
                if note is not None:
                    if note.onset >= end:
                        done[i] = True
                        continue
                    if note.end > end:
                        note = Note(note.onset, end - note.onset, note.pitch, note.velocity)
                    histories[i].append(note.pitch)
                    counts[i] += 1
                    yield i, note
                    if counts[i] >= max_notes or cursors[i].tick >= end:
                        done[i] = True
                elif cursors[i].tick >= end:
                    done[i] = True
            if done.all():
                break
            logits, keys, values = self._run(feats[0], feats[1], feats[2], keys, values)
            logits = logits[:, -1]

    def _probabilities(self, logits, allowed, temperature, cursors, histories, blend):
        """Masked, tempered distributions [B, V]; pitch rows blended with the short-term model."""
        scaled = np.where(allowed, logits / max(temperature, 1e-4), -np.inf)
        scaled -= scaled.max(axis=1, keepdims=True)
        probs = np.exp(scaled)
        probs /= probs.sum(axis=1, keepdims=True)
        if blend is not None:
            for i, c in enumerate(cursors):
                if T.kind_of(c.last) != T.KIND_DUR:
                    continue
                # blend over the allowed pitches only: both distributions renormalised there
                support = np.flatnonzero(allowed[i, T.PITCH_TOKENS])
                neural = probs[i, T.PITCH_BASE + support]
                if neural.sum() <= 0:
                    continue
                probs[i, T.PITCH_TOKENS] = 0.0
                probs[i, T.PITCH_BASE + support] = blend.mix(neural, histories[i], support)
        return probs

    def suggest(self, bars: int = 4, n: int = 4, temperature: float = 1.0, top_p: float = 0.95,
                constraints: Constraints | None = None, seed: int | None = None,
                start_tick: int | None = None, blend=None,
                max_notes: int = 64) -> list[Suggestion]:
        """All ``n`` alternatives at once (see ``generate`` for the arguments)."""
        out = [Suggestion() for _ in range(n)]
        for i, note in self.generate(bars, n, temperature, top_p, constraints, seed, start_tick, blend,
                                     max_notes):
            out[i].notes.append(note)
        return out

    # -- scoring -----------------------------------------------------------

    def log_probs(self, encoded: T.Encoded) -> np.ndarray:
        """Log-softmax [len-1, V] of each next token given its prefix (full forward, batch 1).

        Melodies longer than the window are processed in chunks with the cache, so
        the result is exact for any length. Used by evaluation; not for the live path.
        """
        toks, pos, met = (x[None, :-1] for x in (encoded.tokens, encoded.positions, encoded.meters))
        keys = values = self._empty_cache()
        chunks = []
        size = 512
        for s in range(0, toks.shape[1], size):
            logits, keys, values = self._run(toks[:, s:s + size], pos[:, s:s + size], met[:, s:s + size],
                                             keys, values)
            chunks.append(logits[0])
        logits = np.concatenate(chunks).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
