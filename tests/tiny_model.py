"""Test helpers: ``need`` imports an optional module, failing instead of skipping in CI.

The tiny-model fixture (``tiny_model_path``) lives in ``conftest.py``.
"""

import importlib
import os

import pytest


def need(module: str):
    """Import ``module``; skip without it, except in CI (CI=true), where its absence fails."""
    if os.environ.get("CI") == "true":
        return importlib.import_module(module)
    return pytest.importorskip(module)
