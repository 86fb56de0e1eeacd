"""The exercise pipeline, end to end, on the real masters: build the student distribution and
the autograders with otter assign, check that the student side holds no solution and no
hidden test, run each student version as a student would (under a renamed file name), and
grade solved, partly solved, unsolved and broken submissions with otter's own grader.

An exercise that passes unsolved is a defect; so is a master whose solutions fail its tests
(otter assign runs every test against the solutions and refuses to build if one fails).
"""

import csv
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from scalekit import grading

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
MASTERS = grading.masters(ROOT / "notebooks")
#: The master whose submissions the whole-class grading checks grade: each check runs it
#: several times over, so it is one of the quickest to run top to bottom.
GRADED = next(m for m in MASTERS if m.stem == "03_sessions")


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("build")


_BUILT: dict[str, grading.Built] = {}


def _build(out: Path, master: Path) -> grading.Built:
    """Build one master's student version once per worker. Each master's tests are one
    class, and ``make test`` distributes by class (``--dist loadscope``), so the builds of
    different masters run on both workers rather than in a row on one."""
    if master.stem not in _BUILT:
        built = grading.build_student(ROOT / "notebooks", out / "student", out / "work",
                                      instructor=out / "instructor", kit_root=ROOT,
                                      only=master.stem, log=lambda m: None)
        assert [b.student.name for b in built] == [master.name]
        _BUILT[master.stem] = built[0]
    return _BUILT[master.stem]


def _questions(master: Path) -> list[str]:
    nb = nbformat.read(master, as_version=4)
    names = []
    for cell in nb.cells:
        if cell.cell_type == "raw" and cell.source.startswith("# BEGIN QUESTION"):
            names.append(cell.source.split("name:")[1].split()[0])
    return names


def _secrets(master: Path) -> tuple[list[str], list[str]]:
    """The master's solution lines and hidden-test assert lines: long enough to be its own,
    not an import, and not also in what students see (a public test that repeats an assert,
    instructions that quote the call to make)."""
    nb = nbformat.read(master, as_version=4)
    solutions, hidden, shown, block = [], [], [], None
    for cell in nb.cells:
        if cell.cell_type == "raw":
            text = cell.source.strip()
            block = ("solution" if text.startswith("# BEGIN SOLUTION") else
                     "tests" if text.startswith("# BEGIN TESTS") else
                     None if text.startswith(("# END SOLUTION", "# END TESTS")) else block)
            continue
        if cell.cell_type != "code":
            shown.append(cell.source)  # markdown students read (instructions may quote code)
            continue
        lines = [line.split("#")[0].strip() for line in cell.source.splitlines()]
        if block == "solution":
            inside = False
            for raw, line in zip(cell.source.splitlines(), lines, strict=True):
                marker = raw.strip()
                inside = (True if marker == "# BEGIN SOLUTION" else
                          False if marker == "# END SOLUTION" else inside)
                if (inside or raw.rstrip().endswith("# SOLUTION")) and len(line) >= 16:
                    solutions.append(line)
        elif block == "tests" and "hidden: true" in cell.source:
            hidden += [line for line in lines if line.startswith("assert") and len(line) >= 16]
        else:
            shown.append(cell.source)  # public tests and ordinary cells: students see these
    seen = "\n".join(shown)
    return ([x for x in solutions if x not in seen and not x.startswith(("import ", "from "))],
            [x for x in hidden if x not in seen])


class StudentPipeline:
    """One master's pipeline; a subclass per master sets ``master`` (see the end)."""

    master: Path

    def test_master_builds_with_its_solutions_passing(self, out):
        _check_builds(out, self.master)

    def test_student_side_holds_no_solution_and_no_hidden_test(self, out):
        _check_student_side(out, self.master)

    def test_renamed_student_version_runs_checks_fail_and_it_exports(self, out, tmp_path):
        _check_runs(out, self.master, tmp_path)


