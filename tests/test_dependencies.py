"""Every package that the tests or the package import is declared in ``pyproject.toml``.

A test module that imports a package installed only by hand on one machine passes there
and fails on every fresh one (``hypothesis`` did). This reads every ``import`` (and every
``pytest.importorskip("...")``) in ``tests/`` and ``assistant/`` with ``ast`` and checks
that each top-level name is the standard library, the project itself, or provided by a
distribution that ``pyproject.toml`` declares: a run-time dependency for the run-time
package, the run-time ones or any extra for the tests and the training code.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _normalise(re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0])


# extras that the run-time package uses where a user asks for them (--audio), imported
# only there, with one line naming the install when missing
RUN_TIME_EXTRAS = ("audio", "link", "plot", "hotkey")


def declared_distributions(pyproject: Path) -> tuple[set[str], set[str]]:
    """(run-time dependencies and run-time extras, those plus every extra), as normalised names."""
    project = tomllib.loads(pyproject.read_text())["project"]
    extras = project.get("optional-dependencies", {})
    runtime = {_requirement_name(r) for r in project.get("dependencies", [])}
    runtime |= {_requirement_name(r) for extra in RUN_TIME_EXTRAS for r in extras.get(extra, [])}
    everything = set(runtime)
    for requirements in project.get("optional-dependencies", {}).values():
        everything |= {_requirement_name(r) for r in requirements}
    return runtime, everything


def imported_top_names(path: Path) -> set[str]:
    """Top-level names of the absolute imports in one file, importorskip's included."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "importorskip"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names.add(node.args[0].value.split(".")[0])
    return names


def undeclared_imports(files: list[Path], declared: set[str], local: set[str]) -> list[str]:
    """One line per import that is neither the standard library, local, nor declared."""
    providers = metadata.packages_distributions()
    problems = []
    for path in files:
        for name in sorted(imported_top_names(path)):
            if name in sys.stdlib_module_names or name in local:
                continue
            dists = {_normalise(d) for d in providers.get(name, [])}
            shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            if not dists:
                problems.append(f"{shown}: imports '{name}', which no installed distribution provides: "
                                f"declare it in pyproject.toml")
            elif not dists & declared:
                problems.append(f"{shown}: imports '{name}' (distribution {', '.join(sorted(dists))}), which "
                                f"pyproject.toml does not declare: add it to the dependencies or to an extra")
    return problems


def _local_names() -> set[str]:
    return {"assistant"} | {p.stem for p in (ROOT / "tests").rglob("*.py")}


def test_every_package_the_tests_import_is_declared():
    _, everything = declared_distributions(ROOT / "pyproject.toml")
    files = sorted((ROOT / "tests").rglob("*.py"))
    assert files
    assert undeclared_imports(files, everything, _local_names()) == []


def test_the_training_code_imports_only_declared_packages():
    _, everything = declared_distributions(ROOT / "pyproject.toml")
    files = sorted((ROOT / "assistant" / "train").rglob("*.py"))
    assert files
    assert undeclared_imports(files, everything, {"assistant"}) == []


def test_the_run_time_package_imports_only_run_time_dependencies():
    runtime, _ = declared_distributions(ROOT / "pyproject.toml")
    train = ROOT / "assistant" / "train"
    files = sorted(p for p in (ROOT / "assistant").rglob("*.py") if not p.is_relative_to(train))
    assert files
    assert undeclared_imports(files, runtime, {"assistant"}) == []


def test_an_undeclared_import_is_named(tmp_path):
    probe = tmp_path / "test_probe.py"
    probe.write_text("import os\nimport pytest\nfrom hypothesis import given\nimport assistant.cli\n"
                     "def test_x():\n    pytest.importorskip('numpy')\n")
    problems = undeclared_imports([probe], {"pytest"}, {"assistant"})
    assert len(problems) == 2
    assert "'hypothesis'" in problems[0] and "does not declare" in problems[0]
    assert "'numpy'" in problems[1]
    assert undeclared_imports([probe], {"pytest", "hypothesis", "numpy"}, {"assistant"}) == []


def test_requirement_names_are_read_as_pip_reads_them():
    assert _requirement_name("torch==2.13.0") == "torch"
    assert _requirement_name("python-rtmidi>=1.5") == "python-rtmidi"
    assert _requirement_name("Foo_Bar[extra] ; python_version>'3'") == "foo-bar"
