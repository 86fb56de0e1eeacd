"""Grade a folder of submissions: each in its own limited process, several at a time.

:func:`grade_folder` collects the submissions (:mod:`scalekit.grading.collect`), grades each
one that can be graded in a child process (:mod:`scalekit.grading.sandbox`), ``jobs`` at a
time, and returns one :class:`~scalekit.grading.results.Grade` per submission, in path order.
The result does not depend on ``jobs``: each job is independent and deterministic
(``PYTHONHASHSEED=0``, one BLAS thread), and rows are sorted, not appended as jobs finish.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .. import _check
from . import _args
from .collect import Submission, collect
from .results import Case, Grade, Question
from .sandbox import Limits, Outcome, resume, run, stop_all

__all__ = ["autograders", "possible_points", "grade_folder", "grade_outcome"]

_SYSTEM_EXIT = ("SystemExit", "KeyboardInterrupt")


def autograders(folder: Path) -> dict[str, Path]:
    """The autograder zips in ``folder`` by assignment (``NN_topic.zip`` → ``NN_topic``)."""
    folder = _args.folder("folder", folder)
    found = {p.stem: p for p in sorted(folder.glob("*.zip"))}
    if not found:
        raise _args.NothingThere(f"folder {str(folder)!r} holds no autograder zips; run "
                                 f"`make student` first to build them")
    return found


def possible_points(autograder: Path) -> dict[str, float]:
    """Each question's points possible, read from the tests in the autograder zip."""
    autograder = _args.file("autograder", autograder)
    import tempfile
    import zipfile

    from otter.nbmeta_config import NBMetadataConfig
    from otter.test_files import create_test_file

    with zipfile.ZipFile(autograder) as zf, tempfile.TemporaryDirectory() as tmp:
        names = [n for n in zf.namelist() if n.startswith("tests/") and n.endswith(".py")]
        zf.extractall(tmp, members=names)
        tests = {Path(n).stem: create_test_file(str(Path(tmp) / n), NBMetadataConfig())
                 for n in names}
    return {q: float(tests[q].possible) for q in sorted(tests, key=lambda q: (len(q), q))}


def _cell_note(error: dict, limits: Limits) -> str:
    where = f"`{error['cell']}`" if error["cell"] else "a cell"
    if error["ename"] == "MemoryError":
        return f"{where} ran out of memory (the limit is {limits.memory_gib:g} GiB)"
    if error["ename"] == "SystemExit":
        return (f"{where} called sys.exit() (in Jupyter it ends only that cell; grading went "
                f"on)")
    detail = f": {error['evalue']}" if error["evalue"] else ""
    return f"{where} raised {error['ename']}{detail}"


def grade_outcome(sub: Submission, table: str, possible: float, outcome: Outcome,
                  limits: Limits) -> Grade:
    """Turn what a grading job left into the submission's row (see results for statuses)."""
    _check.instance("sub", sub, Submission)
    _check.text("table", table, min_len=0)
    _check.non_negative("possible", possible)
    _check.instance("outcome", outcome, Outcome)
    _check.instance("limits", limits, Limits)
    row = dict(student=sub.student, submission=sub.relpath, assignment=table,
               possible=possible)
    where = f" while running `{outcome.last_cell}`" if outcome.last_cell else ""
    if outcome.timed_out == "startup":
        return Grade(**row, status="timeout", message=(
            f"the notebook had not started after {limits.startup_s:g} s of grader start-up "
            f"(a heavily loaded machine? try fewer jobs)"))
    if outcome.timed_out:
        return Grade(**row, status="timeout", message=(
            f"stopped after {limits.timeout_s:g} s (the --timeout-s limit){where}"))
    result = outcome.result
    if result is None:
        code = outcome.exit_code
        what = (f"killed by signal {-code}" if code is not None and code < 0
                else f"exited with code {code}")
        last = outcome.log_tail.strip().splitlines()[-1:] or [""]
        return Grade(**row, status="crashed",
                     message=f"the grader process {what}{where} {last[0]}".strip())
    if result["status"] != "graded":
        gone = (" (the notebook may have deleted files the grader needs)"
                if "No such file" in result["message"] else "")
        return Grade(**row, status=result["status"], message=result["message"] + where + gone)
    questions = tuple(
        Question(q["name"], q["points"], q["possible"],
                 tuple(Case(c["hidden"], c["passed"], c["message"], c["hint"])
                       for c in q["cases"]))
        for q in result["questions"])
    errors = result.get("cell_errors", [])
    notes = [_cell_note(e, limits) for e in errors]
    if outcome.output_limit:
        notes.insert(0, f"printed more than {outcome.output_limit} of output; the rest was "
                        f"dropped (--output-mib)")
    status = ("memory" if any(e["ename"] == "MemoryError" for e in errors) else
              "output-limit" if outcome.output_limit else
              "graded-with-errors" if errors else "graded")
    message = "; ".join(notes[:4]) + (f"; and {len(notes) - 4} more" if len(notes) > 4 else "")
    return Grade(**row, status=status, message=message, questions=questions)


def grade_folder(
    submissions: Path,
    autograder_dir: Path,
    *,
    notebook: str | None = None,
    jobs: int | None = None,
    limits: Limits | None = None,
    log: Callable[[str], None] = print,
) -> list[Grade]:
    """Grade every submission under ``submissions`` (recursively) against the zips in
    ``autograder_dir``; ``notebook`` restricts it to one assignment; ``jobs`` submissions
    at a time (default: the machine's cores)."""
    submissions = _args.folder("submissions", submissions)
    autograder_dir = _args.folder("autograder_dir", autograder_dir)
    _check.optional(_check.text, "notebook", notebook, meaning="every assignment")
    _check.optional(_check.integer, "jobs", jobs, low=1, high=256,
                    meaning="the machine's cores")
    _check.optional(_check.instance, "limits", limits, Limits, meaning="the default limits")
    _check.function("log", log)
    limits = limits or Limits()
    zips = autograders(autograder_dir)
    if notebook is not None and notebook not in zips:
        raise _args.UnknownName(f"no autograder for notebook {notebook!r} in {autograder_dir} "
                          f"(there are: {', '.join(zips)}); check the name, or run "
                          f"`make student` to build it")
    jobs = _check.integer("jobs", jobs if jobs is not None else (os.cpu_count() or 1),
                          low=1, high=256)
    subs = collect(submissions, list(zips), only=notebook)
    resume()
    totals = {a: possible_points(z) for a, z in zips.items()}

    def table(sub: Submission) -> str:
        return notebook or (sub.assignment if sub.assignment in zips else "")

    def grade(k: int, sub: Submission) -> Grade:
        name = table(sub)
        possible = float(sum(totals[name].values())) if name else 0.0
        if sub.problem:
            grade = Grade(sub.student, sub.relpath, name, sub.status, possible, sub.problem)
        else:
            outcome = run(sub.path, zips[sub.assignment], limits)
            grade = grade_outcome(sub, name, possible, outcome, limits)
        shown = grade.message if grade.status not in ("graded",) else ""
        log(f"[{k}/{len(subs)}] {sub.relpath}: {grade.total:g}/{grade.possible:g} "
            f"{grade.status}{f' — {shown}' if shown else ''}")
        return grade

    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        return list(pool.map(grade, range(1, len(subs) + 1), subs))
    except BaseException:  # Ctrl-C included: no queued job starts, no running one survives
        pool.shutdown(wait=False, cancel_futures=True)
        stop_all()
        raise
    finally:
        pool.shutdown(wait=True)
