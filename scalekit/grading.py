"""Build student notebooks and grade submissions with otter-grader — no Docker needed.

For instructors. The notebooks in ``notebooks/`` are otter-assign *masters* (solutions and
hidden tests included). Two commands:

``python -m scalekit.grading assign`` (``make student``)
    runs ``otter assign`` on every master. Out come ``student/NN_topic.ipynb`` — solutions
    replaced by ``...``, a ``grader.check("qN")`` cell after each exercise, public tests inside
    — and ``student/autograder/NN_topic.zip``, the autograder with every test. otter's full
    output (including the solution notebooks) stays in ``build/otter/``.

``python -m scalekit.grading grade SUBMISSIONS --notebook NN_topic`` (``make grade``)
    grades every ``.ipynb`` in the folder SUBMISSIONS with otter's own grader, run in this
    Python (``otter.api.grade_submission``: the same code ``otter run`` uses, without a
    container), and writes ``grades/NN_topic-scores.csv``: one row per submission, one column
    per question, then total, possible and percent. A submission that cannot be graded (not
    a notebook, broken JSON) gets a row with its error instead of stopping the run.

Grading executes the students' code: run it on submissions you are willing to execute, or
inside a container (``otter grade``) if you are not.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["build_student", "grade_folder", "Score", "main"]

def _root() -> Path:
    """The kit's folder: where the command runs (make and Binder run from there)."""
    return Path.cwd()


@dataclass(frozen=True)
class Score:
    """One graded submission: points per question, or the error that stopped grading."""

    submission: str
    points: dict[str, float] = field(default_factory=dict)
    possible: dict[str, float] = field(default_factory=dict)
    error: str = ""

    @property
    def total(self) -> float:
        return float(sum(self.points.values()))

    @property
    def out_of(self) -> float:
        return float(sum(self.possible.values()))


def masters(notebooks: Path) -> list[Path]:
    """The master notebooks (NN_topic.ipynb) in ``notebooks``."""
    found = sorted(p for p in notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no master notebooks (NN_topic.ipynb) in {notebooks}")
    return found


def build_student(
    notebooks: Path | None = None,
    out: Path | None = None,
    work: Path | None = None,
    *,
    run_tests: bool = True,
    only: str | None = None,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Run ``otter assign`` on every master; return the student notebooks written.

    With ``run_tests`` otter also runs every test against the solutions and fails if any
    does not pass — a master whose own tests fail never reaches students.
    """
    root = _root()
    notebooks = Path(notebooks or root / "notebooks").resolve()
    out = Path(out or root / "student").resolve()
    work = Path(work or root / "build" / "otter").resolve()
    chosen = [m for m in masters(notebooks) if only in (None, m.stem)]
    if not chosen:
        raise FileNotFoundError(f"no master notebook named {only!r} in {notebooks}")
    (out / "autograder").mkdir(parents=True, exist_ok=True)
    written = []
    for k, master in enumerate(chosen, 1):
        log(f"[{k}/{len(chosen)}] otter assign {master.name}")
        result = work / master.stem
        shutil.rmtree(result, ignore_errors=True)
        cmd = [sys.executable, "-m", "otter", "assign", str(master), str(result)]
        if not run_tests:
            cmd.append("--no-run-tests")
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=master.parent)
        if done.returncode != 0:
            raise RuntimeError(
                f"otter assign failed for {master.name} (exit {done.returncode}):\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        student_nb = result / "student" / master.name
        zips = sorted((result / "autograder").glob("*.zip"))
        if not student_nb.exists() or not zips:
            raise RuntimeError(f"otter assign wrote no student notebook/autograder for {master}")
        shutil.copy2(student_nb, out / master.name)
        shutil.copy2(zips[-1], out / "autograder" / f"{master.stem}.zip")
        written.append(out / master.name)
    return written


def grade_folder(
    submissions: Path,
    autograder: Path,
    *,
    log: Callable[[str], None] = print,
) -> list[Score]:
    """Grade every ``.ipynb`` in ``submissions`` against the ``autograder`` zip."""
    from otter.api import grade_submission  # heavy; only instructors need it

    submissions, autograder = Path(submissions), Path(autograder)
    if not submissions.is_dir():
        raise NotADirectoryError(f"submissions must be a folder of notebooks: {submissions}")
    if not autograder.is_file():
        raise FileNotFoundError(
            f"no autograder at {autograder}; run `make student` first to build it")
    files = sorted(submissions.glob("*.ipynb"))
    if not files:
        raise FileNotFoundError(f"no .ipynb submissions in {submissions}")
    scores = []
    for k, path in enumerate(files, 1):
        log(f"[{k}/{len(files)}] grading {path.name}")
        scores.append(_grade_one(path, autograder, grade_submission))
    return scores


def _grade_one(path: Path, autograder: Path, grade_submission) -> Score:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Score(path.name, error=f"not a readable notebook: {exc}")
    try:
        results = grade_submission(str(path), str(autograder), quiet=True)
    except Exception as exc:  # noqa: BLE001 — one bad submission must not stop the class
        return Score(path.name, error=f"{type(exc).__name__}: {exc}")
    points = {q: float(r.score) for q, r in results.results.items()}
    possible = {q: float(r.possible) for q, r in results.results.items()}
    return Score(path.name, points, possible)


def write_csv(scores: list[Score], path: Path) -> Path:
    """One row per submission: each question's points, total, possible, percent, error."""
    questions = sorted({q for s in scores for q in s.possible},
                       key=lambda q: (len(q), q))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["submission", *questions, "total", "possible", "percent", "error"])
        for s in scores:
            pct = f"{100 * s.total / s.out_of:.1f}" if s.out_of else ""
            writer.writerow([s.submission, *(s.points.get(q, "") for q in questions),
                             s.total, s.out_of, pct, s.error])
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scalekit.grading", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("assign", help="build student notebooks and autograder zips")
    a.add_argument("--notebooks", type=Path, default=Path("notebooks"))
    a.add_argument("--out", type=Path, default=Path("student"))
    a.add_argument("--only", help="one master, e.g. 01_servers")
    a.add_argument("--no-run-tests", action="store_true",
                   help="skip running the tests against the solutions")
    g = sub.add_parser("grade", help="grade a folder of submitted notebooks into a CSV")
    g.add_argument("submissions", type=Path)
    g.add_argument("--notebook", required=True, help="which assignment, e.g. 01_servers")
    g.add_argument("--student-dir", type=Path, default=Path("student"))
    g.add_argument("--out", type=Path, default=Path("grades"))
    args = parser.parse_args(argv)
    try:
        if args.command == "assign":
            for path in build_student(args.notebooks, args.out, only=args.only,
                                      run_tests=not args.no_run_tests):
                print(f"wrote {path}")
            return 0
        zip_path = args.student_dir / "autograder" / f"{args.notebook}.zip"
        scores = grade_folder(args.submissions, zip_path)
        csv_path = write_csv(scores, args.out / f"{args.notebook}-scores.csv")
    except (FileNotFoundError, NotADirectoryError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for s in scores:
        shown = s.error or f"{s.total:g}/{s.out_of:g}"
        print(f"  {s.submission:<40} {shown}")
    print(f"wrote {csv_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
