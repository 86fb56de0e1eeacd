"""A notebook's public checks as a student meets them (issue 19 §2), for the notebook tests.

``grader.check("qN")`` runs a public test cell as doctest examples, one per top-level
statement (otter's ``str_to_doctest``), and prints a transcript per failing example. So a
public cell is set-up that cannot fail (imports, assignments of constants, ``def``) and then
ONE ``assert`` with a message, which must

* fail an unanswered stub (otter leaves ``name = ...`` and function bodies of ``...``) with a
  message that says to replace the ``...`` — not a TypeError about 'ellipsis';
* fail a typical wrong answer (a neighbouring mistake) with a message naming what is wrong;
* pass the master's own solution.

The cells' code runs directly, in a namespace like the notebook's.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from _public_checks import public_test_cells

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def public_tests(path: Path) -> dict[str, str]:
    """Question name → the source of its one public test cell."""
    return public_test_cells(path)


def solution_cells(path: Path) -> list[str]:
    """The master's solution cells, in order."""
    cells = _cells(path)
    return [_source(cells[i + 1]) for i, cell in enumerate(cells)
            if cell["cell_type"] == "raw" and _source(cell).startswith("# BEGIN SOLUTION")]


def shape_problems(source: str, answers: set[str]) -> list[str]:
    """Why a public cell could print more than one message (empty when it cannot): anything
    but set-up that leaves the student's ``answers`` (names) alone, then one assert."""
    body = ast.parse(source).body
    problems = []
    if not (body and isinstance(body[-1], ast.Assert) and body[-1].msg is not None):
        problems.append("the last statement must be one assert with a message")
    for node in body[:-1]:
        if not isinstance(node, ast.Import | ast.ImportFrom | ast.Assign | ast.FunctionDef):
            problems.append(f"line {node.lineno}: {type(node).__name__} before the assert")
            continue
        if isinstance(node, ast.FunctionDef):
            continue  # defining a function runs none of it
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        if used & answers:
            problems.append(f"line {node.lineno}: set-up uses the answer "
                            f"{sorted(used & answers)} (it could fail before the assert)")
    return problems


def defined_names(sources: list[str]) -> set[str]:
    """The names the solution cells bind (classes, functions, variables)."""
    names = set()
    for source in sources:
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def run(source: str, namespace: dict) -> None:
    exec(compile(source, "<public test>", "exec"), dict(namespace))  # noqa: S102 — our own notebook


def code_cells_using(path: Path, name: str) -> list[str]:
    """The code cells (in order) that mention ``name`` — a real-engine part's cells."""
    return [_source(c) for c in _cells(path) if c["cell_type"] == "code" and name in _source(c)]


def without_engines(monkeypatch) -> None:
    """Make this machine one with no engine wheel and nothing on PATH: every ``find_*``
    raises EngineUnavailable with its real sentence."""
    from scalekit.engines import wheels

    monkeypatch.setattr(wheels, "wheel_files", lambda pin: None)
    monkeypatch.setattr(wheels.shutil, "which", lambda name: None)


def run_cells(sources: list[str], namespace: dict) -> list:
    """Run notebook cells in one namespace; returns what they passed to ``display``."""
    shown = []
    namespace.setdefault("display", lambda *objects: shown.extend(objects))
    for source in sources:
        exec(compile(source, "<notebook cell>", "exec"), namespace)  # noqa: S102
    return shown
