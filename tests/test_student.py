"""The exercise pipeline, end to end: build student versions with otter assign, run them as a
student would, and grade a solved and an unsolved submission with otter's own grader.

An exercise that passes unsolved is a defect; so is a master whose solutions fail its tests
(otter assign runs every test against the solutions and refuses to build if one fails).
"""

import csv
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from scalekit import grading

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
MASTERS = grading.masters(ROOT / "notebooks")


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("student")


_BUILT: dict[str, Path] = {}


def _build(out: Path, master: Path) -> Path:
    """Build one master's student version once per worker. Each master's tests are one
    class, and ``make test`` distributes by class (``--dist loadscope``), so the builds of
    different masters run on both workers rather than in a row on one."""
    if master.stem not in _BUILT:
        written = grading.build_student(ROOT / "notebooks", out, out / "otter",
                                        only=master.stem, log=lambda m: None)
        assert [p.name for p in written] == [master.name]
        _BUILT[master.stem] = written[0]
    return _BUILT[master.stem]


def _questions(master: Path) -> list[str]:
    nb = nbformat.read(master, as_version=4)
    names = []
    for cell in nb.cells:
        if cell.cell_type == "raw" and cell.source.startswith("# BEGIN QUESTION"):
            names.append(cell.source.split("name:")[1].split()[0])
    return names


class StudentPipeline:
    """One master's pipeline; a subclass per master sets ``master`` (see the end)."""

    master: Path

    def test_master_builds_with_its_solutions_passing(self, out):
        _check_builds(out, self.master)

    def test_student_version_hides_solutions_and_hidden_tests(self, out):
        _check_hidden(out, self.master)

    def test_student_version_runs_top_to_bottom_and_every_stub_fails(self, out, tmp_path):
        _check_runs(out, self.master, tmp_path)


def _check_builds(out, master):
    assert _build(out, master).is_file()
    assert (out / "autograder" / f"{master.stem}.zip").is_file()
    assert len(_questions(master)) >= 4, f"{master.name}: at least 4 graded exercises"


def _check_hidden(out, master):
    _build(out, master)
    text = (out / master.name).read_text()
    nb = nbformat.reads(text, as_version=4)
    sources = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "# SOLUTION" not in sources and "BEGIN SOLUTION" not in sources
    assert "hidden: true" not in text
    for q in _questions(master):
        assert f'grader.check("{q}")' in sources, f"no check cell for {q}"
    # a solution line from the master must not survive
    master_nb = nbformat.read(master, as_version=4)
    solution_lines = [line.split("#")[0].strip() for c in master_nb.cells
                      if c.cell_type == "code" for line in c.source.splitlines()
                      if line.rstrip().endswith("# SOLUTION")]
    for line in solution_lines:
        assert line not in sources, f"solution leaked: {line}"


def _check_runs(out, master, tmp_path):
    _build(out, master)
    work = tmp_path / master.stem
    work.mkdir()
    shutil.copy(out / master.name, work / master.name)
    nb = nbformat.read(work / master.name, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(work)}}).execute()
    checks = [c for c in nb.cells if c.cell_type == "code" and "grader.check(" in c.source]
    assert len(checks) == len(_questions(master))
    for cell in checks:
        shown = json.dumps(cell.outputs)
        assert "failed" in shown.lower(), f"an unsolved exercise passed: {cell.source}"
        assert "All test cases passed" not in shown


def _check_grading(out, tmp_path):
    master = MASTERS[0]
    _build(out, master)
    subs = tmp_path / "submissions"
    subs.mkdir()
    shutil.copy(out / "otter" / master.stem / "autograder" / master.name, subs / "solved.ipynb")
    shutil.copy(out / master.name, subs / "unsolved.ipynb")
    (subs / "broken.ipynb").write_text("{ this is not a notebook")
    # one exercise answered: the student version's first answer cell, filled in by hand
    partial = nbformat.read(out / master.name, as_version=4)
    first = next(c for c in partial.cells if "otter_answer_cell" in c.metadata.get("tags", []))
    first.source = _first_answer(master)
    nbformat.write(partial, subs / "partial.ipynb")
    code = grading.main(["grade", str(subs), "--notebook", master.stem,
                         "--student-dir", str(out), "--out", str(tmp_path / "grades")])
    assert code == 0
    with open(tmp_path / "grades" / f"{master.stem}-scores.csv", newline="") as fh:
        rows = {r["submission"]: r for r in csv.DictReader(fh)}
    questions = _questions(master)
    assert set(rows) == {"solved.ipynb", "unsolved.ipynb", "broken.ipynb", "partial.ipynb"}
    solved, unsolved, broken = rows["solved.ipynb"], rows["unsolved.ipynb"], rows["broken.ipynb"]
    partial = rows["partial.ipynb"]
    assert float(partial[questions[0]]) == float(solved[questions[0]]) > 0
    assert all(float(partial[q]) == 0.0 for q in questions[1:])
    assert float(solved["percent"]) == 100.0 and float(solved["possible"]) > 0
    assert all(float(unsolved[q]) == 0.0 for q in questions)
    assert float(unsolved["total"]) == 0.0 and float(unsolved["possible"]) == float(
        solved["possible"])
    assert "not a readable notebook" in broken["error"]


def _first_answer(master: Path) -> str:
    """The solution of the master's first exercise, with otter's solution markers removed."""
    nb = nbformat.read(master, as_version=4)
    cells = iter(nb.cells)
    for cell in cells:
        if cell.cell_type == "raw" and cell.source.startswith("# BEGIN SOLUTION"):
            code = next(cells).source
            return "\n".join(line.replace("# SOLUTION", "").rstrip()
                             for line in code.splitlines()
                             if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line)
    raise AssertionError(f"{master.name} has no solution cell")


def test_grading_without_an_autograder_says_what_to_do(tmp_path):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "a.ipynb").write_text("{}")
    with pytest.raises(FileNotFoundError, match="make student"):
        grading.grade_folder(tmp_path / "subs", tmp_path / "missing.zip")
    assert grading.main(["grade", str(tmp_path / "subs"), "--notebook", "01_servers",
                         "--student-dir", str(tmp_path)]) == 2


class GradingChecks:
    """otter's grader on the first master's submissions (runs with that master's class)."""

    def test_grading_scores_solved_unsolved_and_broken(self, out, tmp_path):
        _check_grading(out, tmp_path)


for _k, _master in enumerate(MASTERS):
    _bases = (StudentPipeline, GradingChecks) if _k == 0 else (StudentPipeline,)
    _name = "TestStudent_" + _master.stem
    globals()[_name] = type(_name, _bases, {"master": _master})
