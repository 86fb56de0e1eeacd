"""The files a grading run writes: score tables, the gradebook, feedback, the summary.

Into the grades folder (``grades/`` by default), each rewritten whole on every run:

``NN_topic-scores.csv``
    one row per submission of the assignment — ``student, submission, <each question>,
    total, possible, percent, status, error``. ``possible`` is the assignment's total on every
    row; an error row has empty question columns and total 0.
``unassigned-scores.csv``
    submissions that belong to no assignment that was built (unreadable files, notebooks of
    none), when no ``--notebook`` was given.
``gradebook.csv``
    one row per student across every ``*-scores.csv`` in the folder — ``student, <each
    assignment's total>, total, possible, percent`` — for an LMS import. Grading one notebook
    again rewrites its table and the gradebook, and leaves the other notebooks' tables as
    they are.
``NN_topic-summary.md``
    for the instructor: per question, how many students earned its full points, hardest first.
``feedback/NN_topic/<student>.md``
    for each submission: its points per question, every public test's outcome and message,
    every hidden test's outcome with its error's last line only (never the test's code), and
    the test's hint (otter's ``failure_message``) where the master gives one.
"""

from __future__ import annotations

import csv
import re
import shutil
from collections import Counter
from pathlib import Path

from .. import _check
from . import _args
from .results import GRADED, Grade

__all__ = ["write_scores", "write_gradebook", "write_feedback", "write_summary",
           "write_reports", "UNASSIGNED"]

UNASSIGNED = "unassigned"
_FIXED = ("total", "possible", "percent", "status", "error")


def _num(x: float) -> str:
    return f"{x:g}"


def write_scores(grades: list[Grade], questions: list[str], path: Path) -> Path:
    """One assignment's score table (see the module docstring for the columns)."""
    grades = _args.items("grades", grades, Grade)
    questions = _args.names("questions", questions)
    path = _args.path("path", path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["student", "submission", *questions, *_FIXED])
        for g in grades:
            points = g.points
            graded = bool(g.questions)
            out.writerow([g.student, g.submission,
                          *((_num(points.get(q, 0.0)) if graded else "") for q in questions),
                          _num(g.total), _num(g.possible),
                          f"{g.percent:.1f}" if g.possible else "", g.status, g.message])
    tmp.replace(path)
    return path


def write_gradebook(folder: Path) -> Path:
    """One row per student from every ``*-scores.csv`` in ``folder`` (LMS import)."""
    folder = _args.folder("folder", folder)
    tables = sorted(p for p in folder.glob("*-scores.csv")
                    if p.name != f"{UNASSIGNED}-scores.csv")
    names = [p.name.removesuffix("-scores.csv") for p in tables]
    best: dict[str, dict[str, float]] = {}
    possible: dict[str, float] = {}
    for name, table in zip(names, tables, strict=True):
        with table.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                possible[name] = max(possible.get(name, 0.0), float(row["possible"] or 0))
                if row["status"] == "duplicate":
                    continue
                mine = best.setdefault(row["student"], {})
                mine[name] = max(mine.get(name, 0.0), float(row["total"] or 0))
    path = folder / "gradebook.csv"
    out_of = sum(possible.values())
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["student", *names, "total", "possible", "percent"])
        for student in sorted(best):
            mine = best[student]
            total = sum(mine.values())
            out.writerow([student, *(_num(mine[n]) if n in mine else "" for n in names),
                          _num(total), _num(out_of),
                          f"{100 * total / out_of:.1f}" if out_of else ""])
    return path


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _block(text: str) -> str:
    fence = "~~~~" if "```" in text else "```"
    return f"{fence}\n{text.rstrip()}\n{fence}"


def feedback_text(g: Grade) -> str:
    """One submission's feedback, in Markdown."""
    _check.instance("g", g, Grade)
    head = [f"# {g.assignment or 'Submission'} — feedback for {g.student}", "",
            f"Submission: `{g.submission}`", "",
            f"**Score: {_num(g.total)} / {_num(g.possible)}"
            + (f" ({g.percent:.1f}%)**" if g.possible else "**")]
    if g.status != "graded":
        head += ["", f"**What happened ({g.status}):** {g.message}"]
    if not g.questions:
        head += ["", "No question could be graded. Run the notebook from top to bottom in a "
                     "fresh kernel (*Kernel → Restart and run all*) before submitting it."]
        return "\n".join(head) + "\n"
    head += ["", "| question | points | possible |", "| --- | --- | --- |"]
    head += [f"| {q.name} | {_num(q.points)} | {_num(q.possible)} |" for q in g.questions]
    for q in g.questions:
        head += ["", f"## {q.name} — {_num(q.points)} / {_num(q.possible)}"]
        for kind in (False, True):
            cases = [c for c in q.cases if c.hidden is kind]
            for k, c in enumerate(cases, 1):
                label = f"{'hidden' if kind else 'public'} test {k}"
                head.append(f"- {label}: {'passed' if c.passed else 'failed'}")
                if not c.passed and c.message and kind:
                    head.append(f"  ({_md(c.message)})")
                elif not c.passed and c.message:
                    head += ["", _block(c.message), ""]
                if c.hint:
                    head.append(f"  *Hint:* {_md(c.hint)}")
    return "\n".join(head) + "\n"


