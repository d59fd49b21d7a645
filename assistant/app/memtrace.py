"""Where the assistant's Python memory lives: ``tracemalloc`` sites, for the soak bench.

Started by ``run --trace-memory`` (traceback depth 1: the allocating line, cheapest
tracing). :func:`top_sites` takes a snapshot, so it holds the GIL for a while (about
10-50 ms with a few hundred thousand live blocks): the runner's main thread calls it
once a minute, never the engine, the scheduler or a MIDI thread.
"""

from __future__ import annotations

import tracemalloc

SITES = 15  # the biggest allocation sites reported


def start() -> None:
    tracemalloc.start(1)


def top_sites(limit: int = SITES) -> dict | None:
    """Traced memory now: total MB and the ``limit`` biggest sites ("file:line": KB); None if off."""
    if not tracemalloc.is_tracing():
        return None
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    stats = snapshot.statistics("lineno")
    current, peak = tracemalloc.get_traced_memory()
    sites = {f"{s.traceback[0].filename.rsplit('/site-packages/', 1)[-1]}:{s.traceback[0].lineno}": round(s.size / 1024, 1)
             for s in stats[:limit]}
    return {"traced_mb": round(current / 2**20, 2), "traced_peak_mb": round(peak / 2**20, 2), "sites_kb": sites}


def growth(before: dict | None, after: dict | None, limit: int = 8) -> list[tuple[str, float]]:
    """The sites that grew most from ``before`` to ``after`` (both from :func:`top_sites`), in KB."""
    if not before or not after:
        return []
    old = before["sites_kb"]
    grown = [(site, round(kb - old.get(site, 0.0), 1)) for site, kb in after["sites_kb"].items()]
    return sorted((g for g in grown if g[1] > 0), key=lambda g: -g[1])[:limit]