def _check_builds(out, master):
    built = _build(out, master)
    assert built.student.is_file() and built.autograder.is_file()
    assert built.student.parent == out / "student" / "notebooks"
    assert len(_questions(master)) >= 4, f"{master.name}: at least 4 graded exercises"
    with zipfile.ZipFile(built.autograder) as zf:
        names = set(zf.namelist())
    # Gradescope runs setup.sh and run_autograder from the zip's root (otter docs, "Grading
    # on Gradescope"); otter_config.json names the assignment it accepts
    assert {"setup.sh", "run_autograder", "environment.yml", "otter_config.json"} <= names
    assert {f"tests/{q}.py" for q in _questions(master)} <= names
    assert any(re.fullmatch(r"files/scalekit_course-.*-py3-none-any\.whl", n) for n in names)


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [s for v in value for s in _strings(v)] if isinstance(value, list) else []


def _text(path: Path) -> str:
    """A file's text; for a notebook, every string in its JSON, decoded (so quotes match)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return ""
    return "\n".join(_strings(json.loads(text))) if path.suffix == ".ipynb" else text


def _text_files(folder: Path):
    for path in folder.rglob("*"):
        if path.is_file():
            yield path, _text(path)


def _check_student_side(out, master):
    built = _build(out, master)
    dist = out / "student"
    for name in ("README.md", "Makefile", "postBuild", "environment.yml", "pyproject.toml",
                 "scalekit/__init__.py"):
        assert (dist / name).is_file(), f"the student distribution lacks {name}"
    assert not list(dist.rglob("*.zip")), "an autograder zip in the student distribution"
    nb = nbformat.read(built.student, as_version=4)
    sources = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "# SOLUTION" not in sources and "BEGIN SOLUTION" not in sources
    assert "hidden: true" not in built.student.read_text()
    for q in _questions(master):
        assert f'grader.check("{q}")' in sources, f"no check cell for {q}"
    assert "grader.export(" in nb.cells[-2].source + nb.cells[-1].source, "no export cell"
    solutions, hidden = _secrets(master)
    assert solutions and hidden, f"{master.name}: no solution or hidden test found to look for"
    solved = _text(built.solutions)  # the scan finds them where they are
    assert all(line in solved for line in solutions)
    for path, text in _text_files(dist):
        rel = path.relative_to(dist)
        for line in hidden:
            assert line not in text, f"hidden test in {rel}: {line}"
        if rel.parts[0] == "scalekit":
            continue  # the kit's models: exercises re-derive what they compute, by design
        for line in solutions:
            assert line not in text, f"solution line in {rel}: {line}"


def _check_runs(out, master, tmp_path):
    built = _build(out, master)
    work = tmp_path / master.stem
    work.mkdir()
    renamed = work / f"{master.stem}-Copy1.ipynb"
    shutil.copy(built.student, renamed)
    nb = nbformat.read(renamed, as_version=4)
    # The cells that start real servers keep their otter_ignore tag in the student version
    # (so grading skips them); they are left out here too — the browser tests run them, in
    # the master, where they are the same cells (tests/test_notebooks_engines.py).
    master_ignored = sum("otter_ignore" in c.metadata.get("tags", [])
                         for c in nbformat.read(master, as_version=4).cells)
    kept = [c for c in nb.cells if "otter_ignore" not in c.metadata.get("tags", [])]
    assert len(nb.cells) - len(kept) == master_ignored, "otter_ignore tags lost in the build"
    nb.cells = kept
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(work)}}).execute()
    errors = [(c.source[:60], o.get("ename")) for c in nb.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == [], f"cells raised in the renamed student version: {errors}"
    checks = [c for c in nb.cells if c.cell_type == "code" and "grader.check(" in c.source]
    assert len(checks) == len(_questions(master))
    for cell in checks:
        shown = json.dumps(cell.outputs)
        assert "failed" in shown.lower(), f"an unsolved exercise passed: {cell.source}"
        assert "All test cases passed" not in shown
    [export] = work.glob(f"{master.stem}-Copy1_*.zip")
    with zipfile.ZipFile(export) as zf:
        assert f"{master.stem}-Copy1.ipynb" in zf.namelist()


def _check_grading(out, tmp_path):
    master = GRADED
    built = _build(out, master)
    subs = tmp_path / "submissions"
    (subs / "ada").mkdir(parents=True)
    shutil.copy(built.solutions, subs / "ada" / "renamed by the LMS.ipynb")
    shutil.copy(built.student, subs / f"unsolved-{master.stem}.ipynb")
    (subs / "broken.ipynb").write_text("{ this is not a notebook")
    # one exercise answered: the student version's first answer cell, filled in by hand
    partial = nbformat.read(built.student, as_version=4)
    first = next(c for c in partial.cells if "otter_answer_cell" in c.metadata.get("tags", []))
    first.source = _first_answer(master)
    nbformat.write(partial, subs / "partial.ipynb")
    grades = tmp_path / "grades"
    code = grading.main(["grade", str(subs), "--notebook", master.stem, "--autograders",
                         str(built.autograder.parent), "--out", str(grades), "-j", "2"])
    assert code == 0
    with open(grades / f"{master.stem}-scores.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames[:2] == ["student", "submission"]
        rows = {r["student"]: r for r in reader}
    questions = _questions(master)
    assert set(rows) == {"ada", "unsolved", "broken", "partial"}
    solved, unsolved, broken = rows["ada"], rows["unsolved"], rows["broken"]
    partial = rows["partial"]
    assert float(partial[questions[0]]) == float(solved[questions[0]]) > 0
    assert all(float(partial[q]) == 0.0 for q in questions[1:])
    assert float(solved["percent"]) == 100.0 and float(solved["possible"]) > 0
    assert solved["status"] == "graded", solved["error"]
    assert all(float(unsolved[q]) == 0.0 for q in questions)
    assert float(unsolved["total"]) == 0.0 and unsolved["possible"] == solved["possible"]
    assert "not a readable notebook" in broken["error"] and broken["status"] == "unreadable"
    assert broken["possible"] == solved["possible"], "possible is filled on error rows"
    assert {p.stem for p in (grades / "feedback" / master.stem).glob("*.md")} == set(rows)
    with open(grades / "gradebook.csv", newline="") as fh:
        book = {r["student"]: r for r in csv.DictReader(fh)}
    assert float(book["ada"][master.stem]) == float(solved["total"])


def _check_publish(out, tmp_path, monkeypatch):
    _build(out, GRADED)
    repo = tmp_path / "course"
    for key in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(key, "Instructor")
    for key in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(key, "i@example.edu")
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=60)
    commit, new = grading.publish(out / "student", repo, "student")
    files = subprocess.run(["git", "-C", str(repo), "ls-tree", "-r", "--name-only", commit],
                           capture_output=True, text=True, check=True).stdout.split()
    assert new and f"notebooks/{GRADED.name}" in files and "postBuild" in files
    assert not [f for f in files if f.endswith(".zip") or f.startswith(("instructor", "work"))]


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


def test_grading_without_an_autograder_says_what_to_do(tmp_path, capsys):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "a.ipynb").write_text("{}")
    (tmp_path / "zips").mkdir()
    with pytest.raises(FileNotFoundError, match="make student"):
        grading.grade_folder(tmp_path / "subs", tmp_path / "zips")
    assert grading.main(["grade", str(tmp_path / "subs"), "--notebook", "01_servers",
                         "--autograders", str(tmp_path / "zips")]) == 2
    assert "make student" in capsys.readouterr().err


class GradingChecks:
    """:data:`GRADED`'s submissions graded, and its distribution published (runs with that
    master's class)."""

    def test_grading_scores_solved_partial_unsolved_and_broken(self, out, tmp_path):
        _check_grading(out, tmp_path)

    def test_publishing_the_student_side_commits_no_instructor_file(self, out, tmp_path,
                                                                    monkeypatch):
        _check_publish(out, tmp_path, monkeypatch)


for _master in MASTERS:
    _bases = (StudentPipeline, GradingChecks) if _master == GRADED else (StudentPipeline,)
    _name = "TestStudent_" + _master.stem
    globals()[_name] = type(_name, _bases, {"master": _master})
