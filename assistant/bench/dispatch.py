"""``measure_dispatch_error``: how close to its deadline a scheduler thread sends, here.

A micro-benchmark of :class:`assistant.live.scheduler.Scheduler` on a steady clock, alone or
beside a busy pure-Python or numpy thread (the GIL's switch interval and SCHED_FIFO
decide the figures). Runs the scheduler's own thread; the caller's thread waits.
"""

from __future__ import annotations

import sys
import threading

import mido

from ..clock import now_ns
from ..live.scheduler import Event, Scheduler, _percentiles_us


class _SteadyClock:
    """A running clock with a fixed short tick, for timing measurements only."""

    running = True

    def __init__(self, ns_per_tick: int):
        self.npt = ns_per_tick
        self.t0 = now_ns() + 50_000_000

    def now(self) -> int:
        return now_ns()

    def ns_at(self, tick: float) -> int:
        return self.t0 + round(tick * self.npt)

    def tick_at(self, ns: int) -> float:
        return (ns - self.t0) / self.npt


def measure_dispatch_error(
    events: int = 1000,
    interval_ms: float = 3.0,
    busy: str | None = None,
    rt_priority: int | None = 5,
    switch_interval_s: float | None = 0.0005,
    spin_ns: int = 500_000,
) -> dict[str, float]:
    """Dispatch error (send time minus deadline) of a real scheduler thread, in us.

    ``busy``: None (idle), "python" (a pure-Python loop in another thread, holding
    the GIL) or "numpy" (matrix products in another thread, GIL released). Takes
    about ``events * interval_ms`` ms. Restores the switch interval afterwards.
    Returns {"n", "p50_us", "p99_us", "max_us", "mean_us", "realtime", "busy"}.
    """
    old_switch = sys.getswitchinterval()
    clock = _SteadyClock(int(interval_ms * 1e6))
    sent: list[int] = []
    sched = Scheduler(clock, lambda msg: sent.append(now_ns()), spin_ns=spin_ns, rt_priority=rt_priority,
                      switch_interval_s=switch_interval_s, silence_on_stop=False, name="scheduler-bench")
    msg = mido.Message("control_change", control=1, value=0)
    sched.schedule([Event(i, msg) for i in range(events)], lane="bench")
    stop = threading.Event()
    worker = None
    if busy == "python":
        def spin() -> None:
            x = 0
            while not stop.is_set():
                for i in range(10_000):
                    x += i * i
        worker = threading.Thread(target=spin, daemon=True)
    elif busy == "numpy":
        import numpy as np

        def crunch() -> None:
            a = np.random.default_rng(0).random((300, 300))
            while not stop.is_set():
                a = (a @ a) / 300.0
        worker = threading.Thread(target=crunch, daemon=True)
    elif busy is not None:
        raise ValueError(f"busy must be None, 'python' or 'numpy', not {busy!r}")
    try:
        if worker:
            worker.start()
        sched.start()
        end = clock.ns_at(events) + 200_000_000
        while len(sent) < events and now_ns() < end:
            threading.Event().wait(0.05)
    finally:
        stop.set()
        sched.close()
        if worker:
            worker.join()
        sys.setswitchinterval(old_switch)
    errors = sorted(t - clock.ns_at(i) for i, t in enumerate(sent[:events]))
    out = _percentiles_us(errors)
    out.update(realtime=sched.realtime, busy=busy or "idle")
    return out
