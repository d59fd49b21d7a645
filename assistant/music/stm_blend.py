"""The neural model's pitch distribution blended with a short-term model of the melody.

One :class:`StmBlend` per melody (per stream of notes): it holds the short-term model
(:func:`assistant.music.ppm.short_term_model`, which learns this melody only) and how well
that model has been doing against the neural one on this melody's notes so far. Each
pitch distribution is the weighted geometric mean of the two: IDyOM's entropy weighting
``(H / H_max) ** -bias`` (the more certain model counts more), the short-term model's
weight times ``prior``, and times ``2 ** (strength * advantage)``, where ``advantage`` is an
exponential average (``decay`` a note) of how many bits better the short-term model
predicted the notes that came. A tune that repeats itself hands the short-term model
more weight within a few notes; a chorale line, which rarely repeats, keeps it low.

The settings were chosen on the validation split (``python -m assistant.train.blend_study``;
the evaluation sets are not used to choose). The live generator, ``continue`` and the
evaluation all blend through this class, so what is measured is what runs.

Thread: an instance belongs to one thread at a time (the generator worker; the
evaluation's loop). Pure computation, no blocking.
"""

from __future__ import annotations

import math

import numpy as np

from .ppm import entropy, short_term_model

STM_BIAS = 1.5
STM_PRIOR = 0.5
STM_DECAY = 0.8
STM_STRENGTH = 1.5
PITCHES = 128
_HMAX = math.log2(PITCHES)  # the entropies are measured against all pitches, whatever the support


class StmBlend:
    """See the module docstring. ``bias`` 0 weighs both models by their prior alone."""

    def __init__(self, bias: float = STM_BIAS, prior: float = STM_PRIOR, decay: float = STM_DECAY,
                 strength: float = STM_STRENGTH):
        self.bias = bias
        self.prior = prior
        self.decay = decay
        self.strength = strength
        self.stm = short_term_model(PITCHES)
        self.history: list[int] = []
        self.advantage = 0.0  # > 0: the short-term model predicted the recent notes better

    def reset(self) -> None:
        self.stm = short_term_model(PITCHES)
        self.history = []
        self.advantage = 0.0

    def forget_context(self) -> None:
        """A new melody starts (the model was reset): what the short-term model learnt and
        the advantage stay, the notes before no longer predict the next."""
        self.history = []

    def short_term(self, history: list[int] | None = None) -> np.ndarray:
        """The short-term model's distribution [128] of the pitch after ``history`` (default:
        the notes observed)."""
        return self.stm.predict(self.history if history is None else history)

    def weights(self, neural: np.ndarray, short: np.ndarray) -> tuple[float, float]:
        """Normalised geometric weights (neural, short-term) for one pair of distributions."""
        wn = min(max(entropy(neural) / _HMAX, 1e-12), 1.0) ** (-self.bias)
        ws = min(max(entropy(short) / _HMAX, 1e-12), 1.0) ** (-self.bias) * self.prior
        ws *= 2.0 ** (self.strength * self.advantage)
        total = wn + ws
        return wn / total, ws / total

    def mix(self, neural: np.ndarray, history: list[int] | None = None,
            support: np.ndarray | None = None) -> np.ndarray:
        """The blended distribution of the next pitch: ``neural`` [128] (or over ``support``,
        the allowed pitches, when given: then the result is over ``support`` too), the
        short-term model after ``history`` (default: the notes observed). Before any note
        is observed: ``neural`` itself, normalised."""
        hist = self.history if history is None else history
        neural = np.asarray(neural, dtype=np.float64)
        if not hist:
            return neural / neural.sum()
        short = self.stm.predict(hist)
        if support is not None:
            short = short[support]
        neural = neural / neural.sum()
        short = short / short.sum()
        wn, ws = self.weights(neural, short)
        logp = wn * np.log(np.maximum(neural, 1e-300)) + ws * np.log(short)
        out = np.exp(logp - logp.max())
        return out / out.sum()

    def observe(self, pitch: int, p_neural: float | None = None) -> None:
        """The melody's next note was ``pitch``; ``p_neural``: the probability the neural
        model gave it (None: unknown, the advantage stays)."""
        if p_neural is not None and p_neural > 0 and self.history and self.decay > 0:
            self.learn(p_neural, float(self.stm.predict(self.history)[pitch]))
        self.stm.observe(pitch)
        self.history.append(pitch)

    def learn(self, p_neural: float, p_short: float) -> None:
        """Move the advantage by one note that the two models gave these probabilities."""
        if self.decay > 0:
            diff = min(max(math.log2(p_short) - math.log2(p_neural), -8.0), 8.0)
            self.advantage = self.decay * self.advantage + (1 - self.decay) * diff
