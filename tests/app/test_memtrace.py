"""The soak's memory sites (assistant.app.memtrace): what grew, and where."""

import sys
import tracemalloc

from assistant.app import memtrace


def _here() -> int:
    return sys._getframe(1).f_lineno


def test_sites_are_none_while_tracing_is_off_and_growth_of_nothing_is_empty():
    was = tracemalloc.is_tracing()
    if was:
        tracemalloc.stop()
    try:
        assert memtrace.top_sites() is None
        assert memtrace.growth(None, {"sites_kb": {"a:1": 5.0}}) == []
    finally:
        if was:
            tracemalloc.start()


def test_the_site_that_grows_is_named_with_its_growth():
    memtrace.start()
    try:
        before = memtrace.top_sites(limit=200)
        line = _here() + 1
        kept = [bytearray(4096) for _ in range(256)]  # about 1 MB allocated on one line
        after = memtrace.top_sites(limit=200)
        assert after["traced_mb"] >= before["traced_mb"] + 0.9
        site, kb = memtrace.growth(before, after)[0]
        assert site.endswith(f"test_memtrace.py:{line}") and kb > 900, (site, kb)
        del kept
    finally:
        tracemalloc.stop()


def test_growth_keeps_only_what_grew_biggest_first():
    before = {"sites_kb": {"a:1": 10.0, "b:2": 50.0}}
    after = {"sites_kb": {"a:1": 30.0, "b:2": 40.0, "c:3": 5.0}}
    assert memtrace.growth(before, after) == [("a:1", 20.0), ("c:3", 5.0)]
