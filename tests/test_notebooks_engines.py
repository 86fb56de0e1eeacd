"""Cells that start real servers (PostgreSQL, HAProxy, nginx, Valkey) are for the student
to watch, not for the grader to run: each is tagged ``otter_ignore`` (otter-grader leaves
such cells out when it grades a submission — otter/execute/preprocessor.py,
``IGNORE_CELL_TAG``), as is every later cell that uses what they made, and no graded cell
depends on them. So grading 200 submissions starts no server at all, and a machine without
the engines grades the same. The browser tests run these cells in the masters.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TAG = "otter_ignore"
#: Modules whose functions start a real server.
ENGINE_MODULES = ("scalekit.engines", "scalekit.balancing.engines", "scalekit.sessions.engines",
                  "scalekit.caching.engines", "scalekit.replication.postgres",
                  "scalekit.partitioning.postgres", "scalekit.views.balancing.engines",
                  "scalekit.views.sessions.engines", "scalekit.views.caching.engines")


def _source(cell) -> str:
    code = "".join(cell["source"])
    return "\n".join(line for line in code.splitlines()
                     if not line.lstrip().startswith(("%", "!")))


def _names(tree: ast.AST) -> tuple[set[str], set[str], set[str]]:
    """(names bound, names used, names bound by importing an engine module)."""
    bound, used, engine = set(), set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else used).add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                if full in ENGINE_MODULES or node.module in ENGINE_MODULES:
                    engine.add(a.asname or a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name in ENGINE_MODULES:
                    engine.add(a.asname or a.name)
    return bound, used, engine


def engine_cells(cells: list[dict]) -> set[int]:
    """Indices of the code cells that use an engine module, or (transitively) a name only
    such cells made."""
    derived: set[str] = set()
    found: set[int] = set()
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        try:
            tree = ast.parse(_source(cell))
        except SyntaxError:
            continue
        bound, used, engine = _names(tree)
        if engine or used & derived:
            found.add(i)
            derived |= engine | bound
        else:
            derived -= bound  # rebound by an ordinary cell: no longer the engine's
    return found


def _graded(cell) -> bool:
    text = _source(cell)
    return "grader.check" in text or "# BEGIN QUESTION" in text or "otter_answer_cell" in \
        cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_cells_that_start_real_servers_are_left_out_of_grading(path):
    cells = json.loads(path.read_text())["cells"]
    found = engine_cells(cells)
    untagged = [i for i in sorted(found) if TAG not in cells[i]["metadata"].get("tags", [])]
    assert not untagged, f"{path.stem}: cells {untagged} use a real server: tag them {TAG}"
    graded = [i for i in sorted(found) if _graded(cells[i])]
    assert not graded, f"{path.stem}: graded cells {graded} depend on a real server"


def test_the_scan_follows_what_an_engine_cell_made():
    def code(text):
        return {"cell_type": "code", "source": text, "metadata": {}}
    cells = [code("from IPython.display import display\nx = 1"),
             code("from scalekit.replication import postgres as pg\nlag = pg.measure_lag()"),
             code("print(lag)"),          # uses what the engine cell made
             code("display(x)"),          # ordinary
             code("lag = 3"),             # rebinds it: ordinary from here on
             code("print(lag)")]
    assert engine_cells(cells) == {1, 2}
