"""Where the shipped files live: the ONNX models with their cards, and the TOML presets.

Any thread; reads nothing, only names folders. Installed from a wheel they are the
package data ``assistant/models`` and ``assistant/configs`` (pyproject maps the
top-level ``models/`` and ``configs/`` onto those packages). In a source checkout,
installed editable or not at all, they are those top-level folders themselves, which
is also where training writes a rebuilt model.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_ROOT = PACKAGE_DIR.parent


def shipped_dir(name: str) -> Path:
    """``assistant/NAME`` where a wheel put it, else the source tree's top-level ``NAME``."""
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else SOURCE_ROOT / name


MODELS_DIR = shipped_dir("models")
PRESETS_DIR = shipped_dir("configs")
