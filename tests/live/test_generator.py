"""The generator worker (assistant.live.generator) with a stand-in model: what reaches the
callbacks, what a newer request or a cancel stops, and that a failure never stops it."""

import threading

from assistant.live.generator import GenerationRequest, GeneratorWorker
from assistant.music import Note


class StandInModel:
    """Yields ``notes_each`` notes for each of ``n`` alternatives, in turns; ``during``
    (if set) runs before each note, so a test can post commands mid-generation."""

    def __init__(self, notes_each=3):
        self.notes_each = notes_each
        self.fed, self.resets, self.blends = [], 0, []
        self.during = None
        self.fail_feed = False

    def feed(self, note):
        if self.fail_feed:
            raise ValueError("bad note")
        self.fed.append(note)
        return 0.25  # the probability the model gave the note

    def reset(self, meters=None):
        self.resets += 1

    def generate(self, bars, n, temperature, top_p, constraints, seed, start_tick, blend):
        self.blends.append(blend)
        for k in range(self.notes_each):
            for alt in range(n):
                if self.during is not None:
                    self.during(alt, k)
                yield alt, Note(start_tick + 12 * k, 12, 60 + alt, 90)


def _request(i, n=2):
    return GenerationRequest(id=i, start_tick=96, bars=1, n=n, temperature=1.0, top_p=1.0, constraints=None,
                             stm_weight=0.5, seed=1, trigger_ns=0)


def _worker(model):
    got = {"notes": [], "done": [], "errors": []}
    worker = GeneratorWorker(model, on_note=lambda res, alt, note, i: got["notes"].append((res.request.id, alt, i)),
                             on_done=lambda res: got["done"].append(res), on_error=got["errors"].append)
    return worker, got


def test_every_note_reaches_on_note_in_order_and_on_done_gets_the_whole_set():
    model = StandInModel()
    worker, got = _worker(model)
    worker.request(_request(1))
    worker.drain()
    assert got["notes"] == [(1, alt, k) for k in range(3) for alt in range(2)]
    (result,) = got["done"]
    assert result.complete and [len(a) for a in result.alternatives] == [3, 3]
    assert result.first_notes_ready_ns <= result.done_ns
    assert model.blends == [None]  # nothing heard yet: no short-term model to blend


def test_a_newer_request_supersedes_the_one_running_and_a_queued_one():
    model = StandInModel()
    worker, got = _worker(model)
    worker.request(_request(1))
    worker.request(_request(2))
    worker.drain()  # 1 was superseded before it started
    assert {i for i, _, _ in got["notes"]} == {2} and [r.request.id for r in got["done"]] == [2]
    got["notes"].clear(), got["done"].clear()
    model.during = lambda alt, k: worker.request(_request(3)) if (k, alt) == (1, 0) and worker._latest_request == 2 else None
    worker.request(_request(2))
    worker.drain()
    assert [r.request.id for r in got["done"]] == [3]
    assert [x for x in got["notes"] if x[0] == 2] == [(2, 0, 0), (2, 1, 0)]  # stopped at its next note


def test_cancel_stops_the_request_in_progress_at_its_next_note():
    model = StandInModel()
    worker, got = _worker(model)
    model.during = lambda alt, k: worker.cancel() if (k, alt) == (1, 1) else None
    worker.request(_request(1))
    worker.drain()
    assert got["done"] == [] and len(got["notes"]) == 3


def test_a_failure_is_reported_and_the_worker_keeps_serving():
    model = StandInModel()
    worker, got = _worker(model)
    worker.feed(Note(0, 12, 60, 90))
    worker.drain()
    assert worker.notes_fed == 1 and got["errors"] == []
    model.fail_feed = True
    worker.feed(Note(12, 12, 62, 90))
    worker.drain()
    assert len(got["errors"]) == 1 and "feed failed: ValueError: bad note" in got["errors"][0]
    model.fail_feed = False
    worker.request(_request(4))
    worker.drain()
    assert [r.request.id for r in got["done"]] == [4]
    assert model.blends[-1] is worker.blend and worker.blend.bias == 0.5  # heard a note: the blend is used


def test_on_its_own_thread_it_serves_until_closed():
    model = StandInModel()
    done = threading.Event()
    worker = GeneratorWorker(model, on_note=lambda *a: None, on_done=lambda res: done.set())
    worker.start()
    try:
        worker.feed(Note(0, 12, 60, 90))
        worker.reset()
        worker.request(_request(1))
        assert done.wait(5)
        assert model.fed and model.resets == 1
    finally:
        worker.close()
    assert not worker._thread.is_alive()
