"""A normal (non-editable) install works: the wheel carries the models, their cards and
the presets, and the installed command finds them from any folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # from a clean copy: setuptools reuses an old build/ folder, which may hold what the
    # current configuration no longer ships
    source = out / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.so", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(source)],
                   check=True, capture_output=True, timeout=300)
    (found,) = out.glob("midi_assistant-*.whl")
    return found


def test_the_wheel_carries_models_cards_presets_and_the_daw_scripts(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"assistant/models/{p.name}" for p in (ROOT / "models").iterdir() if p.is_file()}
    shipped |= {f"assistant/configs/{p.name}" for p in (ROOT / "configs").glob("*.toml")}
    shipped |= {f"assistant/bench/{p.name}" for p in (ROOT / "assistant" / "bench").glob("*.lua")}
    assert any(name.endswith(".lua") for name in shipped)
    assert shipped and shipped <= names, sorted(shipped - names)


def test_installed_wheel_runs_demo_from_any_folder(wheel, tmp_path):
    """Installed beside nothing of the source tree (its own folder first on the path, run
    from an empty folder): the demo loads both models, checks their sha256 and answers."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "MIDI_ASSISTANT_CONFIG_DIR": str(tmp_path / "config")}
    where = subprocess.run([sys.executable, "-c", "import assistant.resources as r; print(r.MODELS_DIR)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert Path(where.stdout.strip()) == target / "assistant" / "models"
    demo = subprocess.run([sys.executable, "-m", "assistant.cli", "demo", "--harmony", "--bpm", "240",
                           "-o", str(tmp_path / "demo.mid")],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=180)
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "chords (bar:beat):" in demo.stdout
    assert (tmp_path / "demo.mid").stat().st_size > 0
