"""The generator worker: owns the melody model and the short-term model, on one thread.

The engine thread posts commands on a queue and never waits for them:
``feed(note)`` (a completed melody note: the model's cache and the short-term
model learn it at once, so no prefill is needed at a phrase end),
``request(GenerationRequest)`` (sample alternatives), ``cancel()`` and ``reset()``.
Notes are handed to ``on_note(result, alternative, note, index)`` as soon as each
is sampled (``index``: its place in that alternative),
and ``on_done(request, suggestion_set)`` when all are complete; both callbacks
run on this worker thread and must not block (the planner only puts events on
the scheduler's heap).

ONNX Runtime releases the GIL while it computes; the Python between steps is
short. A newer request supersedes an older one still running: the old one stops
at its next step. An exception in a request is logged and reported through
``on_error``; the worker keeps serving. Stops on a sentinel (``close``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from .model import Constraints, MelodyModel
from ..music import Note

log = logging.getLogger(__name__)

_STOP = object()


@dataclass
class GenerationRequest:
    """What to generate; ``trigger_ns`` is when the engine decided to ask (for latency figures)."""

    id: int
    start_tick: int
    bars: int
    n: int
    temperature: float
    top_p: float
    constraints: Constraints | None
    stm_weight: float
    seed: int | None
    trigger_ns: int
    purpose: str = "call"  # "call", "ghost" or "regenerate"


@dataclass
class SuggestionSet:
    """The alternatives of one request, filled while they are generated."""

    request: GenerationRequest
    alternatives: list[list[Note]] = field(default_factory=list)
    complete: bool = False
    first_notes_ready_ns: int | None = None  # when every alternative had its first note
    done_ns: int | None = None
    latency_recorded: bool = False  # set by the engine (its lock) when it took the latency figure
    counted: bool = False  # set by the engine (its lock) when it counted this suggestion

    @property
    def trigger_to_ready_ms(self) -> float | None:
        if self.first_notes_ready_ns is None:
            return None
        return (self.first_notes_ready_ns - self.request.trigger_ns) / 1e6


class GeneratorWorker:
    """See the module docstring."""

    def __init__(self, model: MelodyModel, on_note: Callable, on_done: Callable,
                 on_error: Callable[[str], None] | None = None):
        from ..music.stm_blend import StmBlend

        self.model = model
        self.on_note = on_note
        self.on_done = on_done
        self.on_error = on_error or (lambda text: None)
        self.blend = StmBlend()  # learns the session's melody; worker thread only
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._latest_request = 0
        self._thread = threading.Thread(target=self._loop, name="generator", daemon=True)
        self.notes_fed = 0

    def start(self) -> "GeneratorWorker":
        self._thread.start()
        return self

    # -- engine thread -------------------------------------------------------
    def feed(self, note: Note) -> None:
        self._queue.put(("feed", note))

    def request(self, req: GenerationRequest) -> None:
        self._latest_request = req.id
        self._queue.put(("generate", req))

    def reset(self, meters=None) -> None:
        """Forget the melody heard so far (the short-term model keeps what it learned)."""
        self._queue.put(("reset", meters))

    def cancel(self) -> None:
        """Stop the request in progress at its next note (a speculation the player overtook)."""
        self._latest_request = 0

    def close(self, timeout: float = 2.0) -> None:
        self._latest_request = -1
        self._queue.put(_STOP)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def drain(self) -> None:
        """Process every queued command now, on the calling thread (tests with a fake clock)."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is _STOP:
                return
            self._process(item)

    # -- worker thread ---------------------------------------------------------
    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            self._process(item)

    def _process(self, item) -> None:
        kind, payload = item
        try:
            if kind == "feed":
                self.blend.observe(payload.pitch, self.model.feed(payload))
                self.notes_fed += 1
            elif kind == "reset":
                self.model.reset(payload)
                self.blend.forget_context()
            elif kind == "generate":
                if payload.id == self._latest_request:  # skip requests already superseded
                    self._generate(payload)
        except Exception as err:  # keep serving: one bad request must not stop the assistant
            log.exception("generator: %s failed", kind)
            self.on_error(f"generator: {kind} failed: {type(err).__name__}: {err}")

    def _generate(self, req: GenerationRequest) -> None:
        result = SuggestionSet(req, [[] for _ in range(req.n)])
        started = set()
        blend = None
        if req.stm_weight > 0 and self.notes_fed:
            blend = self.blend
            blend.bias = req.stm_weight
        for alt, note in self.model.generate(bars=req.bars, n=req.n, temperature=req.temperature,
                                             top_p=req.top_p, constraints=req.constraints, seed=req.seed,
                                             start_tick=req.start_tick, blend=blend):
            if req.id != self._latest_request:
                return  # superseded: a newer request is queued
            result.alternatives[alt].append(note)
            if alt not in started:
                started.add(alt)
                if len(started) == req.n:
                    result.first_notes_ready_ns = time.perf_counter_ns()
            self.on_note(result, alt, note, len(result.alternatives[alt]) - 1)
        result.complete = True
        result.done_ns = time.perf_counter_ns()
        if result.first_notes_ready_ns is None:
            result.first_notes_ready_ns = result.done_ns
        self.on_done(result)
