"""A tiny otter-assign master (two questions over scalekit.theory) and submissions made from
it, for the grading tests: built with the kit's own build, it grades in seconds, where a
real master takes half a minute."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from scalekit import grading

ROOT = Path(__file__).resolve().parent.parent
TINY = "99_tiny"
HINT = "latency_ms is in milliseconds, W = 1/(mu - lambda) in seconds times 1000"


def _install_cell() -> str:
    """The masters' install cell (the first code cell of notebook 01)."""
    nb = nbformat.read(ROOT / "notebooks" / "01_servers.ipynb", as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code")


def tiny_master(folder: Path) -> Path:
    """Write the tiny master into ``folder`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    cells = [
        new_raw_cell("# ASSIGNMENT CONFIG\nname: 99_tiny\ninit_cell: true\ngenerate: true"),
        new_markdown_cell("# 99 · Tiny\n\n<!-- launch -->\nA two-question check of the kit."),
        new_code_cell(_install_cell()),
        new_code_cell("from scalekit import theory"),
        new_raw_cell("# BEGIN QUESTION\nname: q1\npoints: 2"),
        new_markdown_cell("**Exercise 1.** The M/M/1 mean latency at 80 of 100 requests/s, "
                          "in ms."),
        new_raw_cell("# BEGIN SOLUTION"),
        new_code_cell("latency_ms = theory.mm1_sojourn_s(80, 100) * 1000  # SOLUTION"),
        new_raw_cell("# END SOLUTION"),
        new_raw_cell("# BEGIN TESTS"),
        new_code_cell(f'""" # BEGIN TEST CONFIG\nfailure_message: {HINT}\n""" '
                      f'# END TEST CONFIG\n'
                      "assert isinstance(latency_ms, float), 'latency_ms must be a float'"),
        new_code_cell('""" # BEGIN TEST CONFIG\nhidden: true\n""" # END TEST CONFIG\n'
                      "assert abs(latency_ms - 50.0) < 1e-6, 'not the M/M/1 latency'"),
        new_raw_cell("# END TESTS"),
        new_raw_cell("# END QUESTION"),
        new_raw_cell("# BEGIN QUESTION\nname: q2\npoints: 3"),
        new_markdown_cell("**Exercise 2.** Write `utilisation(rate_rps, capacity_rps)`."),
        new_raw_cell("# BEGIN SOLUTION"),
        new_code_cell("def utilisation(rate_rps, capacity_rps):\n    # BEGIN SOLUTION\n"
                      "    return rate_rps / capacity_rps\n    # END SOLUTION"),
        new_raw_cell("# END SOLUTION"),
        new_raw_cell("# BEGIN TESTS"),
        new_code_cell("assert utilisation(50, 100) == 0.5"),
        new_code_cell('""" # BEGIN TEST CONFIG\nhidden: true\n""" # END TEST CONFIG\n'
                      "assert utilisation(80, 100) == 0.8  # the hidden check"),
        new_raw_cell("# END TESTS"),
        new_raw_cell("# END QUESTION"),
        new_markdown_cell("## Summary\n\nDone."),
    ]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    path = folder / f"{TINY}.ipynb"
    nbformat.write(nb, path)
    return path


def build_tiny(tmp: Path, *, run_tests: bool = True) -> grading.Built:
    """Build the tiny master's student version and autograder under ``tmp``."""
    master = tiny_master(tmp / "masters")
    [built] = grading.build_student(master.parent, tmp / "student", tmp / "work",
                                    instructor=tmp / "instructor", kit_root=ROOT,
                                    run_tests=run_tests, log=lambda m: None)
    return built


def answered(built: grading.Built, q1: str | None, q2: str | None,
             extra: list[str] = (), at: int = -1) -> nbformat.NotebookNode:
    """The student notebook with the answer cells replaced (None keeps the stub) and
    ``extra`` code cells inserted before index ``at`` (before the export cells)."""
    nb = nbformat.read(built.student, as_version=4)
    answers = [c for c in nb.cells if "otter_answer_cell" in c.metadata.get("tags", [])]
    for cell, source in zip(answers, (q1, q2), strict=True):
        if source is not None:
            cell.source = source
    export = next(k for k, c in enumerate(nb.cells) if "grader.export" in c.source)
    where = export - 1 if at == -1 else at
    for k, source in enumerate(extra):
        nb.cells.insert(where + k, new_code_cell(source))
    return nb


SOLVED = ("latency_ms = theory.mm1_sojourn_s(80, 100) * 1000",
          "def utilisation(rate_rps, capacity_rps):\n    return rate_rps / capacity_rps")


def write(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def export_zip(nb, path: Path) -> Path:
    """A zip shaped like the one ``grader.export()`` writes: the notebook and a log."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{TINY}.ipynb", json.dumps(nbformat.from_dict(nb)))
    return path


def copy_solved(built: grading.Built, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(built.solutions, path)
    return path
