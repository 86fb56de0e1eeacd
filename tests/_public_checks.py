"""A master notebook's public checks, run as ``grader.check`` runs them (issue 19 §2).

Otter turns each public test cell into doctest examples, one per top-level statement, and
prints a transcript for each that fails. So a public cell here sets up what cannot fail and
ends in ONE assert with a message; the tests built on this module check that

* an unanswered stub (otter leaves ``name = ...`` and function bodies of ``...``) fails with
  an AssertionError that says to replace the ``...`` — not a TypeError about 'ellipsis';
* a typical wrong answer (a neighbouring mistake) fails with a message naming what is wrong;
* the master's own solution passes.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
_CONFIG = re.compile(r'^""" # BEGIN TEST CONFIG\n(.*?)\n""" # END TEST CONFIG\n', re.S)


def _cells(name: str) -> list[dict]:
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def public_test_cells(path: Path) -> dict[str, str]:
    """Question → the source of its one public test cell, in the master at ``path`` (the
    otter-assign format: a raw "# BEGIN QUESTION" cell names it, "# BEGIN TESTS" … "# END
    TESTS" hold its test cells, a hidden one says ``hidden: true``)."""
    found, question, in_tests = {}, None, False
    for cell in json.loads(Path(path).read_text())["cells"]:
        text = _source(cell).strip()
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
    cells = _cells(name)
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "raw" and _source(cell).startswith("# BEGIN SOLUTION"):
            exec(_source(cells[i + 1]), namespace)  # noqa: S102 — our own notebook
    return namespace


def run_check(code: str, namespace: dict) -> None:
    exec(compile(code, "<public test>", "exec"), dict(namespace))  # noqa: S102 — our own
