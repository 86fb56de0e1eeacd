"""Test distribution for ``pytest -n 2 --dist loadgroup`` (what ``make test`` runs).

Each test file, and each notebook nbval runs, is one group: it stays on one worker, so its
module fixtures are built once and a notebook keeps its kernel from cell to cell. The student
pipeline is the exception: its tests are grouped per master notebook, so the otter builds and
student runs of different notebooks share out over both workers instead of queueing on one.
"""

from pathlib import Path

import pytest

# the grading test uses the first master, so it joins that master's group
_NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
MASTERS_FIRST = sorted(_NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))[0].stem


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        group = item.nodeid.split("::")[0]
        if group.endswith("test_student.py"):
            callspec = getattr(item, "callspec", None)
            master = callspec.params.get("master") if callspec else None
            if master is not None:
                group = f"{group}[{master.stem}]"
            elif "grading_scores" in item.name:
                group = f"{group}[{MASTERS_FIRST}]"
        item.add_marker(pytest.mark.xdist_group(group))

