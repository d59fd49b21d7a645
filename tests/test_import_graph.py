"""The package's import graph: no cycles, and the live path never loads the training stack.

Every import counts, also those inside functions (a cycle hidden in a function-level
import is still a cycle for a reader). Read with ``ast``, so nothing is imported.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "assistant"


def module_files() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """{module: the package's modules it imports}, relative and absolute imports alike."""
    files = module_files()
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in files else source for a in node.names]
            graph[name] |= {t for t in targets if t in files and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 30 and graph["assistant.app.runner"]  # the reader sees the package
    assert cycles(graph) == []


def test_only_the_bench_command_reaches_into_the_benchmarks():
    """The rig and the benchmarks measure the product: no run-time module imports them."""
    graph = import_graph()
    assert "assistant.bench.rig" in graph
    reaching = {name for name, targets in graph.items()
                if not name.startswith("assistant.bench") and any(t.startswith("assistant.bench") for t in targets)}
    assert reaching == {"assistant.commands.bench"}


def test_a_cycle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]


def test_the_live_path_never_loads_the_training_stack(tmp_path):
    """The demo runs the live engine (models, lanes, scheduler, ports): after it, no
    torch, music21 or training module was loaded, nor the audio stack (PortAudio, the
    SoundFont synth) that only ``--audio`` and ``--wav`` need."""
    code = ("import sys; from assistant.cli import main; "
            f"main(['demo', '--harmony', '--bpm', '240', '-o', {str(tmp_path / 'demo.mid')!r}]); "
            "print('loaded:', ' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'music21', 'sounddevice', 'tinysoundfont') "
            "or m.startswith('assistant.train') or m.startswith('assistant.audio'))))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's package, run from elsewhere
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "demo.mid").exists()
    assert done.stdout.splitlines()[-1].split() == ["loaded:"]


def test_the_layer_contracts_hold():
    """import-linter's contracts in pyproject.toml: commands -> app -> live -> midi ->
    clock -> music, never upwards; the run time never imports training, evaluation,
    benchmarks, torch or music21."""
    tool = Path(sys.executable).with_name("lint-imports")
    assert tool.exists(), "lint-imports is missing: install the dev extra (pip install -e '.[dev]')"
    done = subprocess.run([str(tool), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
    assert "3 kept, 0 broken" in done.stdout
