"""The one shape every benchmark figure is reported in: median and 99th percentile."""

from __future__ import annotations

import numpy as np


def p50_p99(values) -> dict | None:
    """``{"p50", "p99", "n"}`` of ``values`` (in the unit they come in, rounded to 3
    decimals), or None when there are none."""
    if len(values) == 0:
        return None
    a = np.asarray(values, dtype=np.float64)
    return {"p50": round(float(np.percentile(a, 50)), 3), "p99": round(float(np.percentile(a, 99)), 3), "n": len(a)}
