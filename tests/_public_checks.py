"""A master notebook's public checks, run as ``grader.check`` runs them (issue 19 §2).

Otter turns each public test cell into doctest examples, one per top-level statement, and
prints a transcript for each that fails. So a public cell here sets up what cannot fail and
ends in ONE assert with a message; the tests built on this module check that

* an unanswered stub (otter leaves ``name = ...`` and function bodies of ``...``) fails with
  an AssertionError that says to replace the ``...`` — not a TypeError about 'ellipsis';
* a typical wrong answer (a neighbouring mistake) fails with a message naming what is wrong;
* the master's own solution passes.

:func:`shape_problems` checks that shape by ``ast`` (set-up that leaves the student's answers
alone, then one assert with a message); :func:`code_cells_using`, :func:`without_engines` and
:func:`run_cells` run a real-engine part of a notebook as a machine without the engines would.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
_CONFIG = re.compile(r'^""" # BEGIN TEST CONFIG\n(.*?)\n""" # END TEST CONFIG\n', re.S)


def notebook_cells(path: Path) -> list[dict]:
    """The notebook's cells, as stored."""
    return json.loads(Path(path).read_text())["cells"]


def cell_source(cell: dict) -> str:
    """A cell's text."""
    return "".join(cell["source"])


def public_test_cells(path: Path) -> dict[str, str]:
    """Question → the source of its one public test cell, in the master at ``path`` (the
    otter-assign format: a raw "# BEGIN QUESTION" cell names it, "# BEGIN TESTS" … "# END
    TESTS" hold its test cells, a hidden one says ``hidden: true``)."""
    found, question, in_tests = {}, None, False
    for cell in notebook_cells(path):
        text = cell_source(cell).strip()
        if cell["cell_type"] == "raw":
            if text.startswith("# BEGIN QUESTION"):
                question = text.split("name:")[1].split()[0]
            in_tests = text.startswith("# BEGIN TESTS") or (
                in_tests and not text.startswith("# END TESTS"))
        elif in_tests and cell["cell_type"] == "code" and "hidden: true" not in text:
            assert question not in found, f"{question}: one public test cell"
            found[question] = text
    return found


def public_tests(name: str) -> dict[str, tuple[str, str]]:
    """Question → (its public test cell's code without the config, the config's text)."""
    found = {}
    for question, text in public_test_cells(NOTEBOOKS / f"{name}.ipynb").items():
        match = _CONFIG.match(text + "\n")
        config = match.group(1) if match else ""
        found[question] = (text[match.end():] if match else text, config)
    return found


def statements(code: str) -> list[ast.stmt]:
    return ast.parse(code).body


def solutions(name: str, namespace: dict) -> dict:
    """The names the master's cells define when run in order up to each question's tests,
    skipping the slow and the showing ones: only the set-up, solution and the cells that
    define what the checks read (``keep`` is applied by the caller through ``namespace``)."""
    for source in solution_cells(NOTEBOOKS / f"{name}.ipynb"):
        exec(source, namespace)  # noqa: S102 — our own notebook
    return namespace


def run_check(code: str, namespace: dict) -> None:
    exec(compile(code, "<public test>", "exec"), dict(namespace))  # noqa: S102 — our own


def solution_cells(path: Path) -> list[str]:
    """The master's solution cells, in order."""
    stored = notebook_cells(path)
    return [cell_source(stored[i + 1]) for i, cell in enumerate(stored)
            if cell["cell_type"] == "raw" and cell_source(cell).startswith("# BEGIN SOLUTION")]


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


def code_cells_using(path: Path, name: str) -> list[str]:
    """The code cells (in order) that mention ``name`` — a real-engine part's cells."""
    return [cell_source(c) for c in notebook_cells(path)
            if c["cell_type"] == "code" and name in cell_source(c)]


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


def section_code_cells(path: Path, heading: str) -> list[tuple[str, str]]:
    """(cell id, source) of the code cells from the markdown cell that starts with
    ``heading`` to the next ``## `` heading."""
    out, inside = [], False
    for cell in notebook_cells(path):
        text = cell_source(cell)
        if cell["cell_type"] == "markdown" and text.startswith("## "):
            inside = text.startswith(heading)
        elif inside and cell["cell_type"] == "code":
            out.append((cell["id"], text))
    return out