def _safe(name: str) -> str:
    return re.sub(r"[^\w.@+-]+", "_", name).strip("._") or "student"


def write_feedback(grades: list[Grade], folder: Path) -> list[Path]:
    """One Markdown file per submission in ``folder`` (``<student>.md``, ``-2`` … for more)."""
    grades = _args.items("grades", grades, Grade)
    folder = _args.new_folder("folder", folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    seen: Counter[str] = Counter()
    written = []
    for g in grades:
        stem = _safe(g.student)
        seen[stem] += 1
        path = folder / (f"{stem}.md" if seen[stem] == 1 else f"{stem}-{seen[stem]}.md")
        path.write_text(feedback_text(g), encoding="utf-8")
        written.append(path)
    return written


def summary_rows(grades: list[Grade], questions: list[str]) -> list[tuple[str, int, int, float]]:
    """Per question: students with full points, students counted, mean points; hardest first.

    Every submission but a superseded duplicate counts; one that could not be graded counts
    as not passed.
    """
    grades = _args.items("grades", grades, Grade)
    questions = _args.names("questions", questions)
    counted = [g for g in grades if g.status != "duplicate"]
    rows = []
    for q in questions:
        got = [next((x for x in g.questions if x.name == q), None) for g in counted]
        passed = sum(1 for x in got if x is not None and x.passed)
        mean = sum(x.points for x in got if x is not None) / len(counted) if counted else 0.0
        rows.append((q, passed, len(counted), mean))
    return sorted(rows, key=lambda r: (r[1] / r[2] if r[2] else 0.0, r[0]))


def write_summary(grades: list[Grade], questions: list[str], possible: dict[str, float],
                  path: Path) -> Path:
    """The instructor's summary of one assignment (see the module docstring)."""
    grades = _args.items("grades", grades, Grade)
    questions = _args.names("questions", questions)
    possible = _args.points("possible", possible)
    path = _args.path("path", path)
    statuses = Counter(g.status for g in grades)
    graded = sum(statuses[s] for s in GRADED)
    lines = [f"# {path.name.removesuffix('-summary.md')} — summary", "",
             f"{len(grades)} submissions, {graded} graded to the end ("
             + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) + ").", "",
             "Per question, hardest first: students with full points (a submission that could "
             "not be graded counts as not passed).", "",
             "| question | full points | share | mean points | possible |",
             "| --- | --- | --- | --- | --- |"]
    for q, passed, counted, mean in summary_rows(grades, questions):
        share = f"{100 * passed / counted:.0f}%" if counted else "—"
        lines.append(f"| {q} | {passed}/{counted} | {share} | {mean:.2f} | "
                     f"{_num(possible.get(q, 0.0))} |")
    problems = [g for g in grades if g.status not in ("graded",)]
    if problems:
        lines += ["", "Submissions to look at:", ""]
        lines += [f"- `{g.submission}` ({g.student}): {g.status} — {_md(g.message)}"
                  for g in problems]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_reports(grades: list[Grade], points: dict[str, dict[str, float]],
                  folder: Path) -> list[Path]:
    """Every file of the module docstring for ``grades``; ``points`` are each assignment's
    questions and their points possible. Returns the score tables written."""
    grades = _args.items("grades", grades, Grade)
    if not isinstance(points, dict):
        raise TypeError(f"points must be a dict assignment → {{question: points}}, got "
                        f"{type(points).__name__}")
    for name, table in points.items():
        _args.points(f"points[{name!r}]", table)
    folder = _args.new_folder("folder", folder)
    tables = []
    for name in sorted({g.assignment for g in grades}):
        mine = [g for g in grades if g.assignment == name]
        label = name or UNASSIGNED
        questions = list(points.get(name, {}))
        tables.append(write_scores(mine, questions, folder / f"{label}-scores.csv"))
        write_feedback(mine, folder / "feedback" / label)
        if name:
            write_summary(mine, questions, points.get(name, {}),
                          folder / f"{label}-summary.md")
    write_gradebook(folder)
    return tables
